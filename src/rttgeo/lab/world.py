"""World files of the emulated Internet: hosts with positions and the delay between every pair.

A world is a list of hosts (name, ``lat_deg``, ``lon_deg``, role ``landmark`` or ``target``,
optional ``access_ms``) and a delay model that resolves to one symmetric matrix ``rtt_ms[i, j]``
(ms, NaN on the diagonal): the round-trip time the lab imposes between hosts i and j. Each
direction carries half of it (the lab cannot make i->j->i differ from j->i->j, so the matrix
must be symmetric).

Delay models:

``geography``
    ``rtt_ms = 2 * distance_km / (fraction_of_c * c) * inflation + access_ms[i] + access_ms[j]``
    with great-circle distances on the sphere of :data:`rttgeo.units.EARTH_RADIUS_KM`.
``matrix``
    ``rtt_ms`` given in the file (host order), plus the hosts' ``access_ms``. Asymmetric entries are
    averaged; every pair must be given, finite, and no faster than light in vacuum.

``jitter_ms`` adds to each packet an independent one-way delay uniform in ``[0, jitter_ms]`` (so the
minimum RTT stays the configured one) and ``loss`` drops each packet with that probability.

The file is TOML (``.toml``, read with :mod:`tomllib`) or JSON (any other suffix); see
``examples/worlds/`` and ``docs/lab.md``. Every malformed input raises
:class:`rttgeo.errors.WorldError` naming the file and field.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo.errors import WorldError
from rttgeo.models import Landmark, Mesh
from rttgeo.textformats import decimal_int, loads_json, loads_toml
from rttgeo.units import C_KM_PER_MS, EARTH_RADIUS_KM, MAX_KM_PER_RTT_MS
from rttgeo.wire import DEFAULT_PORT as WIRE_DEFAULT_PORT

__all__ = [
    "LAB_NETWORK",
    "ROLES",
    "Host",
    "World",
    "load_world",
    "max_hosts",
    "parse_world",
    "world_from_mesh",
]

#: Every lab address comes from the benchmarking range of RFC 2544 / RFC 6815.
LAB_NETWORK = ipaddress.IPv4Network("198.18.0.0/15")
ROLES = ("landmark", "target")
DELAY_MODELS = ("geography", "matrix")
#: Largest RTT the lab accepts between two hosts, ms (one-way delays are half of it).
MAX_RTT_MS = 10_000.0
#: Default TCP / UDP port of the landmark servers inside the lab: rttgeo's one landmark port.
DEFAULT_PORT = WIRE_DEFAULT_PORT
DEFAULT_PREFIX_LEN = 22
#: Most hosts a world may have unless ``$RTTGEO_LAB_MAX_HOSTS`` says otherwise. Every host is a
#: network namespace with a TUN device, and each N x N delay matrix takes 8 N^2 bytes (32 MiB at
#: 2,048 hosts; 11.9 GiB at 40,000), so a larger world is refused before anything is allocated.
DEFAULT_MAX_HOSTS = 2048
MAX_HOSTS_ENV = "RTTGEO_LAB_MAX_HOSTS"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_TOP_KEYS = {"name", "delay", "network", "hosts"}
_DELAY_KEYS = {"model", "fraction_of_c", "inflation", "jitter_ms", "loss", "rtt_ms"}
_NETWORK_KEYS = {"prefix_len", "port"}
_HOST_KEYS = {"name", "lat_deg", "lon_deg", "role", "access_ms"}


@dataclass(frozen=True, slots=True)
class Host:
    """One host of the world. ``access_ms`` is added to every RTT to or from it (round trip, ms)."""

    name: str
    lat_deg: float
    lon_deg: float
    role: str = "landmark"
    access_ms: float = 0.0


@dataclass(frozen=True, eq=False, slots=True)
class World:
    """A validated world: hosts and the resolved symmetric RTT matrix (ms, NaN on the diagonal).

    ``params`` records how ``rtt_ms`` was made (model and its parameters, dataset and seed).
    """

    name: str
    hosts: tuple[Host, ...]
    rtt_ms: np.ndarray
    jitter_ms: float = 0.0
    loss: float = 0.0
    prefix_len: int = DEFAULT_PREFIX_LEN
    port: int = DEFAULT_PORT
    params: Mapping[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.hosts)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.hosts)

    def index(self, name: str) -> int:
        """Position of host ``name``; raises KeyError naming it."""
        for i, h in enumerate(self.hosts):
            if h.name == name:
                return i
        raise KeyError(f"host {name!r} is not in world {self.name!r}")

    def landmark_indices(self) -> list[int]:
        return [i for i, h in enumerate(self.hosts) if h.role == "landmark"]

    def target_indices(self) -> list[int]:
        return [i for i, h in enumerate(self.hosts) if h.role == "target"]

    def one_way_ms(self) -> np.ndarray:
        """One-way delay matrix, ms: half of ``rtt_ms`` each way, 0 on the diagonal."""
        ow = self.rtt_ms / 2.0
        np.fill_diagonal(ow, 0.0)
        return ow

    def mesh(self) -> Mesh:
        """All hosts as a :class:`Mesh` whose ``rtt_ms`` is the configured matrix."""
        return Mesh(
            ids=self.names,
            lat_deg=np.array([h.lat_deg for h in self.hosts], dtype=float),
            lon_deg=np.array([h.lon_deg for h in self.hosts], dtype=float),
            rtt_ms=self.rtt_ms.copy(),
            bad=np.zeros(len(self.hosts), dtype=bool),
            name=self.name,
        )

    def landmarks(self, addresses: Sequence[str] = ()) -> list[Landmark]:
        """The landmark hosts as :class:`Landmark` values (lab addresses if given, host order)."""
        out = []
        for i in self.landmark_indices():
            h = self.hosts[i]
            out.append(
                Landmark(
                    h.name,
                    h.lat_deg,
                    h.lon_deg,
                    address=addresses[i] if addresses else "",
                    port=self.port,
                    protocols=("icmp", "tcp", "udp"),
                    source=f"lab:{self.name}",
                )
            )
        return out

    def to_json(self) -> dict[str, Any]:
        """The resolved world as a ``matrix`` world file (JSON-ready); ``parse_world`` reads it."""
        rtt = self.rtt_ms.copy()
        np.fill_diagonal(rtt, 0.0)
        return {
            "name": self.name,
            "delay": {
                "model": "matrix",
                "jitter_ms": self.jitter_ms,
                "loss": self.loss,
                "rtt_ms": [[round(float(x), 6) for x in row] for row in rtt],
            },
            "network": {"prefix_len": self.prefix_len, "port": self.port},
            "hosts": [
                {
                    "name": h.name,
                    "lat_deg": h.lat_deg,
                    "lon_deg": h.lon_deg,
                    "role": h.role,
                    "access_ms": 0.0,  # already inside rtt_ms
                }
                for h in self.hosts
            ],
        }

    @property
    def capacity(self) -> int:
        """How many hosts the block of ``prefix_len`` holds (network, broadcast excluded)."""
        return block_capacity(self.prefix_len)


def max_hosts() -> int:
    """The host cap: ``$RTTGEO_LAB_MAX_HOSTS`` (an integer >= 2) or :data:`DEFAULT_MAX_HOSTS`."""
    text = os.environ.get(MAX_HOSTS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_HOSTS
    try:
        value = decimal_int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise WorldError(f"must be an integer >= 2, got {text[:40]!r}", where="environment",
                         field=MAX_HOSTS_ENV)
    return value


def check_host_count(n: int, where: str = "<world>", limit: int | None = None) -> None:
    """Raise :class:`WorldError` if ``n`` hosts exceed the cap (before any N x N allocation)."""
    cap = max_hosts() if limit is None else limit
    if n > cap:
        raise WorldError(
            f"{n} hosts exceed the lab's limit of {cap} (each N x N delay matrix would take "
            f"{8 * n * n / 2**30:.1f} GiB); raise it with {MAX_HOSTS_ENV}=N if this machine can "
            "hold that many namespaces",
            where=where,
            field="hosts",
        )


def block_capacity(prefix_len: int) -> int:
    return 2 ** (32 - prefix_len) - 2


def great_circle_km(lat1_deg: np.ndarray, lon1_deg: np.ndarray) -> np.ndarray:
    """Pairwise great-circle distances (N, N) in km on the sphere of EARTH_RADIUS_KM.

    Haversine form; exact on the sphere to float64 rounding (about 1e-9 km).
    """
    lat = np.radians(lat1_deg)[:, None]
    lon = np.radians(lon1_deg)[:, None]
    dlat = lat - lat.T
    dlon = lon - lon.T
    a = np.sin(dlat / 2) ** 2 + np.cos(lat) * np.cos(lat.T) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


# ---------------------------------------------------------------------------------------- parsing
def _num(
    value: Any,
    fld: str,
    where: str,
    *,
    lo: float,
    hi: float,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WorldError(f"must be a number, got {value!r}", where=where, field=fld)
    try:
        x = float(value)
    except OverflowError:
        raise WorldError("number out of range", where=where, field=fld) from None
    ok = math.isfinite(x) and (x > lo if lo_open else x >= lo) and (x < hi if hi_open else x <= hi)
    if not ok:
        lb = "(" if lo_open else "["
        hb = ")" if hi_open else "]"
        raise WorldError(f"{x!r} outside {lb}{lo}, {hi}{hb}", where=where, field=fld)
    return x


def _int(value: Any, fld: str, where: str, *, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise WorldError(f"must be an integer in [{lo}, {hi}], got {value!r}", where=where,
                         field=fld)
    return int(value)


def _table(value: Any, fld: str, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise WorldError(f"must be a table, got {type(value).__name__}", where=where, field=fld)
    unknown = sorted(set(value) - allowed)
    if unknown:
        name = f"{fld}.{unknown[0]}" if fld else unknown[0]
        raise WorldError(f"unknown field (allowed: {', '.join(sorted(allowed))})", where=where,
                         field=name)
    return dict(value)


def parse_world(
    data: Mapping[str, Any], where: str = "<world>", *, max_hosts: int | None = None
) -> World:
    """Validate a world given as a mapping (a parsed TOML / JSON file) and resolve its delays.

    ``max_hosts``: the host cap (default :func:`max_hosts`), checked before any N x N array exists.
    Raises :class:`WorldError` naming ``where`` and the offending field (``hosts[3].lat_deg``).
    """
    top = _table(data, "", where, _TOP_KEYS)
    name = top.get("name", "world")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise WorldError(f"must match {_NAME_RE.pattern}, got {name!r}", where=where, field="name")
    delay = _table(top.get("delay", {}), "delay", where, _DELAY_KEYS)
    network = _table(top.get("network", {}), "network", where, _NETWORK_KEYS)
    prefix_len = _int(network.get("prefix_len", DEFAULT_PREFIX_LEN), "network.prefix_len", where,
                      lo=LAB_NETWORK.prefixlen, hi=30)
    port = _int(network.get("port", DEFAULT_PORT), "network.port", where, lo=1, hi=65535)

    raw_hosts = top.get("hosts")
    if not isinstance(raw_hosts, list) or not raw_hosts:
        raise WorldError("must be a non-empty list of host tables", where=where, field="hosts")
    check_host_count(len(raw_hosts), where, max_hosts)
    hosts: list[Host] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_hosts):
        f = f"hosts[{i}]"
        h = _table(raw, f, where, _HOST_KEYS)
        for req in ("name", "lat_deg", "lon_deg"):
            if req not in h:
                raise WorldError("missing", where=where, field=f"{f}.{req}")
        hname = h["name"]
        if not isinstance(hname, str) or not _NAME_RE.match(hname):
            raise WorldError(f"must match {_NAME_RE.pattern}, got {hname!r}", where=where,
                             field=f"{f}.name")
        if hname in seen:
            raise WorldError(f"duplicate host name {hname!r} (first at hosts[{seen[hname]}])",
                             where=where, field=f"{f}.name")
        seen[hname] = i
        role = h.get("role", "landmark")
        if role not in ROLES:
            raise WorldError(f"must be one of {ROLES}, got {role!r}", where=where,
                             field=f"{f}.role")
        hosts.append(
            Host(
                name=hname,
                lat_deg=_num(h["lat_deg"], f"{f}.lat_deg", where, lo=-90, hi=90),
                lon_deg=_num(h["lon_deg"], f"{f}.lon_deg", where, lo=-180, hi=180),
                role=role,
                access_ms=_num(h.get("access_ms", 0.0), f"{f}.access_ms", where, lo=0,
                               hi=MAX_RTT_MS / 2),
            )
        )
    if len(hosts) > block_capacity(prefix_len):
        raise WorldError(
            f"{len(hosts)} hosts do not fit a /{prefix_len} address block "
            f"({block_capacity(prefix_len)} addresses); lower network.prefix_len",
            where=where,
            field="hosts",
        )

    model = delay.get("model", "geography")
    if model not in DELAY_MODELS:
        raise WorldError(f"must be one of {DELAY_MODELS}, got {model!r}", where=where,
                         field="delay.model")
    jitter_ms = _num(delay.get("jitter_ms", 0.0), "delay.jitter_ms", where, lo=0, hi=1000)
    loss = _num(delay.get("loss", 0.0), "delay.loss", where, lo=0, hi=1, hi_open=True)
    n = len(hosts)
    lat = np.array([h.lat_deg for h in hosts])
    lon = np.array([h.lon_deg for h in hosts])
    dist_km = great_circle_km(lat, lon)
    access = np.array([h.access_ms for h in hosts])
    params: dict[str, Any] = {"model": model}
    if model == "geography":
        if "rtt_ms" in delay:
            raise WorldError("only for model = 'matrix'", where=where, field="delay.rtt_ms")
        frac = _num(delay.get("fraction_of_c", 2.0 / 3.0), "delay.fraction_of_c", where, lo=0,
                    hi=1, lo_open=True)
        infl = _num(delay.get("inflation", 1.0), "delay.inflation", where, lo=1, hi=100)
        rtt = 2.0 * dist_km / (frac * C_KM_PER_MS) * infl
        params.update(fraction_of_c=frac, inflation=infl)
    else:
        for k in ("fraction_of_c", "inflation"):
            if k in delay:
                raise WorldError("only for model = 'geography'", where=where, field=f"delay.{k}")
        rtt = _matrix(delay.get("rtt_ms"), n, where)
        # RTT below the vacuum light-speed bound between the two positions is impossible.
        floor = dist_km / MAX_KM_PER_RTT_MS
        bad = np.argwhere((rtt < floor - 1e-9) & ~np.eye(n, dtype=bool))
        if bad.size:
            i, j = (int(x) for x in bad[0])
            raise WorldError(
                f"{rtt[i, j]:.3f} ms between {hosts[i].name} and {hosts[j].name} is faster than "
                f"light over {dist_km[i, j]:.0f} km (needs >= {floor[i, j]:.3f} ms)",
                where=where,
                field=f"delay.rtt_ms[{i}][{j}]",
            )
    rtt = rtt + access[:, None] + access[None, :]
    np.fill_diagonal(rtt, np.nan)
    off = rtt[~np.eye(n, dtype=bool)]
    if off.size and float(np.max(off)) > MAX_RTT_MS:
        i, j = np.unravel_index(int(np.nanargmax(rtt)), rtt.shape)
        raise WorldError(f"resolved RTT {rtt[i, j]:.1f} ms between {hosts[i].name} and "
                         f"{hosts[j].name} exceeds {MAX_RTT_MS:.0f} ms", where=where, field="delay")
    params.update(jitter_ms=jitter_ms, loss=loss)
    return World(name=name, hosts=tuple(hosts), rtt_ms=rtt, jitter_ms=jitter_ms, loss=loss,
                  prefix_len=prefix_len, port=port, params=params)


def _matrix(value: Any, n: int, where: str) -> np.ndarray:
    fld = "delay.rtt_ms"
    if not isinstance(value, list) or len(value) != n:
        raise WorldError(f"must be a list of {n} rows (one per host)", where=where, field=fld)
    rows = []
    for i, row in enumerate(value):
        if not isinstance(row, list) or len(row) != n:
            raise WorldError(f"row must hold {n} numbers", where=where, field=f"{fld}[{i}]")
        rows.append([
            _num(x, f"{fld}[{i}][{j}]", where, lo=0, hi=MAX_RTT_MS) if i != j else 0.0
            for j, x in enumerate(row)
        ])
    m = np.array(rows, dtype=float).reshape(n, n)
    for i in range(n):
        for j in range(n):
            if i != j and m[i, j] <= 0.0:
                raise WorldError("RTT must be > 0 ms", where=where, field=f"{fld}[{i}][{j}]")
    return (m + m.T) / 2.0


def load_world(path: str | Path) -> World:
    """Read and validate a world file: TOML if it ends in ``.toml``, JSON otherwise."""
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise WorldError(f"cannot read world file: {exc.strerror}", where=str(p)) from exc
    load = loads_toml if p.suffix.lower() == ".toml" else loads_json
    return parse_world(load(text, where=str(p), error=WorldError), where=str(p))


# ------------------------------------------------------------------------------ from a real mesh
def symmetric_rtt_ms(mesh: Mesh) -> np.ndarray:
    """Symmetric RTT matrix of ``mesh``: the mean of both directions, NaN if either is missing."""
    r = np.asarray(mesh.rtt_ms, dtype=float)
    s = (r + r.T) / 2.0
    np.fill_diagonal(s, np.nan)
    return s


def world_from_mesh(
    mesh: Mesh,
    n_landmarks: int,
    n_targets: int,
    *,
    seed: int = 0,
    name: str | None = None,
    prefix_len: int = DEFAULT_PREFIX_LEN,
    port: int = DEFAULT_PORT,
) -> World:
    """A world of ``n_landmarks + n_targets`` hosts of a real RTT mesh, with their measured RTTs.

    Hosts marked ``mesh.bad`` are skipped. Hosts are drawn in a random order fixed by ``seed`` and
    kept only if every pair with the hosts kept so far has an RTT measured in both directions that
    is not faster than light in vacuum, so the world's matrix is complete. The RTT of a pair is the
    mean of its two directions (each a minimum RTT of the data set); the first ``n_targets`` kept
    hosts are targets.
    """
    need = n_landmarks + n_targets
    if n_landmarks < 1 or n_targets < 0:
        raise WorldError("need at least one landmark and no negative count", field="landmarks")
    check_host_count(need, mesh.name or "mesh")
    sym = symmetric_rtt_ms(mesh)
    dist_km = great_circle_km(np.asarray(mesh.lat_deg, float), np.asarray(mesh.lon_deg, float))
    ok = np.isfinite(sym) & (sym > 0) & (sym >= dist_km / MAX_KM_PER_RTT_MS) & (sym <= MAX_RTT_MS)
    ok &= np.isfinite(np.asarray(mesh.lat_deg, float))[:, None]
    rng = np.random.default_rng(seed)
    candidates = [int(i) for i in rng.permutation(len(mesh)) if not bool(mesh.bad[i])]
    candidates = [i for i in candidates if np.isfinite(mesh.lat_deg[i])]
    chosen: list[int] = []
    for i in candidates:
        if all(ok[i, j] for j in chosen):
            chosen.append(i)
            if len(chosen) == need:
                break
    if len(chosen) < need:
        raise WorldError(
            f"{mesh.name or 'mesh'} has only {len(chosen)} usable hosts with complete pairs "
            f"for seed {seed}, {need} asked",
            field="landmarks",
        )
    names = [_safe_name(mesh.ids[i], mesh.labels[i] if mesh.labels else "") for i in chosen]
    hosts = tuple(
        Host(name=names[k], lat_deg=float(mesh.lat_deg[i]), lon_deg=float(mesh.lon_deg[i]),
             role="target" if k < n_targets else "landmark")
        for k, i in enumerate(chosen)
    )
    if len(hosts) > block_capacity(prefix_len):
        raise WorldError(f"{len(hosts)} hosts do not fit a /{prefix_len} block", field="hosts")
    rtt = sym[np.ix_(chosen, chosen)].copy()
    np.fill_diagonal(rtt, np.nan)
    world_name = name or _safe_name(mesh.name or "mesh", "")
    return World(
        name=world_name,
        hosts=hosts,
        rtt_ms=rtt,
        prefix_len=prefix_len,
        port=port,
        params={
            "model": "dataset",
            "dataset": mesh.name,
            "seed": seed,
            "source_ids": [mesh.ids[i] for i in chosen],
            "rtt": "mean of both directions' minimum RTT",
        },
    )


def _safe_name(host_id: str, label: str) -> str:
    """A host name from a data set's id and label: ``Sao-Paulo-125`` for "125", "Sao Paulo, BR"."""
    city = label.split(",")[0].strip()
    raw = f"{city}-{host_id}" if city else host_id
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", raw).strip("-.") or "h"
    if not base[0].isalnum():
        base = "h" + base
    if len(base) > 40:
        base = base[: 39 - len(host_id)].rstrip("-.") + "-" + host_id
    return base[:40]
