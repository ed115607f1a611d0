"""Strict Ed25519 (rttgeo.crypto): small-order and mixed-order keys, non-canonical encodings and
signatures, domain separation, key files. The reference for small-order points is libsodium's
blocklist (ed25519_ref10.c), copied here as literals."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rttgeo import crypto
from rttgeo.errors import InputError

pytest.importorskip("cryptography", reason="the verify extra (cryptography) is not installed")
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493

#: libsodium's has_small_order() blocklist: the small-order points and their non-canonical forms.
LIBSODIUM_BLOCKLIST = [
    "0000000000000000000000000000000000000000000000000000000000000000",  # y = 0, order 4
    "0100000000000000000000000000000000000000000000000000000000000000",  # identity, order 1
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p-1, order 2
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p (= 0), order 4
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p+1 (= 1), order 1
]


def _with_sign(hexkey: str) -> bytes:
    b = bytearray.fromhex(hexkey)
    b[31] |= 0x80
    return bytes(b)


def all_small_order_encodings() -> list[bytes]:
    """The blocklist, each with the sign bit set too (the other x, or a "negative zero"), and the
    non-canonical y + p form of each canonical y < 19."""
    out = []
    for h in LIBSODIUM_BLOCKLIST:
        out += [bytes.fromhex(h), _with_sign(h)]
        y = int.from_bytes(bytes.fromhex(h), "little") & ((1 << 255) - 1)
        if y + P < 2**255:
            out.append((y + P).to_bytes(32, "little"))
    return sorted(set(out))


def _encode(point) -> bytes:  # type: ignore[no-untyped-def]
    x, y, z, _t = point
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


@pytest.fixture(scope="module")
def key():  # type: ignore[no-untyped-def]
    return crypto.generate_key()


@pytest.mark.parametrize("encoding", all_small_order_encodings(), ids=lambda b: b.hex()[:8])
def test_every_small_order_key_is_rejected_even_with_the_trivial_signature(encoding: bytes) -> None:
    assert crypto.public_key_problem(encoding) is not None
    assert crypto.public_key_problem(encoding, subgroup=False) is not None
    identity = bytes([1]) + bytes(31)
    for sig in (identity + bytes(32), bytes(64), encoding + bytes(32)):
        assert not crypto.verify(encoding, sig, crypto.CONTEXT_ANSWER + b"anything")


def test_openssl_alone_accepts_the_zero_signature_under_small_order_keys() -> None:
    """The pitfall this module exists for: cryptography (OpenSSL) verifies R = identity, S = 0
    under the identity key for any message, and under the all-zero key (order 4) for every
    message whose hash is 0 mod 4. If a future OpenSSL rejects them, this test says so (the
    explicit checks then are merely redundant)."""
    identity = bytes([1]) + bytes(31)
    forged = identity + bytes(32)
    messages = [b"forged %d" % i for i in range(32)]

    def openssl_accepts(key_bytes: bytes, msg: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(key_bytes).verify(forged, msg)
        except (InvalidSignature, ValueError):
            return False
        return True

    assert all(openssl_accepts(identity, m) for m in messages), "OpenSSL's behaviour changed"
    assert 0 < sum(openssl_accepts(bytes(32), m) for m in messages) < len(messages)
    for key_bytes in (identity, bytes(32)):
        assert not any(crypto.verify(key_bytes, forged, m) for m in messages)


def test_the_eight_torsion_points_are_exactly_the_blocklist() -> None:
    """Independent check of the decoder: [8]T = O for the blocklist's canonical points, and the
    point of order 8 generates all 8 torsion points, whose encodings are all rejected."""
    t8 = crypto._decode_point(bytes.fromhex(LIBSODIUM_BLOCKLIST[2]))
    assert t8 is not None
    points = []
    acc = t8
    for _ in range(8):
        points.append(_encode(acc))
        acc = crypto._add(acc, t8)
    assert crypto._is_identity(crypto._times(t8, 8)) and not crypto._is_identity(
        crypto._times(t8, 4))
    assert len(set(points)) == 8
    for enc in points:
        assert crypto.public_key_problem(enc) is not None
    canonical = {bytes.fromhex(h) for h in LIBSODIUM_BLOCKLIST[:5]}
    # the canonical blocklist entries are torsion points (or, like 00.., their x-negations)
    assert {_encode(crypto._decode_point(e)) for e in canonical} <= set(points) | {
        _with_sign(h) for h in LIBSODIUM_BLOCKLIST[:5]}


def test_a_key_with_a_torsion_component_is_rejected(key) -> None:  # type: ignore[no-untyped-def]
    pk = crypto.public_bytes(key)
    assert crypto.public_key_problem(pk) is None
    a = crypto._decode_point(pk)
    t8 = crypto._decode_point(bytes.fromhex(LIBSODIUM_BLOCKLIST[2]))
    mixed = _encode(crypto._add(a, t8))
    assert "prime-order subgroup" in (crypto.public_key_problem(mixed) or "")
    # the cheap check used by landmarks for session keys does not see the torsion component
    assert crypto.public_key_problem(mixed, subgroup=False) is None


def test_verify_checks_the_key_with_the_subgroup_rule_it_was_given(key, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[bool] = []
    real = crypto.public_key_problem

    def spy(k: bytes, *, subgroup: bool = True) -> str | None:
        seen.append(subgroup)
        return real(k, subgroup=subgroup)

    monkeypatch.setattr(crypto, "public_key_problem", spy)
    pk, msg = crypto.public_bytes(key), crypto.CONTEXT_RECEIPT + b"m"
    sig = key.sign(msg)
    assert crypto.verify(pk, sig, msg, subgroup=False) and crypto.verify(pk, sig, msg)
    assert seen == [False, True]


def test_non_canonical_key_encodings_are_rejected() -> None:
    for bad in (
        _with_sign("0100000000000000000000000000000000000000000000000000000000000000"),  # -0
        bytes.fromhex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        bytes.fromhex("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    ):
        assert "canonical" in (crypto.public_key_problem(bad) or "")
    # y = 2 is not on the curve: no x exists
    assert "curve point" in (crypto.public_key_problem((2).to_bytes(32, "little")) or "")
    assert "32 bytes" in (crypto.public_key_problem(bytes(31)) or "")


def test_non_canonical_signatures_are_rejected(key) -> None:  # type: ignore[no-untyped-def]
    pk = crypto.public_bytes(key)
    msg = crypto.CONTEXT_ANSWER + b"m"
    sig = key.sign(msg)
    assert crypto.verify(pk, sig, msg)
    s = int.from_bytes(sig[32:], "little")
    for s_bad in (s + L, L, 2**256 - 1):
        if s_bad < 2**256:
            forged = sig[:32] + s_bad.to_bytes(32, "little")
            assert "S is not below" in (crypto.signature_problem(forged) or "")
            assert not crypto.verify(pk, forged, msg)
    for r_bad in (
        bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # y = p
        (P + 1).to_bytes(32, "little"),  # y = p + 1: identity, non-canonically
        _with_sign("0100000000000000000000000000000000000000000000000000000000000000"),
    ):
        forged = r_bad + sig[32:]
        assert "R is not" in (crypto.signature_problem(forged) or "")
        assert not crypto.verify(pk, forged, msg)
    assert not crypto.verify(pk, sig[:63], msg)


def test_the_canonical_r_encodings_of_x_zero_points_are_accepted_and_their_negations_refused(key) -> None:  # type: ignore[no-untyped-def]
    # y = 1 and y = p - 1 are the two points with x = 0: canonical only with the sign bit clear.
    # S's low byte is set so that a check reading past R's 32 bytes would see a "sign".
    s_bytes = (0xAB).to_bytes(32, "little")
    for y in (1, P - 1):
        r = y.to_bytes(32, "little")
        assert crypto.signature_problem(r + s_bytes) is None, y
        negated = (y | (1 << 255)).to_bytes(32, "little")
        assert (crypto.signature_problem(negated + s_bytes) or "").startswith(
            "the signature's R is not a canonical"), y
    too_big = L.to_bytes(32, "little")
    assert (crypto.signature_problem(bytes(32) + too_big) or "").startswith(
        "the signature's S is not below the group order"), "the reason is the API's text"


def test_the_answer_message_is_context_session_landmark_key_then_nonce() -> None:
    sid, lk, nonce = b"s" * 16, b"k" * 32, b"n" * 32
    msg = crypto.answer_message(sid, lk, nonce)
    assert msg == crypto.CONTEXT_ANSWER + sid + lk + nonce
    assert crypto.answer_message(sid, lk, b"") + nonce == msg  # the prefix the signers precompute


def test_any_changed_byte_or_other_context_fails(key) -> None:  # type: ignore[no-untyped-def]
    pk = crypto.public_bytes(key)
    body = b"same body"
    sig = key.sign(crypto.CONTEXT_ANSWER + body)
    assert crypto.verify(pk, sig, crypto.CONTEXT_ANSWER + body)
    for ctx in (crypto.CONTEXT_RECEIPT, crypto.CONTEXT_CATALOG, b""):
        assert not crypto.verify(pk, sig, ctx + body)
    for i in range(64):
        bad = bytearray(sig)
        bad[i] ^= 0x01
        assert not crypto.verify(pk, bytes(bad), crypto.CONTEXT_ANSWER + body)
    other = crypto.public_bytes(crypto.generate_key())
    assert not crypto.verify(other, sig, crypto.CONTEXT_ANSWER + body)


def test_key_files(tmp_path: Path, key) -> None:  # type: ignore[no-untyped-def]
    path = crypto.save_private_key(key, tmp_path / "k.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = crypto.load_private_key(path)
    assert crypto.public_bytes(again) == crypto.public_bytes(key)
    with pytest.raises(InputError, match="exists"):
        crypto.save_private_key(key, path)
    os.chmod(path, 0o644)
    with pytest.raises(InputError, match="too open"):
        crypto.load_private_key(path)
    crypto.save_private_key(key, path, overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    junk = tmp_path / "junk.key"
    junk.write_text("not a key\n")
    junk.chmod(0o600)
    with pytest.raises(InputError, match=r"junk\.key"):
        crypto.load_private_key(junk)
    with pytest.raises(InputError, match="no such key file"):
        crypto.load_private_key(tmp_path / "missing.key")


def test_a_key_of_another_algorithm_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    p = tmp_path / "ec.key"
    p.write_bytes(pem)
    p.chmod(0o600)
    with pytest.raises(InputError, match="not an Ed25519 key"):
        crypto.load_private_key(p)


def test_parse_public_key(tmp_path: Path, key) -> None:  # type: ignore[no-untyped-def]
    pk = crypto.public_bytes(key)
    assert crypto.parse_public_key(pk.hex()) == pk
    assert crypto.parse_public_key(pk.hex().upper()) == pk
    f = tmp_path / "k.pub"
    f.write_text(pk.hex() + "\n")
    assert crypto.parse_public_key(str(f)) == pk
    with pytest.raises(InputError, match="small order"):
        crypto.parse_public_key("00" * 32, what="--catalog-key")
    with pytest.raises(InputError, match="neither 64 hex digits"):
        crypto.parse_public_key("xyz", what="--catalog-key")
    f.write_text("zz" * 32)
    with pytest.raises(InputError, match="not hexadecimal"):
        crypto.parse_public_key(str(f))


def test_the_fast_signer_gives_the_same_signatures(key) -> None:  # type: ignore[no-untyped-def]
    """The prover signs with libsodium where installed; Ed25519 is deterministic, so its bytes
    must be OpenSSL's."""
    pytest.importorskip("nacl", reason="pynacl (verify extra) is not installed")
    sign = crypto.fast_signer(key)
    assert sign is not key.sign
    for msg in (b"", crypto.CONTEXT_ANSWER + bytes(80), os.urandom(300)):
        assert sign(msg) == key.sign(msg)
        assert crypto.verify(crypto.public_bytes(key), sign(msg), msg)


def test_decoding_then_encoding_gives_back_every_valid_key() -> None:
    # Both signs of x: a decoder that got the sign wrong would still pass the order checks (a
    # point and its negation have the same order), so the round trip states it directly.
    signs = set()
    for _ in range(16):
        pk = crypto.public_bytes(crypto.generate_key())
        point = crypto._decode_point(pk)
        assert point is not None and _encode(point) == pk
        signs.add(pk[31] >> 7)
    assert signs == {0, 1}
    # y = p exactly is the non-canonical form of y = 0
    y_is_p = bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
    assert crypto._decode_point(y_is_p) is None
    assert "canonical" in (crypto.public_key_problem(y_is_p) or "")


def test_negative_zero_x_is_not_decoded() -> None:
    # y = 1 and y = p - 1 have x = 0; with the sign bit set they are "negative zero" encodings
    for y in (1, P - 1):
        assert crypto._decode_point(y.to_bytes(32, "little")) is not None
        assert crypto._decode_point((y | (1 << 255)).to_bytes(32, "little")) is None
