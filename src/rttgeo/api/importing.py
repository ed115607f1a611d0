"""``import_files``: other tools' measurements into a campaign store (``rttgeo import``).

Each file is read twice: a first pass checks every line and counts (so a malformed file raises
before anything is written, and the store is not touched), the second writes its samples into a new
campaign of the store, in transactions of 10,000 rows. Nothing is dropped without a count: lines
without a sample come back in :attr:`FileImport.skipped` (the first few with file:line and why).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rttgeo.errors import InputError, SamplesError, StoreError
from rttgeo.models import Sample

__all__ = ["FileImport", "ImportResult", "import_files", "read_samples"]

#: Examples of skipped lines kept per file.
MAX_EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class FileImport:
    """What one file gave: samples (of which lost), targets, landmarks, skipped lines."""

    path: str
    format: str
    campaign_id: int | None
    n_samples: int
    n_lost: int
    n_targets: int
    first_target: str
    n_landmarks: int
    n_skipped: int
    n_malformed: int
    examples: tuple[tuple[str, str], ...] = ()
    unknown_landmarks: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The file's counts as JSON (``rttgeo import --json`` prints one line per file)."""
        return {
            "path": self.path,
            "format": self.format,
            "campaign_id": self.campaign_id,
            "n_samples": self.n_samples,
            "n_lost": self.n_lost,
            "n_targets": self.n_targets,
            "n_landmarks": self.n_landmarks,
            "n_skipped": self.n_skipped,
            "n_malformed": self.n_malformed,
            "skipped_examples": [{"where": w, "why": why} for w, why in self.examples],
            "unknown_landmarks": list(self.unknown_landmarks),
        }


@dataclass(frozen=True, slots=True)
class ImportResult:
    """All files of one import, and the store they went into (None for a check-only run)."""

    store: str | None
    files: tuple[FileImport, ...] = field(default_factory=tuple)

    @property
    def n_samples(self) -> int:
        """Samples of every file (written, or that would be written by a check-only run)."""
        return sum(f.n_samples for f in self.files)

    def to_json(self) -> dict[str, Any]:
        """``{"store", "n_samples", "files": [...]}``."""
        return {"store": self.store, "n_samples": self.n_samples,
                "files": [f.to_json() for f in self.files]}


def read_samples(
    path: Path,
    fmt: str,
    *,
    source: str,
    vantage: str | None,
    landmark_of: dict[str, str],
    skip_malformed: bool,
    on_skip: Callable[[str, str, bool], None],
) -> Iterator[Sample]:
    """The samples of ``path`` in format ``fmt``; lines without a sample go to ``on_skip``."""
    from rttgeo.importers import (
        Skipped,
        read_longform,
        read_ping_text,
        read_scamper_json,
    )

    if fmt == "atlas":
        from rttgeo.atlas.results import read_atlas_results

        def skip(where: str, why: str) -> None:
            on_skip(where, why, why.startswith("malformed:"))

        yield from read_atlas_results(path, on_skip=skip, skip_malformed=skip_malformed)
        return
    if fmt == "ping":
        items = read_ping_text(path, source=source, vantage=vantage, landmark_of=landmark_of,
                               skip_malformed=skip_malformed)
    elif fmt == "scamper":
        items = read_scamper_json(path, source=source, vantage=vantage, landmark_of=landmark_of,
                                  skip_malformed=skip_malformed)
    elif fmt in ("csv", "parquet"):
        items = read_longform(path, skip_malformed=skip_malformed)
    else:
        raise InputError(f"unknown format {fmt!r}", field="--format")
    for it in items:
        if isinstance(it, Skipped):
            on_skip(it.where, it.reason, it.malformed)
        else:
            yield it


def import_files(
    paths: Sequence[str | Path],
    store: str | Path | None,
    *,
    fmt: str = "auto",
    source: str = "self",
    vantage: str | None = None,
    catalog: str | Path | None = None,
    skip_malformed: bool = False,
) -> ImportResult:
    """Import ``paths`` into ``store`` (None: check and count only, write nothing).

    ``fmt``: ``auto`` (sniffed per file), ``ping``, ``scamper``, ``atlas``, ``csv``, ``parquet``.
    ``source`` / ``vantage``: who ran ping / scamper (see :mod:`rttgeo.importers.text`); their
    destinations map to landmark ids through ``catalog``'s addresses (default: the bundled one).
    Raises :class:`SamplesError` (file:line) on the first malformed line unless ``skip_malformed``.
    """
    from rttgeo.catalog import resolve_catalog
    from rttgeo.importers import sniff_format
    from rttgeo.importers.records import FORMATS

    if fmt != "auto" and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose auto or one of {', '.join(FORMATS)}",
                         field="--format")
    _, landmarks = resolve_catalog(catalog)
    landmark_of = {lm.address: lm.id for lm in landmarks if lm.address}
    known = {lm.id for lm in landmarks}
    plans: list[tuple[Path, str, FileImport]] = []
    for raw in paths:
        p = Path(raw)
        if not p.is_file():
            raise SamplesError("no such file", where=str(p))
        f = sniff_format(p) if fmt == "auto" else fmt
        plans.append((p, f, _check(p, f, source, vantage, landmark_of, known, skip_malformed)))
    if store is None:
        return ImportResult(None, tuple(fi for _, _, fi in plans))
    from rttgeo.datasets.bundle import sha256_of
    from rttgeo.store import CampaignStore, add_samples

    done: list[FileImport] = []
    with CampaignStore(store) as st:
        for p, f, fi in plans:
            cid = st.begin_campaign(
                target=fi.first_target if fi.n_targets == 1 else f"{fi.n_targets} targets",
                protocol="icmp" if f in ("ping", "atlas") else "",
                params={"kind": "import", "format": f, "source_file": str(p),
                        "source_sha256": sha256_of([p]), "vantage": vantage, "ran_on": source},
            )
            try:
                n = add_samples(st, cid, read_samples(p, f, source=source, vantage=vantage,
                                                      landmark_of=landmark_of,
                                                      skip_malformed=skip_malformed,
                                                      on_skip=lambda *a: None))
            except BaseException:  # an error or Ctrl-C: no half-imported campaign stays behind
                try:
                    st.discard_campaign(cid)
                except StoreError:
                    st.end_campaign(cid, "failed")
                raise
            st.end_campaign(cid, "complete")
            if n != fi.n_samples:  # pragma: no cover - the file changed between the passes
                raise SamplesError(f"the file changed while it was imported ({fi.n_samples} then "
                                   f"{n} samples)", where=str(p))
            done.append(replace(fi, campaign_id=cid))
    return ImportResult(str(store), tuple(done))



def _check(p: Path, f: str, source: str, vantage: str | None, landmark_of: dict[str, str],
           known: set[str], skip_malformed: bool) -> FileImport:
    counts = {"skipped": 0, "malformed": 0}
    examples: list[tuple[str, str]] = []

    def on_skip(where: str, why: str, malformed: bool) -> None:
        counts["malformed" if malformed else "skipped"] += 1
        if len(examples) < MAX_EXAMPLES:
            examples.append((where, why))

    n = lost = 0
    targets: set[str] = set()
    first = ""
    lms: set[str] = set()
    for s in read_samples(p, f, source=source, vantage=vantage, landmark_of=landmark_of,
                          skip_malformed=skip_malformed, on_skip=on_skip):
        n += 1
        lost += s.rtt_ms is None
        if not targets:
            first = s.target
        targets.add(s.target)
        lms.add(s.landmark)
    if n == 0:
        raise SamplesError(
            f"no sample in the file ({counts['skipped']} lines skipped, {counts['malformed']} "
            "malformed)" + (f"; first: {examples[0][0]}: {examples[0][1]}" if examples else ""),
            where=str(p),
        )
    return FileImport(str(p), f, None, n, lost, len(targets), first, len(lms), counts["skipped"],
                      counts["malformed"], tuple(examples), tuple(sorted(lms - known)))
