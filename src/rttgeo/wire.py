"""The rttgeo landmark wire format, version 1 (pure functions, no I/O; documented in docs/serve.md
and, for the signed challenge-response, docs/verify.md).

Every message, big-endian::

    offset size  field
    0      4     magic  b"RTGL"
    4      1     version (1)
    5      1     type: 1 ECHO_REQUEST, 2 ECHO_REPLY, 3 CHALLENGE_REQUEST (host to landmark),
                 4 CHALLENGE_REPLY (landmark to host); 5-255 reserved
    6      2     flags: bit 0 SIGN (reserved: ask for a signed reply); other bits reserved, sent 0,
                 ignored on receipt
    8      16    nonce: chosen at random by the client, echoed unchanged in the reply
    24     8     ECHO_REPLY only: lat_e7, lon_e7 as signed 32-bit integers (degrees x 1e7, 1.1 cm)
    24     20    types 3 and 4 only: op (1 byte), code (1 byte, ERROR replies), round (2 bytes),
                 session id (16 bytes); see :class:`HostOp`, :class:`LandmarkOp`
    ..     ..    TLVs to the end: type (1 byte), length (2 bytes), value

TLV types: 0 PAD (any bytes, ignored), 1 SERVER_ID (UTF-8, 1-64 bytes, replies only),
2 TURNAROUND (replies only: 4-byte unsigned ns from the kernel's receive stamp of the request
to just before the reply is sent, saturating at 2**32-1; lets a client that trusts the server
subtract the server's own wake-up and processing time), and in types 3 and 4 only: 0x40 CHALLENGE
(the landmark's 32-byte nonce), 0x41 SIGNATURE (64-byte Ed25519 signature), 0x42 KEY_ID (32-byte
Ed25519 public key), 0x43 RECEIPT (a signed receipt, :mod:`rttgeo.receipt`), 0x44
VERIFIER_CHALLENGE (32 bytes the host binds into its receipts). Types with the high bit set
(0x80-0xFF) are *critical*: a receiver that does not know one drops the message; unknown types
below 0x80 are skipped (kept in :attr:`Message.extra`).

No amplification: a request must be at least :data:`MIN_REQUEST_SIZE` bytes (clients pad with a
PAD TLV) and a server never sends a reply longer than the request it answers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from rttgeo.errors import InputError

#: UDP (and TCP) port of rttgeo landmark servers unless configured otherwise: unassigned in IANA's
#: service name and port number registry (the block 8810-8872), below Linux's ephemeral range
#: (32768-60999) so an outgoing connection never holds it; 8848 m is the height of Everest.
#: (It replaced 4789, IANA's VXLAN port, and the lab's 4242.)
DEFAULT_PORT = 8848

__all__ = [
    "CHALLENGE_HEADER_SIZE",
    "DEFAULT_PORT",
    "FLAG_SIGN",
    "HEADER_SIZE",
    "MAGIC",
    "MAX_DATAGRAM_SIZE",
    "MAX_SERVER_ID_BYTES",
    "MIN_REQUEST_SIZE",
    "RECEIPT_REQUEST_SIZE",
    "SESSION_ID_SIZE",
    "VERSION",
    "ChallengeError",
    "ChallengeMessage",
    "HostOp",
    "LandmarkOp",
    "Message",
    "MsgType",
    "Tlv",
    "WireFormatError",
    "decode",
    "decode_challenge",
    "echo_reply",
    "echo_request",
    "encode",
    "encode_challenge",
    "peek_type",
    "turnaround_tlv",
]

MAGIC = b"RTGL"
VERSION = 1
FLAG_SIGN = 0x0001
HEADER_SIZE = 24
NONCE_SIZE = 16
#: Requests shorter than this are dropped: it exceeds the largest v1 reply (24 + 8 + 67 + 7 = 106).
MIN_REQUEST_SIZE = 128
#: Largest datagram either side accepts (fits the IPv6 minimum MTU 1280 with IP and UDP headers).
MAX_DATAGRAM_SIZE = 1232
MAX_SERVER_ID_BYTES = 64

_HEADER = struct.Struct(">4sBBH16s")
_POSITION = struct.Struct(">ii")
_TLV = struct.Struct(">BH")
_U32 = struct.Struct(">I")
_E7 = 10_000_000


class MsgType(IntEnum):
    """Message types of version 1 (3 and 4: the signed challenge-response, docs/verify.md)."""

    ECHO_REQUEST = 1
    ECHO_REPLY = 2
    CHALLENGE_REQUEST = 3
    CHALLENGE_REPLY = 4


class Tlv(IntEnum):
    """TLV types of version 1 (0x40-0x44 in challenge messages only; >= 0x80 critical)."""

    PAD = 0x00
    SERVER_ID = 0x01
    TURNAROUND = 0x02
    CHALLENGE = 0x40
    SIGNATURE = 0x41
    KEY_ID = 0x42
    RECEIPT = 0x43
    VERIFIER_CHALLENGE = 0x44


_KNOWN_TLVS = frozenset(int(t) for t in Tlv)


class WireFormatError(InputError):
    """A datagram is not a valid v1 message; ``reason`` is a short machine-readable tag."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, field=reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded message. ``lat_e7``/``lon_e7`` are set on replies only (degrees x 1e7)."""

    type: int
    nonce: bytes
    flags: int = 0
    lat_e7: int | None = None
    lon_e7: int | None = None
    server_id: str = ""
    extra: tuple[tuple[int, bytes], ...] = ()
    turnaround_ns: int | None = None

    @property
    def lat_deg(self) -> float | None:
        return None if self.lat_e7 is None else self.lat_e7 / _E7

    @property
    def lon_deg(self) -> float | None:
        return None if self.lon_e7 is None else self.lon_e7 / _E7


def _to_e7(value_deg: float, limit_deg: float, name: str) -> int:
    if not (-limit_deg <= value_deg <= limit_deg):  # also rejects NaN
        raise ValueError(f"{name} {value_deg} outside [-{limit_deg}, {limit_deg}]")
    return round(value_deg * _E7)


def echo_request(nonce: bytes, *, flags: int = 0) -> Message:
    """An ECHO_REQUEST message; encode it with ``encode(msg, pad_to=MIN_REQUEST_SIZE)``."""
    return Message(MsgType.ECHO_REQUEST, nonce, flags)


def echo_reply(nonce: bytes, lat_deg: float, lon_deg: float, server_id: str = "") -> Message:
    """An ECHO_REPLY carrying the server's position (rounded to 1e-7 degree) and id."""
    return Message(
        MsgType.ECHO_REPLY,
        nonce,
        0,
        _to_e7(lat_deg, 90.0, "lat_deg"),
        _to_e7(lon_deg, 180.0, "lon_deg"),
        server_id,
    )


def encode(msg: Message, *, pad_to: int = 0) -> bytes:
    """Bytes of ``msg``; a PAD TLV brings it to at least ``pad_to`` bytes. Raises ValueError."""
    if len(msg.nonce) != NONCE_SIZE:
        raise ValueError(f"nonce must be {NONCE_SIZE} bytes")
    if not (0 <= msg.type <= 255 and 0 <= msg.flags <= 0xFFFF):
        raise ValueError("type or flags out of range")
    parts = [_HEADER.pack(MAGIC, VERSION, msg.type, msg.flags, msg.nonce)]
    if msg.type == MsgType.ECHO_REPLY:
        if msg.lat_e7 is None or msg.lon_e7 is None:
            raise ValueError("an ECHO_REPLY needs lat_e7 and lon_e7")
        parts.append(_POSITION.pack(msg.lat_e7, msg.lon_e7))
    if msg.server_id:
        sid = msg.server_id.encode()
        if len(sid) > MAX_SERVER_ID_BYTES:
            raise ValueError(f"server_id longer than {MAX_SERVER_ID_BYTES} bytes")
        parts.append(_TLV.pack(Tlv.SERVER_ID, len(sid)) + sid)
    if msg.turnaround_ns is not None:
        parts.append(turnaround_tlv(msg.turnaround_ns))
    for kind, value in msg.extra:
        parts.append(_TLV.pack(kind, len(value)) + value)
    out = b"".join(parts)
    if len(out) < pad_to:
        pad_len = max(0, pad_to - len(out) - _TLV.size)
        out += _TLV.pack(Tlv.PAD, pad_len) + bytes(pad_len)
    if len(out) > MAX_DATAGRAM_SIZE:
        raise ValueError(f"message longer than {MAX_DATAGRAM_SIZE} bytes")
    return out


def turnaround_tlv(turnaround_ns: int) -> bytes:
    """The TURNAROUND TLV for ``turnaround_ns`` (clamped to [0, 2**32-1])."""
    return _TLV.pack(Tlv.TURNAROUND, 4) + _U32.pack(min(max(turnaround_ns, 0), 0xFFFFFFFF))


def decode(data: bytes) -> Message:
    """Parse one datagram; raises only :class:`WireFormatError` (``reason`` says why)."""
    n = len(data)
    if n < HEADER_SIZE:
        raise WireFormatError("short", f"datagram of {n} bytes is shorter than the header")
    if n > MAX_DATAGRAM_SIZE:
        raise WireFormatError("long", f"datagram of {n} bytes exceeds {MAX_DATAGRAM_SIZE}")
    magic, version, kind, flags, nonce = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise WireFormatError("magic", "not an rttgeo datagram (bad magic)")
    if version != VERSION:
        raise WireFormatError("version", f"unsupported version {version}")
    if kind not in (MsgType.ECHO_REQUEST, MsgType.ECHO_REPLY):
        raise WireFormatError("type", f"message type {kind} is not an echo (challenge messages: "
                              "decode_challenge)" if kind in _CHALLENGE_TYPES
                              else f"unsupported message type {kind}")
    pos = HEADER_SIZE
    lat_e7 = lon_e7 = None
    if kind == MsgType.ECHO_REPLY:
        if n < pos + _POSITION.size:
            raise WireFormatError("truncated", "reply without position")
        lat_e7, lon_e7 = _POSITION.unpack_from(data, pos)
        if not (-90 * _E7 <= lat_e7 <= 90 * _E7 and -180 * _E7 <= lon_e7 <= 180 * _E7):
            raise WireFormatError("position", "position out of range")
        pos += _POSITION.size
    server_id = ""
    seen_id = False
    turnaround_ns: int | None = None
    extra: list[tuple[int, bytes]] = []
    while pos < n:
        if n - pos < _TLV.size:
            raise WireFormatError("truncated", "truncated TLV header")
        t, length = _TLV.unpack_from(data, pos)
        pos += _TLV.size
        if length > n - pos:
            raise WireFormatError("truncated", f"TLV {t} longer than the datagram")
        value = bytes(data[pos : pos + length])
        pos += length
        if t == Tlv.PAD:
            continue
        if t == Tlv.SERVER_ID:
            if seen_id or kind != MsgType.ECHO_REPLY or not 1 <= length <= MAX_SERVER_ID_BYTES:
                raise WireFormatError("server_id", "misplaced, duplicate or oversized SERVER_ID")
            try:
                server_id = value.decode()
            except UnicodeDecodeError:
                raise WireFormatError("server_id", "SERVER_ID is not UTF-8") from None
            seen_id = True
        elif t == Tlv.TURNAROUND:
            if turnaround_ns is not None or kind != MsgType.ECHO_REPLY or length != 4:
                raise WireFormatError("turnaround", "misplaced, duplicate or bad TURNAROUND")
            (turnaround_ns,) = _U32.unpack(value)
        elif t >= 0x80 and t not in _KNOWN_TLVS:
            raise WireFormatError("critical", f"unknown critical TLV {t}")
        else:
            extra.append((t, value))
    return Message(
        int(kind), bytes(nonce), flags, lat_e7, lon_e7, server_id, tuple(extra), turnaround_ns
    )


# -- the signed challenge-response (types 3 and 4; docs/verify.md) ----------------------------------
_CHALLENGE_TYPES = (MsgType.CHALLENGE_REQUEST, MsgType.CHALLENGE_REPLY)
_CHALLENGE_FIXED = struct.Struct(">BBH16s")
#: Header plus the fixed part of a challenge message (op, code, round, session id).
CHALLENGE_HEADER_SIZE = HEADER_SIZE + _CHALLENGE_FIXED.size
SESSION_ID_SIZE = 16
#: A host pads its RECEIPT request to this size: the largest RECEIPT reply is 44 + 3 + 281 = 328.
RECEIPT_REQUEST_SIZE = 384


class HostOp(IntEnum):
    """What a CHALLENGE_REQUEST (host to landmark) asks for."""

    OPEN = 1  # open a session: KEY_ID (host key), VERIFIER_CHALLENGE; round = rounds wanted
    ANSWER = 2  # answer the current nonce: CHALLENGE (that nonce), SIGNATURE; round = its index
    NEXT = 3  # "your nonce was lost": send a fresh one (the old one is void)
    RECEIPT = 4  # send the receipt (request padded to RECEIPT_REQUEST_SIZE)


class LandmarkOp(IntEnum):
    """What a CHALLENGE_REPLY (landmark to host) carries."""

    NONCE = 1  # CHALLENGE: a fresh nonce for round ``round`` (and KEY_ID in reply to OPEN)
    DONE = 2  # every round answered: ask for the RECEIPT
    RECEIPT = 3  # RECEIPT: the signed receipt; round = rounds answered
    ERROR = 4  # ``code`` says why (ChallengeError)


class ChallengeError(IntEnum):
    """``code`` of an ERROR reply."""

    BAD_REQUEST = 1  # a field is out of range (e.g. rounds)
    BAD_KEY = 2  # the host key is not acceptable (small order, non-canonical)
    UNKNOWN_SESSION = 3  # no such session (never opened, expired, or from another address)
    STALE_NONCE = 4  # the answer is not for the current nonce (replayed or late)
    BAD_SIGNATURE = 5  # the answer's signature does not verify under the session's host key
    NOT_DONE = 6  # a receipt asked for before every round was answered
    BUSY = 7  # too many open sessions


_OPS = {MsgType.CHALLENGE_REQUEST: frozenset(HostOp), MsgType.CHALLENGE_REPLY: frozenset(LandmarkOp)}
_TLV_SIZES = {Tlv.CHALLENGE: 32, Tlv.SIGNATURE: 64, Tlv.KEY_ID: 32, Tlv.VERIFIER_CHALLENGE: 32}
_REQUIRED = {
    (MsgType.CHALLENGE_REQUEST, HostOp.OPEN): (Tlv.KEY_ID, Tlv.VERIFIER_CHALLENGE),
    (MsgType.CHALLENGE_REQUEST, HostOp.ANSWER): (Tlv.CHALLENGE, Tlv.SIGNATURE),
    (MsgType.CHALLENGE_REPLY, LandmarkOp.NONCE): (Tlv.CHALLENGE,),
    (MsgType.CHALLENGE_REPLY, LandmarkOp.RECEIPT): (Tlv.RECEIPT,),
}
#: Largest receipt (rttgeo.receipt.MAX_RECEIPT_SIZE; not imported: wire stays a leaf).
_MAX_RECEIPT = 281


@dataclass(frozen=True, slots=True)
class ChallengeMessage:
    """One message of the challenge-response; byte fields are empty when absent."""

    type: int
    op: int
    nonce: bytes  # header nonce: the host's request id, echoed by the landmark
    session_id: bytes = bytes(SESSION_ID_SIZE)
    round: int = 0
    code: int = 0
    challenge: bytes = b""  # CHALLENGE TLV
    signature: bytes = b""  # SIGNATURE TLV
    key: bytes = b""  # KEY_ID TLV
    receipt: bytes = b""  # RECEIPT TLV
    verifier_challenge: bytes = b""  # VERIFIER_CHALLENGE TLV
    extra: tuple[tuple[int, bytes], ...] = ()


def peek_type(data: bytes) -> int | None:
    """The message type of a datagram that starts with the v1 magic and version, else None."""
    if len(data) < HEADER_SIZE or data[:4] != MAGIC or data[4] != VERSION:
        return None
    return data[5]


def encode_challenge(msg: ChallengeMessage, *, pad_to: int = 0) -> bytes:
    """Bytes of a challenge message; a PAD TLV brings it to ``pad_to``. Raises ValueError."""
    if msg.type not in _CHALLENGE_TYPES or msg.op not in _OPS[MsgType(msg.type)]:
        raise ValueError(f"type {msg.type} op {msg.op} is not a challenge message")
    if len(msg.nonce) != NONCE_SIZE or len(msg.session_id) != SESSION_ID_SIZE:
        raise ValueError("nonce and session id must be 16 bytes")
    if not (0 <= msg.round <= 0xFFFF and 0 <= msg.code <= 255):
        raise ValueError("round or code out of range")
    parts = [
        _HEADER.pack(MAGIC, VERSION, msg.type, 0, msg.nonce),
        _CHALLENGE_FIXED.pack(msg.op, msg.code, msg.round, msg.session_id),
    ]
    # CHALLENGE first: a NONCE reply always has it at offset 44 (the prover's fast path)
    for kind, value in (
        (Tlv.CHALLENGE, msg.challenge),
        (Tlv.SIGNATURE, msg.signature),
        (Tlv.KEY_ID, msg.key),
        (Tlv.VERIFIER_CHALLENGE, msg.verifier_challenge),
        (Tlv.RECEIPT, msg.receipt),
    ):
        if value:
            want = _TLV_SIZES.get(kind)
            if want is not None and len(value) != want:
                raise ValueError(f"TLV {kind.name} must be {want} bytes")
            parts.append(_TLV.pack(kind, len(value)) + value)
    for kind, value in msg.extra:
        parts.append(_TLV.pack(kind, len(value)) + value)
    out = b"".join(parts)
    if len(out) < pad_to:
        pad_len = max(0, pad_to - len(out) - _TLV.size)
        out += _TLV.pack(Tlv.PAD, pad_len) + bytes(pad_len)
    if len(out) > MAX_DATAGRAM_SIZE:
        raise ValueError(f"message longer than {MAX_DATAGRAM_SIZE} bytes")
    return out


def decode_challenge(data: bytes) -> ChallengeMessage:
    """Parse a CHALLENGE_REQUEST or CHALLENGE_REPLY; raises only :class:`WireFormatError`."""
    n = len(data)
    if n < CHALLENGE_HEADER_SIZE:
        raise WireFormatError("short", f"datagram of {n} bytes is shorter than a challenge header")
    if n > MAX_DATAGRAM_SIZE:
        raise WireFormatError("long", f"datagram of {n} bytes exceeds {MAX_DATAGRAM_SIZE}")
    magic, version, kind, _flags, nonce = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise WireFormatError("magic", "not an rttgeo datagram (bad magic)")
    if version != VERSION:
        raise WireFormatError("version", f"unsupported version {version}")
    if kind not in _CHALLENGE_TYPES:
        raise WireFormatError("type", f"message type {kind} is not a challenge message")
    op, code, rnd, sid = _CHALLENGE_FIXED.unpack_from(data, HEADER_SIZE)
    if op not in _OPS[MsgType(kind)]:
        raise WireFormatError("op", f"unknown op {op} in message type {kind}")
    fields: dict[int, bytes] = {}
    extra: list[tuple[int, bytes]] = []
    pos = CHALLENGE_HEADER_SIZE
    while pos < n:
        if n - pos < _TLV.size:
            raise WireFormatError("truncated", "truncated TLV header")
        t, length = _TLV.unpack_from(data, pos)
        pos += _TLV.size
        if length > n - pos:
            raise WireFormatError("truncated", f"TLV {t} longer than the datagram")
        value = bytes(data[pos : pos + length])
        pos += length
        if t == Tlv.PAD:
            continue
        if t in _TLV_SIZES or t == Tlv.RECEIPT:
            want = _TLV_SIZES.get(t)
            if t in fields or (want is not None and length != want) or (
                t == Tlv.RECEIPT and not 1 <= length <= _MAX_RECEIPT
            ):
                raise WireFormatError("tlv", f"duplicate or wrongly sized TLV {t:#04x}")
            fields[t] = value
        elif t >= 0x80:
            raise WireFormatError("critical", f"unknown critical TLV {t}")
        else:
            extra.append((t, value))
    for need in _REQUIRED.get((kind, op), ()):
        if need not in fields:
            raise WireFormatError("missing", f"op {op} of type {kind} needs TLV {need.name}")
    return ChallengeMessage(
        type=int(kind), op=int(op), nonce=bytes(nonce), session_id=bytes(sid), round=rnd,
        code=code, challenge=fields.get(Tlv.CHALLENGE, b""),
        signature=fields.get(Tlv.SIGNATURE, b""), key=fields.get(Tlv.KEY_ID, b""),
        receipt=fields.get(Tlv.RECEIPT, b""),
        verifier_challenge=fields.get(Tlv.VERIFIER_CHALLENGE, b""), extra=tuple(extra),
    )
