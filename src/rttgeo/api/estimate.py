"""``rttgeo.estimate``: where a host is, from RTTs already measured.

>>> import rttgeo
>>> r = rttgeo.estimate({"atlas-6025": 4.1, "atlas-6031": 9.8, "atlas-6042": 12.5})  # doctest: +SKIP
>>> r.estimate.lat_deg, r.confidence.grade                                            # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rttgeo import __version__
from rttgeo.api._catalog import LandmarksLike, check_method, resolve_landmarks
from rttgeo.api._results import (
    EstimateResult,
    Provenance,
    WarningLog,
    grade_confidence,
    source_sha256,
)
from rttgeo.errors import InputError, SamplesError, StoreError
from rttgeo.models import Landmark, Mesh, Sample

__all__ = ["RttsLike", "estimate"]

#: What ``estimate`` reads RTTs from (see its docstring).
RttsLike = Mapping[str, float | None] | Sequence[Sample] | ArrayLike | str | os.PathLike[str]



def estimate(
    rtts: RttsLike,
    *,
    landmarks: LandmarksLike = None,
    method: str | None = None,
    params: Mapping[str, Any] | None = None,
    calibration: str | os.PathLike[str] | Mesh | None = None,
    target: str | None = None,
    campaign: int | None = None,
) -> EstimateResult:
    """Estimate where a host is from its RTTs to ``landmarks``; returns an :class:`EstimateResult`.

    ``rtts`` is one of
      - a mapping ``{landmark_id: rtt_ms}`` (None or NaN: lost),
      - a sequence of :class:`~rttgeo.models.Sample` (the minimum per landmark is used),
      - an array of RTTs in ms in the order of ``landmarks`` (NaN: not measured),
      - the path of a samples CSV or of a campaign store (SQLite) written by ``rttgeo measure``.
    ``landmarks``: a catalog file, Landmark values, or None for the bundled RIPE Atlas anchors.
    ``method``: one of :data:`rttgeo.estimate.METHODS` (default: the library's best);
    ``params``: its hyper-parameters. ``calibration``: a dataset name or folder
    (:func:`rttgeo.datasets.load`) or a :class:`~rttgeo.models.Mesh` holding RTTs between the
    catalog's landmarks (same ids); default: pooled calibration. ``target`` picks one host's
    samples when a file or sample list holds several; ``campaign`` one campaign of a store (default:
    the latest, or the latest of ``target``).

    Raises :class:`~rttgeo.errors.InputError` (and its subclasses, naming file, line and field) for
    bad input, :class:`~rttgeo.errors.StoreError` for an unreadable store and
    :class:`~rttgeo.errors.EstimationError` when no landmark is usable.
    """
    method = check_method(method)
    cat = resolve_landmarks(landmarks)
    vector, source, camp_info = _rtt_vector(rtts, cat.landmarks, target, campaign)
    if not np.isfinite(vector).any():
        raise InputError("every probe was lost: nothing to estimate from", where=source)
    mesh, calib = _calibration_mesh(calibration, cat.landmarks, cat.label)
    log = WarningLog()
    with log.capture():
        from rttgeo.estimate import make_estimator

        try:
            estimator = make_estimator(method, **dict(params or {}))
        except (TypeError, ValueError) as exc:
            raise InputError(f"bad hyper-parameter for {method}: {exc}", field="params") from None
        est = estimator.fit(mesh).locate(vector)
    assert not isinstance(est, list)
    ids = [lm.id for lm in cat.landmarks]
    return EstimateResult(
        estimate=est,
        confidence=grade_confidence(est, vector, ids),
        landmarks=cat.landmarks,
        rtts_ms=vector,
        warnings=log.messages,
        provenance=Provenance(
            rttgeo_version=__version__,
            method=method,
            source=source,
            source_sha256=source_sha256(rtts),
            catalog=cat.label,
            catalog_sha256=cat.sha256,
            calibration=calib,
            campaign=camp_info,
        ),
    )


# -- RTT inputs ----------------------------------------------------------------------------------
def _rtt_vector(
    rtts: RttsLike, landmarks: Sequence[Landmark], target: str | None, campaign: int | None
) -> tuple[np.ndarray, str, dict[str, Any] | None]:
    """(RTT vector in catalog order, source label, campaign info) from any accepted input."""
    if isinstance(rtts, str | os.PathLike):
        return _from_file(Path(rtts), landmarks, target, campaign)
    if campaign is not None:
        raise InputError("a campaign id applies to a campaign store only", field="campaign")
    if isinstance(rtts, Mapping):
        return align(rtts, landmarks, "mapping"), "mapping", None
    if isinstance(rtts, Sequence) and rtts and all(isinstance(s, Sample) for s in rtts):
        return align(min_per_landmark(rtts, target), landmarks, "samples"), "samples", None
    if target is not None:
        raise InputError("a target applies to samples or a file only", field="target")
    a = np.asarray(rtts, dtype=float)
    if a.shape != (len(landmarks),):
        raise InputError(
            f"an RTT array must have shape ({len(landmarks)},), one RTT per landmark in catalog "
            f"order; got shape {a.shape} (or pass a mapping {{landmark_id: rtt_ms}})",
            field="rtts",
        )
    return a, "array", None


def align(rtts: Mapping[str, float | None], landmarks: Sequence[Landmark], source: str) -> np.ndarray:
    """RTT vector in catalog order (NaN where not measured); SamplesError for an unknown id or an
    RTT that is not a positive finite number (None or NaN: lost)."""
    from rttgeo.store import align_rtts

    clean: dict[str, float] = {}
    for lid, v in rtts.items():
        try:
            x = math.nan if v is None else float(v)
        except (TypeError, ValueError):
            raise SamplesError(f"RTT of {lid!r} is not a number: {v!r}", where=source,
                               field="rtt_ms") from None
        if not (math.isnan(x) or (math.isfinite(x) and x > 0)):
            raise SamplesError(
                f"RTT of {lid!r} is {v!r}: a lost probe is None or NaN, never 0, negative or "
                "infinite",
                where=source,
                field="rtt_ms",
            )
        clean[lid] = x
    return align_rtts(clean, list(landmarks), source)


def min_per_landmark(samples: Sequence[Sample], target: str | None) -> dict[str, float]:
    """Minimum RTT per landmark over ``samples`` of ``target`` (NaN if every probe was lost)."""
    targets = sorted({s.target for s in samples})
    if target is None and len(targets) > 1:
        raise SamplesError(
            f"samples of {len(targets)} targets ({', '.join(targets[:5])}): choose one with target=",
            where="samples",
            field="target",
        )
    best: dict[str, float] = {}
    for s in samples:
        if target is not None and s.target != target:
            continue
        old = best.get(s.landmark, math.nan)
        if s.rtt_ms is None:
            best.setdefault(s.landmark, math.nan)
        else:
            best[s.landmark] = s.rtt_ms if math.isnan(old) else min(old, s.rtt_ms)
    if not best:
        raise SamplesError(f"no sample of target {target!r} (targets: {', '.join(targets)})",
                           where="samples", field="target")
    return best


def _from_file(
    path: Path, landmarks: Sequence[Landmark], target: str | None, campaign: int | None
) -> tuple[np.ndarray, str, dict[str, Any] | None]:
    if not path.is_file():
        why = "is a directory, not a samples file" if path.is_dir() else "no such file"
        raise SamplesError(why, where=str(path))
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(b"SQLite format 3"):
        ids, mins, info = read_store(path, campaign=campaign, target=target)
        return align(dict(zip(ids, mins.tolist(), strict=True)), landmarks, str(path)), str(path), info
    if campaign is not None:
        raise InputError(f"{path} is a samples CSV, not a campaign store", field="campaign")
    from rttgeo.store import read_rtts

    return align(read_rtts(path, target), landmarks, str(path)), str(path), None


def read_store(
    path: Path, *, campaign: int | None = None, target: str | None = None
) -> tuple[tuple[str, ...], np.ndarray, dict[str, Any]]:
    """``(landmark_ids, min_rtt_ms, campaign_info)`` of one campaign of a store.

    The campaign is ``campaign`` (its target must be ``target`` when both are given), else the
    latest campaign of ``target``, else the latest. ``campaign_info`` says which was read (id,
    target, protocol, status, started, samples) and how many the store holds.
    """
    try:
        return _read_store(path, campaign, target)
    except StoreError as exc:  # a store given to read is an input file: a bad one is bad input
        raise SamplesError(str(exc)) from None


def _read_store(
    path: Path, campaign: int | None, target: str | None
) -> tuple[tuple[str, ...], np.ndarray, dict[str, Any]]:
    from rttgeo.store import open_readonly

    with open_readonly(path) as store:
        infos = store.campaigns()
        if not infos:
            raise StoreError(f"{path}: the store holds no campaign")
        targets = sorted({i.target for i in infos})
        if campaign is not None:
            chosen = [i for i in infos if i.id == campaign]
            if not chosen:
                raise InputError(
                    f"no campaign {campaign} in {path} (it holds "
                    f"{', '.join(str(i.id) for i in infos)})",
                    field="campaign",
                )
            if target is not None and chosen[0].target != target:
                raise InputError(
                    f"campaign {campaign} of {path} measured target {chosen[0].target!r}, "
                    f"not {target!r}",
                    field="target",
                )
        elif target is not None:
            chosen = [i for i in infos if i.target == target]
            if not chosen:
                raise InputError(
                    f"no campaign of target {target!r} in {path} (targets: {', '.join(targets)})",
                    field="target",
                )
        else:
            chosen = infos
        info = chosen[-1]
        ids, mins = store.min_rtts(info.id)
    import datetime as dt

    started = dt.datetime.fromtimestamp(info.started_unix_ns / 1e9, dt.UTC)
    return ids, mins, {
        "store": str(path),
        "id": info.id,
        "target": info.target,
        "protocol": info.protocol,
        "status": info.status,
        "started_utc": started.isoformat(timespec="seconds"),
        "n_samples": info.n_samples,
        "n_lost": info.n_lost,
        "n_campaigns_in_store": len(infos),
    }


# -- calibration ---------------------------------------------------------------------------------
def _calibration_mesh(
    calibration: str | os.PathLike[str] | Mesh | None, landmarks: Sequence[Landmark], label: str
) -> tuple[Mesh, str]:
    """The mesh the estimator is fitted on, and a description of it."""
    if calibration is None:
        from rttgeo.estimate.defaults import default_calibration_source

        return Mesh.from_landmarks(landmarks, name=label), default_calibration_source()
    if isinstance(calibration, Mesh):
        data, name = calibration, calibration.name or "given mesh"
    else:
        from rttgeo.api._catalog import load_dataset

        name = os.fspath(calibration)
        data = load_dataset(name, "calibration")
    missing = [lm.id for lm in landmarks if lm.id not in data.ids]
    if missing:
        raise InputError(
            f"{len(missing)} catalog landmark(s) are not in the calibration mesh {name}: "
            f"{', '.join(missing[:8])}" + (" ..." if len(missing) > 8 else ""),
            field="calibration",
        )
    sub = data.subset([data.index(lm.id) for lm in landmarks])
    mesh = Mesh(
        sub.ids,
        np.array([lm.lat_deg for lm in landmarks]),
        np.array([lm.lon_deg for lm in landmarks]),
        sub.rtt_ms,
        sub.bad,
        name,
    )
    where = f"{data.source}, sha256 {data.sha256}" if data.source else "in memory"
    return mesh, f"mesh {name} ({len(landmarks)} landmarks; {where})"

