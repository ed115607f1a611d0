"""``prove``: run the host's side of the signed challenge-response against a signed catalog."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rttgeo import crypto
from rttgeo.catalog.signed import SignedCatalog, load_signed_catalog
from rttgeo.errors import InputError
from rttgeo.prove import Prover, ProveResult, ProveTarget
from rttgeo.receipt import decode_receipt
from rttgeo.verify.evidence import write_receipts

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["ProveReport", "prove", "prove_every"]


@dataclass(frozen=True, slots=True)
class ProveReport:
    """What one ``prove`` run got: a result per landmark tried (in catalog order), the host key
    and challenge the receipts are bound to, and the receipts file written (``out``, or "")."""

    host_key: bytes
    challenge: bytes
    results: tuple[ProveResult, ...]
    out: str = ""
    priority: str = ""

    @property
    def receipts(self) -> int:
        return sum(r.ok for r in self.results)

    def to_json(self) -> dict[str, object]:
        """The report as JSON: per landmark its receipt's minimum RTT and rounds, or the error."""
        rows: list[dict[str, object]] = []
        for r in self.results:
            row: dict[str, object] = {"landmark": r.landmark_id, "address": r.address,
                                      "port": r.port, "ok": r.ok}
            if r.ok:
                rec = decode_receipt(r.receipt)
                row.update(min_rtt_ms=rec.min_rtt_ms, rounds=rec.rounds, clock=rec.clock_name,
                           receipt=r.receipt.hex(),
                           host_answer_us_median=sorted(r.answer_us)[len(r.answer_us) // 2])
            else:
                row["error"] = r.error
            rows.append(row)
        return {"host_key": self.host_key.hex(), "challenge": self.challenge.hex(),
                "priority": self.priority, "receipts": self.receipts, "out": self.out,
                "landmarks": rows}

    def describe(self) -> str:
        """One line per landmark: the landmark-timed minimum RTT from its receipt, or the error."""
        lines = [f"host key {self.host_key.hex()}", f"challenge {self.challenge.hex()}"]
        if self.priority:
            lines.append(f"answered at {self.priority} priority")
        for r in self.results:
            if r.ok:
                rec = decode_receipt(r.receipt)
                own = sorted(r.answer_us)
                lines.append(f"  {r.landmark_id:<24} {rec.min_rtt_ms:10.3f} ms  {rec.rounds} rounds "
                             f"({rec.clock_name} clock); this host answered in "
                             f"{own[len(own) // 2]:.0f} µs (median, its own clock)")
            else:
                lines.append(f"  {r.landmark_id:<24} failed: {r.error}")
        lines.append(f"{self.receipts} receipt(s) from {len(self.results)} landmark(s)")
        return "\n".join(lines)


def prove(
    catalog: SignedCatalog | str | Path,
    key: Ed25519PrivateKey | str | Path,
    *,
    landmarks: Sequence[str] = (),
    challenge: bytes | None = None,
    rounds: int = 10,
    timeout_s: float = 1.0,
    retries: int = 4,
    parallel: int = 4,
    busy_poll: bool | None = None,
    rt_priority: int | None = None,
    catalog_keys: Sequence[bytes] | None = None,
    out: str | Path | None = None,
    prover: Prover | None = None,
) -> ProveReport:
    """Open a session with each landmark of ``catalog`` (or those named in ``landmarks``) that
    has an address and a port, collect the receipts and, with ``out``, write the receipts file.

    ``key``: the host's private key (or its PEM file). ``challenge``: the verifier's 32 bytes
    (default: random, which proves no freshness; see docs/verify.md). ``catalog_keys``: trusted
    catalog signers (None: only check that the catalog is intact). ``prover`` replaces the real
    one (tests). Raises :class:`InputError` on bad arguments, MeasurementError if no socket opens.
    """
    cat = catalog if isinstance(catalog, SignedCatalog) else load_signed_catalog(
        catalog, trusted_keys=catalog_keys)
    wanted = list(dict.fromkeys(landmarks))
    ids = [lm.id for lm in cat.landmarks]
    unknown = [w for w in wanted if w not in ids]
    if unknown:
        raise InputError(f"not in the catalog: {', '.join(unknown)}", field="--landmark")
    targets: list[ProveTarget] = []
    skipped: list[ProveResult] = []
    for lm, pk in zip(cat.landmarks, cat.public_keys, strict=True):
        if wanted and lm.id not in wanted:
            continue
        if not lm.address or not lm.port:
            skipped.append(ProveResult(lm.id, lm.address, lm.port or 0,
                                       error="the catalog gives no address and port"))
            continue
        targets.append(ProveTarget(lm.id, lm.address, lm.port, pk))
    if not targets and not skipped:
        raise InputError("no landmark to prove against", field="--landmark")
    if prover is None:
        private_key = key if not isinstance(key, str | Path) else crypto.load_private_key(key)
        prover = Prover(private_key, challenge=os.urandom(32) if challenge is None else challenge,
                        rounds=rounds, timeout_s=timeout_s, retries=retries, parallel=parallel,
                        busy_poll=busy_poll, rt_priority=rt_priority)
    got = {r.landmark_id: r for r in prover.run(targets)} if targets else {}
    got.update({r.landmark_id: r for r in skipped})
    results = tuple(got[lm.id] for lm in cat.landmarks if lm.id in got)
    written = ""
    if out is not None:
        written = str(write_receipts(
            out, host_key=prover.public_key, challenge=prover.challenge,
            receipts=[(r.landmark_id, r.receipt) for r in results if r.ok],
            failures=[(r.landmark_id, r.error) for r in results if not r.ok]))
    return ProveReport(prover.public_key, prover.challenge, results, written,
                       getattr(prover, "priority", ""))


def prove_every(
    catalog: SignedCatalog | str | Path,
    key: Ed25519PrivateKey | str | Path,
    *,
    every_s: float,
    out: str | Path,
    count: int | None = None,
    stop: threading.Event | None = None,
    wait: Callable[[float], bool] | None = None,
    on_report: Callable[[ProveReport], None] | None = None,
    catalog_keys: Sequence[bytes] | None = None,
    **options: Any,
) -> ProveReport | None:
    """Run :func:`prove` every ``every_s`` seconds and rewrite ``out`` with each run's fresh
    receipts: a standing proof that a verifier can fetch at any time.

    Runs start ``every_s`` apart (start to start, on the monotonic clock); a run longer than the
    period is followed at once by the next, never by a burst of runs to catch up. Each run is
    bounded by its own options (``timeout_s`` x (``retries`` + 1) per step), and the file is
    replaced atomically, so a reader sees the previous complete file or the new one. The catalog
    and key are read once. Without a ``challenge`` every run draws a new random one. Stops after
    ``count`` runs (None: never), or once ``stop`` is set (checked between runs: a run in progress
    finishes and is written). ``wait(seconds)`` replaces the pause between runs: it returns True
    to stop (default: ``stop.wait``; the command line wakes it on SIGTERM).
    ``on_report(report)`` is called after each run. Returns the last report (None if ``stop``
    was set before the first run). ``options`` are :func:`prove`'s.
    """
    if not (math.isfinite(every_s) and every_s > 0):
        raise InputError(f"the period must be a positive number of seconds, got {every_s}",
                         field="every_s")
    if count is not None and count < 1:
        raise InputError(f"count must be >= 1, got {count}", field="count")
    cat = catalog if isinstance(catalog, SignedCatalog) else load_signed_catalog(
        catalog, trusted_keys=catalog_keys)
    private_key = key if not isinstance(key, str | Path) else crypto.load_private_key(key)
    stop = stop or threading.Event()
    pause = wait or stop.wait
    last: ProveReport | None = None
    runs = 0
    due = time.monotonic()
    while not stop.is_set():
        last = prove(cat, private_key, out=out, **options)
        runs += 1
        if on_report is not None:
            on_report(last)
        if count is not None and runs >= count:
            break
        due = max(due + every_s, time.monotonic())
        if pause(max(0.0, due - time.monotonic())):
            break
    return last
