"""Evidence: landmark-signed receipts collected into a bundle that anyone can re-check offline
against a pinned, signed landmark catalog, trusting nobody who ran the sessions (docs/verify.md).

Two JSON documents, the same shape::

    {"format": "rttgeo-receipts" | "rttgeo-evidence", "version": 1,
     "host_key": "<64 hex>", "challenge": "<64 hex>", "created_unix_s": <int>,
     "receipts": [{"landmark": "<id>", "receipt": "<hex of the receipt's bytes>"}, ...],
     "failures": [{"landmark": "<id>", "error": "<why>"}, ...],          (receipts files only)
     "catalog": {"signer_key": "<64 hex>", "sha256": "<hex>", "name": "..."}  (bundles only)}

``rttgeo prove`` writes a receipts file; ``rttgeo verify --receipts`` checks it and writes a bundle
(only checked receipts, and which catalog they were checked against); ``rttgeo verify --check``
re-checks a bundle. Both checks are :func:`check_document`: every receipt must decode, carry a
valid strict signature by a key the catalog pins, name that landmark's id and position, the
bundle's host key and challenge, and all sessions must lie within ``max_span_s`` of each other.
Any failure raises :class:`VerificationError` naming the file, the receipt and what failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo import crypto
from rttgeo.catalog.signed import SignedCatalog, load_signed_catalog
from rttgeo.errors import VerificationError
from rttgeo.models import Landmark
from rttgeo.receipt import Receipt, decode_receipt
from rttgeo.textformats import loads_json

__all__ = [
    "BUNDLE_FORMAT",
    "DEFAULT_MAX_SPAN_S",
    "RECEIPTS_FORMAT",
    "Evidence",
    "build_bundle",
    "check_bundle",
    "check_document",
    "load_evidence",
    "write_bundle",
    "write_receipts",
]

RECEIPTS_FORMAT = "rttgeo-receipts"
BUNDLE_FORMAT = "rttgeo-evidence"
#: Sessions of one bundle must lie within this many seconds of each other (landmark wall clocks).
DEFAULT_MAX_SPAN_S = 600.0
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, eq=False, slots=True)
class Evidence:
    """Checked receipts, one per landmark (the one with the smallest RTT), in catalog order.

    ``rtt_ms[i]`` is the landmark-timed minimum RTT of ``landmarks[i]`` in ms (``receipts[i]``),
    ``uncertainty_km[i]`` its catalog position uncertainty. ``start_unix_ns``/``end_unix_ns``
    span every session (landmark wall clocks); ``catalog_signer`` is the key that signed the
    catalog the receipts were checked against, ``catalog_path`` and ``catalog_sha256`` that
    catalog's file and hash; ``source`` the receipts file or bundle read.
    """

    landmarks: tuple[Landmark, ...]
    rtt_ms: np.ndarray
    host_key: bytes
    receipts: tuple[Receipt, ...]
    challenge: bytes
    uncertainty_km: np.ndarray
    catalog_signer: bytes
    start_unix_ns: int
    end_unix_ns: int
    source: str = ""
    catalog_path: str = ""
    catalog_sha256: str = ""

    def __len__(self) -> int:
        return len(self.landmarks)


# -- writing -----------------------------------------------------------------------------------
def _write_json(path: str | Path, doc: Mapping[str, Any]) -> Path:
    """Write atomically (a temporary file in the same directory, then rename): a reader sees the
    old complete file or the new one, and a failed or interrupted write leaves nothing behind.
    A new file is readable by all (0644: evidence is public); a replaced one keeps its mode."""
    p = Path(path)
    tmp = None
    try:
        mode = stat.S_IMODE(p.stat().st_mode) if p.is_file() else 0o644
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(doc, indent=1) + "\n")
        os.replace(tmp, p)
        tmp = None
    except OSError as exc:
        raise VerificationError(f"cannot write: {exc.strerror}", where=str(p)) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return p


def write_receipts(path: str | Path, *, host_key: bytes, challenge: bytes,
                   receipts: Sequence[tuple[str, bytes]],
                   failures: Sequence[tuple[str, str]] = ()) -> Path:
    """The prover's receipts file: ``receipts`` as (landmark id, receipt bytes), ``failures`` as
    (landmark id, reason)."""
    return _write_json(path, {
        "format": RECEIPTS_FORMAT, "version": 1, "host_key": host_key.hex(),
        "challenge": challenge.hex(), "created_unix_s": int(time.time()),
        "receipts": [{"landmark": lid, "receipt": r.hex()} for lid, r in receipts],
        "failures": [{"landmark": lid, "error": err} for lid, err in failures],
    })


def write_bundle(path: str | Path, evidence: Evidence, catalog: SignedCatalog) -> Path:
    """An evidence bundle holding ``evidence``'s receipts and which catalog checked them."""
    return _write_json(path, {
        "format": BUNDLE_FORMAT, "version": 1, "host_key": evidence.host_key.hex(),
        "challenge": evidence.challenge.hex(), "created_unix_s": int(time.time()),
        "catalog": {"signer_key": catalog.signer_key.hex(), "sha256": catalog.sha256,
                    "name": catalog.name},
        "receipts": [{"landmark": r.landmark_id, "receipt": r.to_bytes().hex()}
                     for r in evidence.receipts],
    })


# -- checking ------------------------------------------------------------------------------------
def _load(path: str | Path) -> tuple[dict[str, Any], str]:
    p = Path(path)
    where = str(p)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise VerificationError("no such file", where=where) from None
    except OSError as exc:
        raise VerificationError(f"cannot read: {exc.strerror}", where=where) from None
    doc = loads_json(data, where=where, error=VerificationError)
    if not isinstance(doc, dict):
        raise VerificationError("not a JSON object", where=where)
    return doc, where


def _hex(doc: Mapping[str, Any], name: str, size: int | None, where: str) -> bytes:
    value = doc.get(name)
    if not isinstance(value, str) or not value or len(value) % 2 or not set(value.lower()) <= _HEX:
        raise VerificationError("missing or not hexadecimal", where=where, field=name)
    if size is not None and len(value) != 2 * size:
        raise VerificationError(f"expected {2 * size} hex digits", where=where, field=name)
    return bytes.fromhex(value)


def check_document(
    doc: Mapping[str, Any],
    catalog: SignedCatalog,
    *,
    where: str,
    formats: Sequence[str] = (RECEIPTS_FORMAT, BUNDLE_FORMAT),
    challenge: bytes | None = None,
    max_span_s: float = DEFAULT_MAX_SPAN_S,
    max_age_s: float | None = None,
    now_unix_s: float | None = None,
) -> Evidence:
    """Check a receipts file or bundle (parsed JSON) against ``catalog``; see the module doc.

    ``challenge``: the verifier's own challenge, which every receipt must carry. ``max_age_s``:
    the newest session must have ended at most this long before ``now_unix_s`` (default: now).
    """
    fmt = doc.get("format")
    if fmt not in formats:
        raise VerificationError(f"format {fmt!r} is not one of {', '.join(formats)}", where=where,
                                field="format")
    if type(doc.get("version")) is not int or doc.get("version") != 1:  # true and 1.0 equal 1
        raise VerificationError(f"unsupported version {doc.get('version')!r}", where=where,
                                field="version")
    host_key = _hex(doc, "host_key", 32, where)
    problem = crypto.public_key_problem(host_key)
    if problem:
        raise VerificationError(problem, where=where, field="host_key")
    bundle_challenge = _hex(doc, "challenge", 32, where)
    if challenge is not None and bundle_challenge != challenge:
        raise VerificationError("the receipts answer another challenge than the one given "
                                "(--challenge): they are not fresh for this verification",
                                where=where, field="challenge")
    entries = doc.get("receipts")
    if not isinstance(entries, list) or not entries:
        raise VerificationError("no receipts", where=where, field="receipts")
    best: dict[int, Receipt] = {}
    sessions: set[bytes] = set()
    start, end = 2**64, 0
    for i, entry in enumerate(entries):
        what = f"receipts[{i}]"
        if not isinstance(entry, Mapping):
            raise VerificationError(f"{what} is not an object", where=where)
        r = decode_receipt(_hex(entry, "receipt", None, f"{where}: {what}"),
                           what=f"{where}: {what}")
        try:
            idx = _check_receipt(r, entry, catalog, host_key, bundle_challenge)
        except VerificationError as exc:
            raise VerificationError(str(exc), where=f"{where}: {what}") from None
        if r.session_id in sessions:
            raise VerificationError(f"{what} repeats session {r.session_id.hex()[:8]} of "
                                    f"{r.landmark_id!r}", where=where)
        sessions.add(r.session_id)
        start = min(start, r.start_unix_ns)
        end = max(end, r.end_unix_ns)
        if idx not in best or r.min_rtt_ns < best[idx].min_rtt_ns:
            best[idx] = r
    span_s = (end - start) / 1e9
    if span_s > max_span_s:
        raise VerificationError(f"the sessions span {span_s:.0f} s, more than {max_span_s:.0f} s "
                                "(the host could have moved in between)", where=where)
    if max_age_s is not None:
        now = time.time() if now_unix_s is None else now_unix_s
        age_s = now - end / 1e9
        if age_s > max_age_s:
            raise VerificationError(f"the newest receipt is {age_s:.0f} s old, more than "
                                    f"{max_age_s:.0f} s", where=where)
        if -age_s > MAX_CLOCK_AHEAD_S:
            # A landmark whose clock runs ahead would sign receipts that never age out.
            raise VerificationError(f"the newest receipt ends {-age_s:.0f} s in the future (more "
                                    f"than {MAX_CLOCK_AHEAD_S:.0f} s of clock difference): its "
                                    "age cannot be checked", where=where)
    order = sorted(best)
    return Evidence(
        landmarks=tuple(catalog.landmarks[i] for i in order),
        rtt_ms=np.array([best[i].min_rtt_ms for i in order], dtype=float),
        host_key=host_key,
        receipts=tuple(best[i] for i in order),
        challenge=bundle_challenge,
        uncertainty_km=np.array([catalog.uncertainty_km[i] for i in order], dtype=float),
        catalog_signer=catalog.signer_key,
        start_unix_ns=start,
        end_unix_ns=end,
        source=where,
        catalog_path=catalog.path,
        catalog_sha256=catalog.sha256,
    )


def _check_receipt(r: Receipt, entry: Mapping[str, Any], catalog: SignedCatalog, host_key: bytes,
                   challenge: bytes) -> int:
    """Index of ``r``'s landmark in ``catalog``; raises naming what does not match."""
    idx = catalog.index_of_key(r.landmark_key)
    if idx is None:
        raise VerificationError(f"unknown landmark: {r.landmark_id!r} signs with key "
                                f"{crypto.key_id(r.landmark_key)}, which the catalog does not "
                                "pin")
    r.check_signature()
    lm = catalog.landmarks[idx]
    if r.landmark_id != lm.id:
        raise VerificationError(f"the receipt names landmark {r.landmark_id!r} but is signed by "
                                f"the key of {lm.id!r}")
    named = entry.get("landmark")
    if named is not None and named != r.landmark_id:
        raise VerificationError(f"listed as {named!r} but the receipt is from "
                                f"{r.landmark_id!r}")
    if (r.lat_e7, r.lon_e7) != (round(lm.lat_deg * 1e7), round(lm.lon_deg * 1e7)):
        raise VerificationError(f"landmark {lm.id!r} served position ({r.lat_deg}, "
                                f"{r.lon_deg}), the catalog pins ({lm.lat_deg}, {lm.lon_deg})")
    if r.host_key != host_key:
        raise VerificationError(f"receipt of {lm.id!r} is for another host key "
                                f"({crypto.key_id(r.host_key)}, not {crypto.key_id(host_key)})")
    if r.challenge != challenge:
        raise VerificationError(f"receipt of {lm.id!r} answers another challenge")
    if r.min_rtt_ns <= 0:
        raise VerificationError(f"receipt of {lm.id!r} has no positive RTT")
    return idx


def check_bundle(path: str | Path, catalog: SignedCatalog, *, challenge: bytes | None = None,
                 max_span_s: float = DEFAULT_MAX_SPAN_S, max_age_s: float | None = None,
                 now_unix_s: float | None = None) -> Evidence:
    """Re-check the evidence bundle at ``path`` against ``catalog`` (see :func:`check_document`).

    Raises :class:`VerificationError` naming the file and what failed.
    """
    doc, where = _load(path)
    return check_document(doc, catalog, where=where, formats=(BUNDLE_FORMAT,),
                          challenge=challenge, max_span_s=max_span_s, max_age_s=max_age_s,
                          now_unix_s=now_unix_s)


#: With ``max_age_s``, the most a receipt's end may lie ahead of this machine's clock (s): the
#: landmarks' and the verifier's clocks may differ a little, not by hours.
MAX_CLOCK_AHEAD_S = 300.0


def build_bundle(receipts_path: str | Path, catalog: SignedCatalog, out: str | Path | None = None,
                 *, challenge: bytes | None = None, max_span_s: float = DEFAULT_MAX_SPAN_S,
                 max_age_s: float | None = None, now_unix_s: float | None = None) -> Evidence:
    """Check a prover's receipts file and, if ``out`` is given, write the bundle there."""
    doc, where = _load(receipts_path)
    evidence = check_document(doc, catalog, where=where, formats=(RECEIPTS_FORMAT,),
                              challenge=challenge, max_span_s=max_span_s, max_age_s=max_age_s,
                              now_unix_s=now_unix_s)
    if out is not None:
        write_bundle(out, evidence, catalog)
    return evidence


def load_evidence(*, catalog: str | Path, catalog_keys: Sequence[bytes],
                  check: str | Path | None = None, receipts: str | Path | None = None,
                  bundle_out: str | Path | None = None, challenge: bytes | None = None,
                  max_span_s: float | None = None, max_age_s: float | None = None) -> Evidence:
    """Evidence from a bundle (``check``) or a prover's receipts file (``receipts``, optionally
    written out as a bundle), checked against the signed ``catalog`` whose signer must be one of
    ``catalog_keys``. What ``rttgeo verify --check / --receipts`` does before deciding."""
    if (check is None) == (receipts is None):
        raise ValueError("give exactly one of check and receipts")
    cat = load_signed_catalog(catalog, trusted_keys=catalog_keys)
    span = DEFAULT_MAX_SPAN_S if max_span_s is None else max_span_s
    if check is not None:
        return check_bundle(check, cat, challenge=challenge, max_span_s=span, max_age_s=max_age_s)
    assert receipts is not None
    return build_bundle(receipts, cat, bundle_out, challenge=challenge, max_span_s=span,
                        max_age_s=max_age_s)
