"""Ed25519 keys and strict signature checks for the signed challenge-response (docs/verify.md).

Signing and the signature equation come from ``cryptography`` (OpenSSL); this module adds what
OpenSSL does not check. OpenSSL verifies cofactorless and accepts any public key that decodes,
so it accepts the all-zero signature ``R = identity, S = 0`` under the identity key (``01 00..``)
and the all-zero key (a point of order 4): a test pins that pitfall. :func:`verify` therefore
rejects, before OpenSSL sees them:

* public keys that are not canonical encodings (``y >= p``, or ``x = 0`` with the sign bit set),
  that do not decode to a curve point, that have small order (``[8]A = O``: the 8 torsion points,
  among them the all-zero and identity encodings) or a torsion component (``[L]A != O``); an
  honest key is ``[a]B`` and passes all of these;
* signatures whose ``R`` is a non-canonical encoding, or whose ``S`` is not below the group order
  ``L`` (the malleability check of RFC 8032, section 5.1.7).

Every signed message starts with a NUL-terminated domain-separation context (``CONTEXT_*``), so a
signature made for one purpose (an answer to a landmark's nonce, a receipt, a catalog) can never be
valid for another. Key files: the private key is PKCS#8 PEM (``openssl pkey`` reads it), written
with mode 0600; a public key is 64 hex digits (a ``.pub`` file holds them on one line).

Costs on the project's VM (Python 3.11, OpenSSL through cryptography): sign 37 µs, verify
100-500 µs, the public-key checks ~2 ms per new key (cached, 4,096 keys). :func:`fast_signer`
signs with libsodium (PyNaCl) where installed: 24 µs, the same signatures (Ed25519 is
deterministic); the prover signs on its timed path with it.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rttgeo.errors import InputError, require

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "CONTEXT_ANSWER",
    "CONTEXT_CATALOG",
    "CONTEXT_RECEIPT",
    "KEY_SIZE",
    "SIGNATURE_SIZE",
    "answer_message",
    "fast_signer",
    "generate_key",
    "key_id",
    "load_private_key",
    "parse_public_key",
    "public_bytes",
    "public_key_problem",
    "save_private_key",
    "signature_problem",
    "verify",
]

KEY_SIZE = 32
SIGNATURE_SIZE = 64

#: Domain-separation contexts: the first bytes of every message rttgeo signs.
CONTEXT_ANSWER = b"rttgeo/v1 challenge answer\x00"
CONTEXT_RECEIPT = b"rttgeo/v1 receipt\x00"
CONTEXT_CATALOG = b"rttgeo/v1 catalog\x00"

# -- edwards25519 (RFC 8032, section 5.1) ------------------------------------------------------------
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_D2 = 2 * _D % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)

_Point = tuple[int, int, int, int]  # extended coordinates X, Y, Z, T (x = X/Z, y = Y/Z, xy = T/Z)


def _decode_point(data: bytes) -> _Point | None:
    """The point of a 32-byte encoding, or None if it is not a canonical encoding of one."""
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        return None  # non-canonical y
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    vxx = v * x * x % _P
    if vxx == (-u) % _P:
        x = x * _SQRT_M1 % _P
    elif vxx != u:
        return None  # not on the curve
    if x == 0 and sign:
        return None  # "negative zero": non-canonical
    if x & 1 != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


def _add(p: _Point, q: _Point) -> _Point:
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = t1 * _D2 * t2 % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _double(p: _Point) -> _Point:
    x1, y1, z1, _t1 = p
    a = x1 * x1 % _P
    b = y1 * y1 % _P
    c = 2 * z1 * z1 % _P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1)
    g = a - b
    f = c + g
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _is_identity(p: _Point) -> bool:
    return p[0] % _P == 0 and (p[1] - p[2]) % _P == 0


def _times(p: _Point, n: int) -> _Point:
    acc: _Point = (0, 1, 1, 0)
    for bit in bin(n)[2:]:
        acc = _double(acc)
        if bit == "1":
            acc = _add(acc, p)
    return acc


@functools.lru_cache(maxsize=4096)
def public_key_problem(key: bytes, *, subgroup: bool = True) -> str | None:
    """Why ``key`` is not an acceptable Ed25519 public key, or None if it is.

    Rejected: wrong length, non-canonical encoding, not on the curve, small order (the 8 torsion
    points in any encoding, e.g. all-zero), and with ``subgroup`` a torsion component too (the
    costly part: ~2 ms per new key; landmarks skip it for the host keys of sessions, whose
    signatures are checked strictly anyway; verifiers and every signature check do it).
    """
    if len(key) != KEY_SIZE:
        return f"a public key has {KEY_SIZE} bytes, not {len(key)}"
    point = _decode_point(key)
    if point is None:
        return "the public key is not a canonical encoding of a curve point"
    if _is_identity(_times(point, 8)):
        return "the public key has small order (a torsion point such as the all-zero key)"
    if subgroup and not _is_identity(_times(point, _L)):
        return "the public key is not in the prime-order subgroup (it has a torsion component)"
    return None


def signature_problem(signature: bytes) -> str | None:
    """Why ``signature`` can never be a valid strict Ed25519 signature, or None (no key needed).

    Rejected: wrong length, ``S >= L`` (malleability), ``R`` not canonical (``y >= p`` or a
    negative-zero ``x``).
    """
    if len(signature) != SIGNATURE_SIZE:
        return f"a signature has {SIGNATURE_SIZE} bytes, not {len(signature)}"
    if int.from_bytes(signature[32:], "little") >= _L:
        return "the signature's S is not below the group order (non-canonical)"
    r = int.from_bytes(signature[:32], "little")
    ry = r & ((1 << 255) - 1)
    if ry >= _P or (r >> 255 and ry in (1, _P - 1)):
        return "the signature's R is not a canonical point encoding"
    return None


def answer_message(session_id: bytes, landmark_key: bytes, nonce: bytes) -> bytes:
    """What a host signs to answer a landmark's nonce (``nonce`` empty: the prefix)."""
    return CONTEXT_ANSWER + session_id + landmark_key + nonce


def verify(key: bytes, signature: bytes, message: bytes, *, subgroup: bool = True) -> bool:
    """True only if ``signature`` is a strict Ed25519 signature of ``message`` under ``key``.

    ``message`` must already start with its ``CONTEXT_*``; ``subgroup`` as in
    :func:`public_key_problem`. Never raises for bad input.
    """
    if public_key_problem(bytes(key), subgroup=subgroup) or signature_problem(signature):
        return False
    ed = _ed25519()
    try:
        ed.Ed25519PublicKey.from_public_bytes(bytes(key)).verify(bytes(signature), message)
    except Exception:  # InvalidSignature, or a key OpenSSL refuses
        return False
    return True


# -- keys ------------------------------------------------------------------------------------------
def _ed25519():  # type: ignore[no-untyped-def]
    return require("cryptography.hazmat.primitives.asymmetric.ed25519", "verify")


def generate_key() -> Ed25519PrivateKey:
    """A new random Ed25519 private key (from the operating system's CSPRNG)."""
    return _ed25519().Ed25519PrivateKey.generate()


def public_bytes(private_key: Ed25519PrivateKey) -> bytes:
    """The 32-byte public key of ``private_key``."""
    ser = require("cryptography.hazmat.primitives.serialization", "verify")
    return private_key.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)


def fast_signer(private_key: Ed25519PrivateKey) -> Callable[[bytes], bytes]:
    """``sign(message) -> signature`` for ``private_key``: libsodium's (PyNaCl) if installed,
    else OpenSSL's. Both give the same bytes; libsodium's takes 24 µs instead of 37 µs here."""
    try:
        from nacl.bindings import crypto_sign, crypto_sign_seed_keypair
    except ImportError:  # pragma: no cover - pynacl is in the verify extra
        return private_key.sign
    ser = require("cryptography.hazmat.primitives.serialization", "verify")
    seed = private_key.private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption())
    public, secret = crypto_sign_seed_keypair(seed)
    if public != public_bytes(private_key):  # pragma: no cover - a broken installation
        return private_key.sign

    def sign(message: bytes) -> bytes:
        return crypto_sign(message, secret)[:64]

    return sign


def key_id(key: bytes) -> str:
    """A short label of a public key for messages: its first 8 hex digits."""
    return bytes(key).hex()[:8]


def save_private_key(private_key: Ed25519PrivateKey, path: str | Path, *, overwrite: bool = False
                     ) -> Path:
    """Write ``private_key`` as PKCS#8 PEM readable by its owner only (mode 0600).

    Refuses to replace an existing file unless ``overwrite``; raises :class:`InputError`.
    """
    ser = require("cryptography.hazmat.primitives.serialization", "verify")
    p = Path(path)
    pem = private_key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                    ser.NoEncryption())
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(p, flags, 0o600)
    except FileExistsError:
        raise InputError("the file exists; choose another name or pass --force",
                         where=str(p)) from None
    except OSError as exc:
        raise InputError(f"cannot write the key: {exc.strerror}", where=str(p)) from None
    try:
        os.fchmod(fd, 0o600)  # also when overwriting a file that had other permissions
        os.write(fd, pem)
    finally:
        os.close(fd)
    return p


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path``; raises :class:`InputError` naming it.

    Refuses a file that its group or others can read or write (like ssh): ``chmod 600`` it.
    """
    ser = require("cryptography.hazmat.primitives.serialization", "verify")
    ed = _ed25519()
    p = Path(path)
    try:
        st = p.stat()
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError("no such key file", where=str(p)) from None
    except OSError as exc:
        raise InputError(f"cannot read the key file: {exc.strerror}", where=str(p)) from None
    if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:
        raise InputError(
            f"permissions {oct(st.st_mode & 0o777)} are too open for a private key: chmod 600 it",
            where=str(p),
        )
    try:
        key = ser.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"not an unencrypted PEM private key ({exc})", where=str(p)) from None
    if not isinstance(key, ed.Ed25519PrivateKey):
        raise InputError("the key is not an Ed25519 key", where=str(p))
    return key


def parse_public_key(text: str, *, what: str = "public key") -> bytes:
    """A public key from 64 hex digits, or from a file holding them; checked strictly.

    Raises :class:`InputError` naming ``what`` (an option or a file) and the problem.
    """
    raw = text.strip()
    where = None
    if len(raw) != 2 * KEY_SIZE or any(c not in "0123456789abcdefABCDEF" for c in raw):
        p = Path(raw)
        try:
            raw = p.read_text(encoding="utf-8").strip()
            where = str(p)
        except (OSError, UnicodeDecodeError):
            raise InputError(f"{what} {text!r} is neither 64 hex digits nor a readable file "
                             "holding them") from None
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        raise InputError(f"{what} is not hexadecimal", where=where) from None
    problem = public_key_problem(key)
    if problem:
        raise InputError(f"{what}: {problem}", where=where)
    return key
