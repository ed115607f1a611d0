"""Signed landmark catalogs: each landmark's position and public key, signed by a catalog key that
verifiers trust (docs/verify.md, "Signed catalog").

The file is JSON::

    {"format": "rttgeo-signed-catalog", "version": 1,
     "signer_key": "<64 hex digits>",
     "catalog": "<the catalog itself, as JSON text>",
     "signature": "<128 hex digits: Ed25519 over CONTEXT_CATALOG || UTF-8 bytes of 'catalog'>"}

The signature covers the exact text of ``catalog`` (no canonical-JSON rules to agree on); it is
parsed only after the signature verified. That text is a JSON catalog of the catalog room
(``{"landmarks": [...]}``, the columns of docs/catalog.md) where each landmark also has
``public_key`` (64 hex digits, strict: no small-order key, no key twice) and may have
``position_uncertainty_km`` (>= 0, default 0: how far the landmark may be from its stated position;
a sound verifier adds it to every radius), plus ``name`` and ``issued_unix_s``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rttgeo import crypto
from rttgeo.catalog.io import landmark_record, load_catalog, parse_catalog_rows
from rttgeo.errors import CatalogError, VerificationError
from rttgeo.models import Landmark
from rttgeo.textformats import decimal_float, loads_json

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["SIGNED_CATALOG_FORMAT", "SignedCatalog", "load_signed_catalog", "sign_catalog"]

SIGNED_CATALOG_FORMAT = "rttgeo-signed-catalog"
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class SignedCatalog:
    """The landmarks of a signed catalog with their pinned keys (``public_keys[i]`` is the key of
    ``landmarks[i]``) and position uncertainties, and the key that signed it."""

    landmarks: tuple[Landmark, ...]
    public_keys: tuple[bytes, ...]
    uncertainty_km: tuple[float, ...]
    signer_key: bytes
    name: str = ""
    issued_unix_s: int = 0
    path: str = ""
    sha256: str = ""

    def __len__(self) -> int:
        return len(self.landmarks)

    def index_of_key(self, key: bytes) -> int | None:
        """Index of the landmark whose pinned key is ``key``, or None."""
        try:
            return self.public_keys.index(bytes(key))
        except ValueError:
            return None


def _entry_extras(where: str, row: Mapping[str, Any]) -> tuple[bytes, float]:
    text = row.get("public_key")
    if not isinstance(text, str) or not text.strip():
        raise CatalogError("missing (64 hex digits of the landmark's Ed25519 key)", where=where,
                           field="public_key")
    text = text.strip().lower()
    if len(text) != 64 or not set(text) <= _HEX:
        raise CatalogError("expected 64 hex digits", where=where, field="public_key")
    key = bytes.fromhex(text)
    problem = crypto.public_key_problem(key)
    if problem:
        raise CatalogError(problem, where=where, field="public_key")
    unc = row.get("position_uncertainty_km")
    if unc is None or (isinstance(unc, str) and not unc.strip()):
        return key, 0.0
    try:
        unc_km = decimal_float(unc) if isinstance(unc, str) else float(unc)
    except (TypeError, ValueError):
        raise CatalogError(f"expected a number, got {unc!r}", where=where,
                           field="position_uncertainty_km") from None
    if isinstance(unc, bool) or not (math.isfinite(unc_km) and 0.0 <= unc_km <= 20_000.0):
        raise CatalogError(f"must be in [0, 20000] km, got {unc!r}", where=where,
                           field="position_uncertainty_km")
    return key, unc_km


def _with_keys(landmarks: Sequence[Landmark], raw: Sequence[tuple[str, Mapping[str, Any]]]
               ) -> tuple[tuple[bytes, ...], tuple[float, ...]]:
    keys: list[bytes] = []
    unc: list[float] = []
    first: dict[bytes, str] = {}
    for lm, (where, row) in zip(landmarks, raw, strict=True):
        key, u = _entry_extras(where, row)
        if key in first:
            raise CatalogError(f"the key of {lm.id!r} is also the key of {first[key]!r}: each "
                               "landmark needs its own", where=where, field="public_key")
        first[key] = lm.id
        keys.append(key)
        unc.append(u)
    return tuple(keys), tuple(unc)


def sign_catalog(source: str | Path, private_key: Ed25519PrivateKey, out: str | Path, *,
                 name: str = "", now_unix_s: int | None = None) -> SignedCatalog:
    """Sign the landmarks of the CSV / JSON catalog ``source`` (with a ``public_key`` column and
    optionally ``position_uncertainty_km``) into the signed catalog file ``out``.

    Raises :class:`CatalogError` naming the file, line and field of a bad entry.
    """
    raw: list[tuple[str, Mapping[str, Any]]] = []
    landmarks = load_catalog(source, raw=raw)
    keys, unc = _with_keys(landmarks, raw)
    issued = int(time.time()) if now_unix_s is None else now_unix_s
    records = []
    for lm, key, u in zip(landmarks, keys, unc, strict=True):
        rec = landmark_record(lm)
        rec["public_key"] = key.hex()
        rec["position_uncertainty_km"] = u
        records.append(rec)
    text = json.dumps({"name": name or Path(source).stem, "issued_unix_s": issued,
                       "landmarks": records}, indent=1, ensure_ascii=False)
    doc = {
        "format": SIGNED_CATALOG_FORMAT,
        "version": 1,
        "signer_key": crypto.public_bytes(private_key).hex(),
        "catalog": text,
        "signature": private_key.sign(crypto.CONTEXT_CATALOG + text.encode()).hex(),
    }
    p = Path(out)
    data = (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode()
    try:
        p.write_bytes(data)
    except OSError as exc:
        raise CatalogError(f"cannot write: {exc.strerror}", where=str(p)) from None
    return load_signed_catalog(p, trusted_keys=[crypto.public_bytes(private_key)])


def load_signed_catalog(path: str | Path, *, trusted_keys: Collection[bytes] | None
                        ) -> SignedCatalog:
    """Read and verify a signed catalog; raises :class:`VerificationError` (bad signature, a
    signer not in ``trusted_keys``, a malformed envelope) or :class:`CatalogError` (a bad entry).

    ``trusted_keys=None`` checks only that the file is signed by the key it names (integrity, not
    trust: a prover may do that; a verifier must name the keys it trusts).
    """
    p = Path(path)
    where = str(p)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise VerificationError("no such signed catalog", where=where) from None
    except OSError as exc:
        raise VerificationError(f"cannot read the signed catalog: {exc.strerror}",
                                where=where) from None
    doc = loads_json(data, where=where, error=VerificationError)
    if not isinstance(doc, dict) or doc.get("format") != SIGNED_CATALOG_FORMAT:
        raise VerificationError(f"not a signed catalog (format is not {SIGNED_CATALOG_FORMAT!r};"
                                " sign one with rttgeo sign-catalog)", where=where)
    if doc.get("version") != 1:
        raise VerificationError(f"unsupported version {doc.get('version')!r}", where=where,
                                field="version")
    signer = _hex_field(doc, "signer_key", 32, where)
    signature = _hex_field(doc, "signature", 64, where)
    text = doc.get("catalog")
    if not isinstance(text, str):
        raise VerificationError("missing or not a string", where=where, field="catalog")
    problem = crypto.public_key_problem(signer)
    if problem:
        raise VerificationError(problem, where=where, field="signer_key")
    if trusted_keys is not None and signer not in {bytes(k) for k in trusted_keys}:
        raise VerificationError(f"signed by key {crypto.key_id(signer)}, which is not a trusted "
                                "catalog key (--catalog-key)", where=where, field="signer_key")
    if not crypto.verify(signer, signature, crypto.CONTEXT_CATALOG + text.encode()):
        raise VerificationError("the signature does not verify: the catalog was changed after "
                                "it was signed, or signed by another key", where=where,
                                field="signature")
    inner = loads_json(text, where=f"{where} (signed text)", error=CatalogError)
    if not isinstance(inner, dict) or not isinstance(inner.get("landmarks"), list):
        raise CatalogError("the signed catalog text has no 'landmarks' list", where=where)
    entries = inner["landmarks"]
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            raise CatalogError(f"entry {i} is not an object", where=f"{where}:{i}")
    raw: list[tuple[str, Mapping[str, Any]]] = []
    landmarks = parse_catalog_rows(enumerate(entries, start=1), name=where, raw=raw)
    keys, unc = _with_keys(landmarks, raw)
    issued = inner.get("issued_unix_s", 0)
    return SignedCatalog(
        landmarks=tuple(landmarks), public_keys=keys, uncertainty_km=unc, signer_key=signer,
        name=str(inner.get("name", "")), issued_unix_s=issued if isinstance(issued, int) else 0,
        path=where, sha256=hashlib.sha256(data).hexdigest(),
    )


def _hex_field(doc: Mapping[str, Any], name: str, size: int, where: str) -> bytes:
    value = doc.get(name)
    if not isinstance(value, str) or len(value) != 2 * size or not set(value.lower()) <= _HEX:
        raise VerificationError(f"expected {2 * size} hex digits", where=where, field=name)
    return bytes.fromhex(value)
