"""Landmark receipts: what a landmark signs after timing K challenge rounds (docs/verify.md).

Fixed binary layout, version 1, integers big-endian::

    offset size  field
    0      4     magic  b"RTGR"
    4      1     version (1)
    5      1     clock that timed the rounds: 1 kernel (SO_TIMESTAMPNS receive stamp, send stamp
                 right before sendto), 2 monotonic (user space at both ends; only ever longer)
    6      2     rounds: number K of answered rounds whose host signature verified (>= 1)
    8      16    session id (random, chosen by the landmark)
    24     32    landmark public key (Ed25519; the key that signs this receipt)
    56     32    host public key (Ed25519; the key whose signatures answered every round)
    88     32    challenge: the 32 bytes the host gave when it opened the session (a verifier's
                 freshness challenge)
    120    4     lat_e7 (signed; degrees x 1e7)  the landmark's position as it serves it
    124    4     lon_e7 (signed)
    128    8     min_rtt_ns: smallest round trip of the K rounds, timed by the landmark's clock
    136    8     start_unix_ns: the landmark's wall clock when the session opened
    144    8     end_unix_ns: the landmark's wall clock when the receipt was made
    152    1     n: length of the landmark id (1-64)
    153    n     landmark id (UTF-8)
    153+n  64    Ed25519 signature by the landmark key over CONTEXT_RECEIPT || bytes 0 .. 153+n

The host's own report of its processing time appears nowhere: the RTT is the landmark's.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rttgeo import crypto
from rttgeo.errors import VerificationError

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "CLOCK_KERNEL",
    "CLOCK_MONOTONIC",
    "MAX_RECEIPT_SIZE",
    "RECEIPT_MAGIC",
    "RECEIPT_VERSION",
    "Receipt",
    "decode_receipt",
    "sign_receipt",
]

RECEIPT_MAGIC = b"RTGR"
RECEIPT_VERSION = 1
CLOCK_KERNEL = 1
CLOCK_MONOTONIC = 2
_CLOCKS = {CLOCK_KERNEL: "kernel", CLOCK_MONOTONIC: "monotonic"}
MAX_ID_BYTES = 64
_FIXED = struct.Struct(">4sBBH16s32s32s32siiQQQB")
assert _FIXED.size == 153
#: Largest receipt: a 64-byte landmark id.
MAX_RECEIPT_SIZE = _FIXED.size + MAX_ID_BYTES + crypto.SIGNATURE_SIZE
_E7 = 10_000_000


@dataclass(frozen=True, slots=True)
class Receipt:
    """One decoded receipt (see the module docstring for the layout). ``signature`` is empty on an
    unsigned body; :meth:`check_signature` verifies it strictly."""

    session_id: bytes
    landmark_key: bytes
    host_key: bytes
    challenge: bytes
    landmark_id: str
    lat_e7: int
    lon_e7: int
    min_rtt_ns: int
    rounds: int
    start_unix_ns: int
    end_unix_ns: int
    clock: int = CLOCK_KERNEL
    signature: bytes = b""
    version: int = RECEIPT_VERSION

    @property
    def lat_deg(self) -> float:
        return self.lat_e7 / _E7

    @property
    def lon_deg(self) -> float:
        return self.lon_e7 / _E7

    @property
    def min_rtt_ms(self) -> float:
        return self.min_rtt_ns / 1e6

    @property
    def clock_name(self) -> str:
        return _CLOCKS.get(self.clock, f"unknown-{self.clock}")

    def body(self) -> bytes:
        """The signed bytes (everything but the signature); raises ValueError on bad fields."""
        lid = self.landmark_id.encode()
        if not 1 <= len(lid) <= MAX_ID_BYTES:
            raise ValueError(f"landmark id must be 1-{MAX_ID_BYTES} bytes of UTF-8")
        if not 1 <= self.rounds <= 0xFFFF:
            raise ValueError("rounds must be in [1, 65535]")
        return _FIXED.pack(
            RECEIPT_MAGIC, self.version, self.clock, self.rounds, self.session_id,
            self.landmark_key, self.host_key, self.challenge, self.lat_e7, self.lon_e7,
            self.min_rtt_ns, self.start_unix_ns, self.end_unix_ns, len(lid),
        ) + lid

    def to_bytes(self) -> bytes:
        """Body and signature: the receipt as it travels and as bundles store it."""
        if len(self.signature) != crypto.SIGNATURE_SIZE:
            raise ValueError("the receipt is not signed")
        return self.body() + self.signature

    def check_signature(self) -> None:
        """Raise :class:`VerificationError` unless the landmark key strictly signed this body."""
        problem = crypto.public_key_problem(self.landmark_key)
        if problem:
            raise VerificationError(f"receipt of landmark {self.landmark_id!r}: landmark {problem}")
        problem = crypto.public_key_problem(self.host_key)
        if problem:
            raise VerificationError(f"receipt of landmark {self.landmark_id!r}: host {problem}")
        if not crypto.verify(self.landmark_key, self.signature,
                             crypto.CONTEXT_RECEIPT + self.body()):
            raise VerificationError(
                f"receipt of landmark {self.landmark_id!r}: the landmark's signature does not "
                "verify (tampered, or signed by another key)"
            )


def sign_receipt(receipt: Receipt, private_key: Ed25519PrivateKey) -> Receipt:
    """``receipt`` with its ``landmark_key`` set to ``private_key``'s and signed by it."""
    from dataclasses import replace

    unsigned = replace(receipt, landmark_key=crypto.public_bytes(private_key), signature=b"")
    sig = private_key.sign(crypto.CONTEXT_RECEIPT + unsigned.body())
    return replace(unsigned, signature=sig)


def decode_receipt(data: bytes, *, what: str = "receipt") -> Receipt:
    """Parse a receipt's bytes (layout only: call :meth:`Receipt.check_signature` next).

    Raises :class:`VerificationError` naming ``what`` and the field that is wrong.
    """
    n = len(data)
    if n < _FIXED.size + 1 + crypto.SIGNATURE_SIZE:
        raise VerificationError(f"{what}: {n} bytes is too short for a receipt")
    (magic, version, clock, rounds, sid, lkey, hkey, chal, lat, lon, rtt, start, end,
     idlen) = _FIXED.unpack_from(data, 0)
    if magic != RECEIPT_MAGIC:
        raise VerificationError(f"{what}: not a receipt (bad magic)")
    if version != RECEIPT_VERSION:
        raise VerificationError(f"{what}: unsupported receipt version {version}")
    if clock not in _CLOCKS:
        raise VerificationError(f"{what}: unknown clock {clock}")
    if not 1 <= idlen <= MAX_ID_BYTES or n != _FIXED.size + idlen + crypto.SIGNATURE_SIZE:
        raise VerificationError(f"{what}: the landmark id length does not match the size")
    if rounds < 1:
        raise VerificationError(f"{what}: no answered round")
    if not (-90 * _E7 <= lat <= 90 * _E7 and -180 * _E7 <= lon <= 180 * _E7):
        raise VerificationError(f"{what}: position out of range")
    if start > end:
        raise VerificationError(f"{what}: the session ends before it starts")
    try:
        lid = bytes(data[_FIXED.size : _FIXED.size + idlen]).decode()
    except UnicodeDecodeError:
        raise VerificationError(f"{what}: the landmark id is not UTF-8") from None
    return Receipt(
        session_id=bytes(sid), landmark_key=bytes(lkey), host_key=bytes(hkey),
        challenge=bytes(chal), landmark_id=lid, lat_e7=lat, lon_e7=lon, min_rtt_ns=rtt,
        rounds=rounds, start_unix_ns=start, end_unix_ns=end, clock=clock,
        signature=bytes(data[n - crypto.SIGNATURE_SIZE :]), version=version,
    )
