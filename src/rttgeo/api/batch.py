"""Batch estimation: every target of a store or a long-form file, in bounded memory, in parallel.

:func:`estimate_batch` streams the samples in chunks of ``chunk_targets`` targets (the minimum RTT
per target and landmark, as a (targets x landmarks) matrix in catalog order), spreads the chunks over
worker processes (``workers``) or a Dask cluster (``dask``: ``"local"`` or ``tcp://SCHEDULER``; the
``dask`` extra, imported lazily; one task per chunk), and writes one Parquet row per target as the
results come back, in input order. A target that cannot be estimated gets a row with its ``error``
instead of stopping the run. Every worker fits the same estimator on the same mesh, so results do
not depend on how the work is spread: the same input gives the same file, byte for byte in values,
single-process or on a cluster (a test holds this).

Memory: at most ``2 x workers`` chunks are in flight; the reader keeps one chunk and the
``(targets,)`` set of finished target ids (to refuse a file whose rows of one target are not
contiguous). Sources:

- a campaign store (SQLite): ``SELECT target, landmark, MIN(rtt_ms) ... GROUP BY target, landmark
  ORDER BY target``, opened with ``rttgeo.store.open_readonly``;
- a long-form Parquet or CSV file ``target, landmark, rtt_ms[, ...]`` whose rows are grouped by
  target (as ``rttgeo import`` and most tools write them; sort it otherwise).

Output columns: ``target, lat_deg, lon_deg, area_km2, region_geojson, method, consistent,
n_landmarks_used, landmarks_used, note, error``. With ``region_format="wkb"`` the region column is
``region_wkb`` instead: the same polygons as ISO WKB (lon/lat, via shapely, the ``geo`` extra), and
the file carries GeoParquet 1.0.0 metadata naming it, so GIS tools read it as a geometry column.
"""

from __future__ import annotations

import collections
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo.errors import InputError, RttgeoError, SamplesError, require
from rttgeo.models import Landmark, Mesh

__all__ = ["BATCH_COLUMNS", "REGION_FORMATS", "BatchResult", "batch_columns", "estimate_batch",
           "iter_target_chunks"]

BATCH_COLUMNS = ("target", "lat_deg", "lon_deg", "area_km2", "region_geojson", "method",
                 "consistent", "n_landmarks_used", "landmarks_used", "note", "error")

#: How the region column is written: RFC 7946 GeoJSON text, or WKB bytes (GeoParquet).
REGION_FORMATS = ("geojson", "wkb")

#: GeoParquet version of the ``geo`` metadata written with WKB regions
#: (https://github.com/opengeospatial/geoparquet, format-specs/geoparquet.md).
GEOPARQUET_VERSION = "1.0.0"


def batch_columns(region_format: str = "geojson") -> tuple[str, ...]:
    """The output columns: :data:`BATCH_COLUMNS`, the region column named ``region_<format>``."""
    return tuple(f"region_{region_format}" if c == "region_geojson" else c for c in BATCH_COLUMNS)


def _region_value(region: Any, region_format: str) -> str | bytes:
    """The region as GeoJSON text, or as WKB of the same GeoJSON geometry (lon/lat)."""
    import json

    doc = region.to_geojson()
    if region_format == "geojson":
        return json.dumps(doc)
    shapely = require("shapely", "geo")
    return shapely.to_wkb(shapely.geometry.shape(doc))

Chunk = tuple[list[str], np.ndarray]


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a batch run did: rows written, of which errors, time and how it was spread."""

    out: str
    method: str
    n_targets: int
    n_errors: int
    elapsed_s: float
    workers: int
    engine: str


# -- reading -------------------------------------------------------------------------------------
class _Grouper:
    """Accumulates (target ordinal, landmark index, rtt) rows into chunks of whole targets."""

    def __init__(self, n_landmarks: int, chunk_targets: int, where: str) -> None:
        self.n = n_landmarks
        self.chunk = chunk_targets
        self.where = where
        self.ids: list[str] = []
        self.rows: list[np.ndarray] = []
        self.done: set[str] = set()

    def add(self, targets: np.ndarray, lmk: np.ndarray, rtt: np.ndarray) -> Iterator[Chunk]:
        """Rows of one read batch (``targets`` object array grouped by target)."""
        if len(targets) == 0:
            return
        starts = np.flatnonzero(np.concatenate(([True], targets[1:] != targets[:-1])))
        ends = np.append(starts[1:], len(targets))
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            t = str(targets[s])
            if self.ids and self.ids[-1] == t:
                row = self.rows[-1]
            else:
                if t in self.done:
                    raise SamplesError(
                        f"the rows of target {t!r} are not contiguous: sort the file by target "
                        "(rttgeo import and campaign stores already give them grouped)",
                        where=self.where)
                if len(self.ids) >= self.chunk:
                    yield from self.flush()
                self.done.add(t)
                self.ids.append(t)
                row = np.full(self.n, np.inf)
                self.rows.append(row)
            np.fmin.at(row, lmk[s:e], rtt[s:e])

    def flush(self) -> Iterator[Chunk]:
        if self.ids:
            m = np.vstack(self.rows)
            m[np.isinf(m)] = np.nan
            yield self.ids, m
            self.ids, self.rows = [], []


def _landmark_index(lmk: Any, ids: Sequence[str], where: str) -> np.ndarray:
    """Indices of landmark ids (a pyarrow array) in ``ids``; SamplesError naming an unknown one."""
    pa = require("pyarrow", "measure")
    pc = require("pyarrow.compute", "measure")
    idx = pc.index_in(lmk, value_set=pa.array(list(ids), pa.string()))
    if idx.null_count:
        k = int(np.flatnonzero(np.asarray(idx.is_null().to_numpy(zero_copy_only=False)))[0])
        raise SamplesError(f"landmark {lmk[k].as_py()!r} is not in the catalog (--landmarks)",
                           where=where, field="landmark")
    return np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int64)


def _rtt_values(col: Any, where: str, first_row: int) -> np.ndarray:
    pc = require("pyarrow.compute", "measure")
    col = pc.cast(col, "double")
    rtt = np.array(col.to_numpy(zero_copy_only=False), dtype=float)  # a writable copy
    nulls = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    bad = ~nulls & ~(np.isfinite(rtt) & (rtt > 0))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise SamplesError(f"{rtt[k]!r} is not a positive finite RTT (a lost probe is empty / null)",
                           where=f"{where}: row {first_row + k + 1}", field="rtt_ms")
    rtt[nulls] = np.nan
    return rtt


def iter_target_chunks(source: str | Path, landmark_ids: Sequence[str], *,
                       chunk_targets: int = 2000, read_rows: int = 1 << 20) -> Iterator[Chunk]:
    """``(target ids, min RTT matrix (targets, landmarks))`` chunks of a store or long-form file.

    NaN = never measured or every probe lost. See the module docstring for the sources.
    """
    p = Path(source)
    if not p.is_file():
        raise SamplesError("no such file", where=str(p))
    with p.open("rb") as fh:
        head = fh.read(16)
    g = _Grouper(len(landmark_ids), chunk_targets, str(p))
    if head.startswith(b"SQLite format 3"):
        yield from _store_chunks(p, landmark_ids, g, read_rows)
    elif head.startswith(b"PAR1"):
        pq = require("pyarrow.parquet", "measure")
        try:
            pf = pq.ParquetFile(str(p))
        except Exception as exc:
            raise SamplesError(f"not a readable Parquet file ({exc})", where=str(p)) from None
        _need(pf.schema_arrow.names, p)
        row = 0
        for b in _parquet_batches(pf, read_rows, ["target", "landmark", "rtt_ms"]):
            tgt = np.asarray(b.column("target").to_numpy(zero_copy_only=False), dtype=object)
            lmk = _landmark_index(b.column("landmark"), landmark_ids, str(p))
            yield from g.add(tgt, lmk, _rtt_values(b.column("rtt_ms"), str(p), row))
            row += b.num_rows
    else:
        pcsv = require("pyarrow.csv", "measure")
        pa = require("pyarrow", "measure")
        try:
            reader = pcsv.open_csv(str(p), read_options=pcsv.ReadOptions(block_size=1 << 24),
                                   convert_options=pcsv.ConvertOptions(
                                       column_types={"target": pa.string(), "landmark": pa.string(),
                                                     "rtt_ms": pa.float64()},
                                       include_columns=["target", "landmark", "rtt_ms"]))
        except Exception as exc:  # ArrowInvalid: a missing column, a non-number
            raise SamplesError(f"not a long-form CSV ({exc})", where=str(p)) from None
        row = 0
        while True:
            try:
                b = reader.read_next_batch()
            except StopIteration:
                break
            except Exception as exc:
                raise SamplesError(f"CSV after data row {row}: {exc}", where=str(p)) from None
            tgt = np.asarray(b.column("target").to_numpy(zero_copy_only=False), dtype=object)
            lmk = _landmark_index(b.column("landmark"), landmark_ids, str(p))
            yield from g.add(tgt, lmk, _rtt_values(b.column("rtt_ms"), str(p), row))
            row += b.num_rows
    yield from g.flush()


def _parquet_batches(pf: Any, rows: int, columns: list[str]) -> Iterator[Any]:
    """Record batches of at most ``rows`` rows, one reader per row group: pyarrow's reader over a
    whole file keeps about 10 MB per million rows read until it ends (measured with pyarrow 26:
    +580 MB over 60 M rows), one reader per row group keeps memory flat."""
    for i in range(pf.num_row_groups):
        yield from pf.iter_batches(batch_size=rows, row_groups=[i], columns=columns)


def _need(cols: Sequence[str], p: Path) -> None:
    for c in ("target", "landmark", "rtt_ms"):
        if c not in cols:
            raise SamplesError(f"missing column {c!r} (long form: target, landmark, rtt_ms)",
                               where=str(p))


def _store_chunks(p: Path, landmark_ids: Sequence[str], g: _Grouper, read_rows: int
                  ) -> Iterator[Chunk]:
    from rttgeo.store import iter_min_rtt_rows, open_readonly

    index = {lid: k for k, lid in enumerate(landmark_ids)}
    with open_readonly(p) as st:
        for rows in iter_min_rtt_rows(st, read_rows):
            tgt = np.empty(len(rows), dtype=object)
            tgt[:] = [r[0] for r in rows]
            try:
                lmk = np.fromiter((index[r[1]] for r in rows), dtype=np.int64, count=len(rows))
            except KeyError as exc:
                raise SamplesError(f"landmark {exc.args[0]!r} is not in the catalog (--landmarks)",
                                   where=str(p), field="landmark") from None
            rtt = np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=float)
            yield from g.add(tgt, lmk, rtt)


# -- estimating ----------------------------------------------------------------------------------
_CACHE: dict[Any, Any] = {}


def _estimator(method: str, mesh: Mesh) -> Any:
    """The fitted estimator of ``(method, mesh)``, fitted once per process."""
    key = (method, mesh.ids, mesh.rtt_ms.tobytes(), mesh.lat_deg.tobytes(), mesh.lon_deg.tobytes())
    est = _CACHE.get(key)
    if est is None:
        from rttgeo.errors import RttgeoWarning
        from rttgeo.estimate import make_estimator

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RttgeoWarning)
            est = make_estimator(method).fit(mesh)
        _CACHE.clear()
        _CACHE[key] = est
    return est


def locate_chunk(method: str, mesh: Mesh, chunk: Chunk, region: bool = True,
                 region_format: str = "geojson") -> dict[str, list[Any]]:
    """Estimate every target of ``chunk``: the output columns (:func:`batch_columns`) as lists."""
    est = _estimator(method, mesh)
    ids, m = chunk
    rcol = f"region_{region_format}"
    cols: dict[str, list[Any]] = {c: [] for c in batch_columns(region_format)}
    for t, row in zip(ids, m, strict=True):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                e = est.locate(row)
                err = ""
            except RttgeoError as exc:
                e, err = None, str(exc)
        cols["target"].append(t)
        cols["method"].append(method)
        if e is None:
            for c in ("lat_deg", "lon_deg", "area_km2", rcol, "consistent",
                      "n_landmarks_used", "landmarks_used"):
                cols[c].append(None)
            cols["note"].append("")
            cols["error"].append(err or "no estimate")
            continue
        used = [d.id for d in e.landmarks if d.used]
        cols["lat_deg"].append(e.lat_deg)
        cols["lon_deg"].append(e.lon_deg)
        cols["area_km2"].append(None if math.isnan(e.area_km2) else e.area_km2)
        cols[rcol].append(_region_value(e.region, region_format)
                          if region and e.region is not None else None)
        cols["consistent"].append(bool(e.consistent))
        cols["n_landmarks_used"].append(len(used))
        cols["landmarks_used"].append(",".join(used))
        notes = [e.note] if e.note else []
        notes += sorted({str(w.message) for w in caught})
        cols["note"].append("; ".join(notes))
        cols["error"].append("")
    return cols


def _schema(region_format: str = "geojson") -> Any:
    """The output schema; with WKB regions, GeoParquet ``geo`` metadata naming the region column
    (WKB, polygons, no ``crs``: lon/lat, OGC:CRS84 by the specification's default)."""
    import json

    pa = require("pyarrow", "measure")
    rcol = f"region_{region_format}"
    schema = pa.schema([
        ("target", pa.string()), ("lat_deg", pa.float64()), ("lon_deg", pa.float64()),
        ("area_km2", pa.float64()), (rcol, pa.binary() if region_format == "wkb" else pa.string()),
        ("method", pa.string()), ("consistent", pa.bool_()), ("n_landmarks_used", pa.int32()),
        ("landmarks_used", pa.string()), ("note", pa.string()), ("error", pa.string()),
    ])
    if region_format != "wkb":
        return schema
    geo = {"version": GEOPARQUET_VERSION, "primary_column": rcol,
           "columns": {rcol: {"encoding": "WKB", "geometry_types": ["Polygon", "MultiPolygon"]}}}
    return schema.with_metadata({"geo": json.dumps(geo)})


_POOL_STATE: dict[str, Any] = {}


def _pool_init(method: str, mesh: Mesh, region: bool, region_format: str) -> None:
    _POOL_STATE.update(method=method, mesh=mesh, region=region, region_format=region_format)
    _estimator(method, mesh)


def _pool_task(chunk: Chunk) -> dict[str, list[Any]]:
    return locate_chunk(_POOL_STATE["method"], _POOL_STATE["mesh"], chunk, _POOL_STATE["region"],
                        _POOL_STATE["region_format"])


def _bounded(submit: Callable[[Chunk], Any], get: Callable[[Any], dict[str, list[Any]]],
             chunks: Iterator[Chunk], window: int) -> Iterator[tuple[int, dict[str, list[Any]]]]:
    """Results in input order with at most ``window`` chunks in flight."""
    inflight: collections.deque[tuple[int, Any]] = collections.deque()
    for chunk in chunks:
        inflight.append((len(chunk[0]), submit(chunk)))
        if len(inflight) >= window:
            n, fut = inflight.popleft()
            yield n, get(fut)
    while inflight:
        n, fut = inflight.popleft()
        yield n, get(fut)


def estimate_batch(
    source: str | Path,
    out: str | Path,
    *,
    landmarks: Sequence[Landmark],
    method: str = "rttgeo",
    calibration: Mesh | None = None,
    chunk_targets: int = 2000,
    workers: int = 1,
    dask: str | None = None,
    region: bool = True,
    region_format: str = "geojson",
    progress: bool = False,
) -> BatchResult:
    """Estimate every target of ``source`` into the Parquet file ``out`` (see the module doc).

    ``landmarks``: the catalog the samples' landmark ids refer to; ``calibration``: a mesh over
    them (or a superset) to fit on, default pooled calibration. ``workers``: processes (1 = in
    this process). ``dask``: ``"local"`` (a LocalCluster of ``workers`` processes) or a scheduler
    address. ``region``: False leaves the region column empty; ``region_format``: ``geojson``
    (text) or ``wkb`` (bytes, GeoParquet; needs shapely, the ``geo`` extra). Raises InputError /
    SamplesError on bad input before anything is written.
    """
    pq = require("pyarrow.parquet", "measure")
    pa = require("pyarrow", "measure")
    from rttgeo.estimate import METHODS

    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose from {', '.join(METHODS)}",
                         field="--method")
    if region_format not in REGION_FORMATS:
        raise InputError(f"unknown region format {region_format!r}; choose from "
                         f"{', '.join(REGION_FORMATS)}", field="--region-format")
    if region_format == "wkb":
        require("shapely", "geo")  # before the output exists
    if chunk_targets < 1 or workers < 1:
        raise InputError("--chunk and --workers must be at least 1")
    if not landmarks:
        raise InputError("the catalog has no landmark", field="--landmarks")
    ids = [lm.id for lm in landmarks]
    mesh = Mesh.from_landmarks(landmarks, name="catalog")
    if calibration is not None:
        from rttgeo.api.atlas import _calibration_mesh

        mesh = _calibration_mesh(landmarks, calibration)
    chunks = iter_target_chunks(source, ids, chunk_targets=chunk_targets)
    first = next(chunks, None)  # a malformed file fails here, before the output exists
    if first is None:
        raise SamplesError("no sample in the input", where=str(source))

    def all_chunks() -> Iterator[Chunk]:
        yield first
        yield from chunks

    bar = None
    if progress:
        try:
            tqdm = require("tqdm", "measure")
            bar = tqdm.tqdm(unit="target", file=sys.stderr, desc="estimating")
        except RttgeoError:  # pragma: no cover - tqdm absent
            bar = None
    t0 = time.perf_counter()
    n = errors = 0
    out_p = Path(out)
    tmp = out_p.with_name(out_p.name + ".partial")
    engine = "in-process" if workers == 1 and dask is None else f"{workers} processes"
    schema = _schema(region_format)
    writer = pq.ParquetWriter(str(tmp), schema)
    client = cluster = pool = None
    try:
        if dask is not None:
            distributed = require("distributed", "dask")
            if dask == "local":
                cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                                   processes=True, dashboard_address=None)
                client = distributed.Client(cluster)
                engine = f"dask LocalCluster, {workers} workers"
            else:
                client = distributed.Client(dask)
                engine = f"dask {dask}"
            mesh_f = client.scatter(mesh, broadcast=True)
            results = _bounded(
                lambda c: client.submit(locate_chunk, method, mesh_f, c, region, region_format,
                                        pure=False),
                lambda f: f.result(), all_chunks(), 2 * max(workers, len(client.nthreads())))
        elif workers > 1:
            import multiprocessing as mp

            pool = mp.get_context("spawn").Pool(workers, initializer=_pool_init,
                                                initargs=(method, mesh, region, region_format))
            results = _bounded(lambda c: pool.apply_async(_pool_task, (c,)),
                               lambda f: f.get(), all_chunks(), 2 * workers)
        else:
            results = ((len(c[0]), locate_chunk(method, mesh, c, region, region_format))
                       for c in all_chunks())
        for k, cols in results:
            writer.write_table(pa.table(cols, schema=schema))
            n += k
            errors += sum(1 for e in cols["error"] if e)
            if bar is not None:
                bar.update(k)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if bar is not None:
            bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    writer.close()
    tmp.replace(out_p)
    return BatchResult(str(out_p), method, n, errors, time.perf_counter() - t0, workers, engine)
