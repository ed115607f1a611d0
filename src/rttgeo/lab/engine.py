"""The lab's delay engine: a small C program compiled on first use with the system C compiler.

Why C: the engine must hold each packet for its pair's one-way delay within a few µs and forward
at least 20,000 packets/s on a 2-core machine. Measured against the same loop in pure Python
(``benchmarks/bench_lab_engine.py``, docs/lab.md): both reach 20,000 packets/s, but the C engine
writes packets within 1 µs of their due time at the median where Python needs 5-40 µs, with less
CPU. The source is ``engine.c`` beside this file; it is built with ``cc -O2 -pthread`` into a
cache directory keyed by the source's hash (``$RTTGEO_CACHE`` or ``~/.cache/rttgeo``), so the
compiler runs once per version of the source.

The engine takes the TUN file descriptors of all hosts (inherited from ``lab up``) and a config
file with one-way delays in ns; it routes IPv4 by the destination's offset in the lab's block and,
when given the lab's 96-bit IPv6 ``prefix6``, IPv6 by the same offset in the destination's last 32
bits (a host's IPv6 address is ``prefix6`` + its IPv4 offset: see :mod:`rttgeo.lab.lab`). A
writer thread puts its counters and a histogram of its own lateness (due time to write, µs) into a
stats JSON file about once a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo.errors import LabError, RttgeoWarning

__all__ = ["ENGINES", "EngineConfig", "build_engine", "engine_command", "read_stats",
           "write_config"]

#: Engine choices: ``c`` (compiled engine.c), ``python`` (rttgeo.lab.pyengine), ``auto`` (C when a
#: compiler is found, else Python with a warning).
ENGINES = ("auto", "c", "python")


class NoCompiler(LabError):
    """No C compiler to build the engine with."""

SOURCE = Path(__file__).with_name("engine.c")
#: Largest spin window, ns: the engine stops sleeping at most this long before a packet is due and
#: spins; the actual window follows the timer's recent wake-up overshoot (see engine.c).
DEFAULT_SPIN_NS = 200_000
#: SCHED_FIFO priority of the engine (0: normal scheduling). Keeps busy processes on the same
#: machine from delaying due packets; a VM's host can still steal the CPU now and then.
DEFAULT_RT_PRIORITY = 10


def _cache_dir() -> Path:
    env = os.environ.get("RTTGEO_CACHE")
    if env:
        return Path(env)
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(home) / "rttgeo"


def build_engine(cache_dir: Path | None = None) -> Path:
    """Path of the compiled engine, compiling ``engine.c`` with ``cc -O2 -pthread`` if not cached.

    Raises :class:`LabError` if no C compiler is found or compilation fails.
    """
    try:
        src = SOURCE.read_bytes()
    except OSError as exc:  # pragma: no cover - broken install
        raise LabError(f"engine source {SOURCE} missing: reinstall rttgeo") from exc
    digest = hashlib.sha256(src).hexdigest()[:16]
    out_dir = cache_dir or _cache_dir()
    exe = out_dir / f"rttgeo-engine-{digest}"
    if exe.is_file() and os.access(exe, os.X_OK):
        return exe
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise NoCompiler(
            "the lab's delay engine is compiled from C on first use and no C compiler was found: "
            "install one (Debian: apt-get install gcc) or set CC"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabError(f"cannot create engine cache {out_dir}: {exc.strerror}; set RTTGEO_CACHE")\
            from exc
    tmp = out_dir / f".{exe.name}.{os.getpid()}"
    proc = subprocess.run(
        [cc, "-O2", "-Wall", "-pthread", "-o", str(tmp), str(SOURCE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise LabError(f"compiling the delay engine with {cc} failed:\n{proc.stderr.strip()}")
    os.replace(tmp, exe)
    return exe


def engine_command(kind: str = "auto", cache_dir: Path | None = None) -> tuple[list[str], str]:
    """(argv prefix to run the engine, without its config path; the engine kind chosen).

    ``auto`` falls back to the pure-Python engine, with a :class:`RttgeoWarning`, only when no C
    compiler is found; a compiler that fails is an error.
    """
    if kind not in ENGINES:
        raise LabError(f"unknown engine {kind!r}: one of {', '.join(ENGINES)}")
    if kind != "python":
        try:
            return [str(build_engine(cache_dir))], "c"
        except NoCompiler as exc:
            if kind == "c":
                raise
            warnings.warn(f"{exc}; using the slower pure-Python engine instead", RttgeoWarning,
                          stacklevel=2)
    return [sys.executable, "-m", "rttgeo.lab.pyengine"], "python"


class EngineConfig:
    """What the engine needs: host fds and addresses, one-way delays (ms), jitter, loss.

    ``prefix6``: the first 96 bits (12 bytes) of the lab hosts' IPv6 addresses, whose last 32 bits
    are the host's offset in the IPv4 block (``address - base_u32``); None routes no IPv6.
    """

    def __init__(
        self,
        *,
        fds: Sequence[int],
        addresses_u32: Sequence[int],
        base_u32: int,
        block_size: int,
        one_way_ms: np.ndarray,
        jitter_ms: float = 0.0,
        loss: float = 0.0,
        seed: int = 1,
        spin_ns: int = DEFAULT_SPIN_NS,
        bias_ns: int = 0,
        rt_priority: int = DEFAULT_RT_PRIORITY,
        stats_path: Path,
        prefix6: bytes | None = None,
    ) -> None:
        if prefix6 is not None and len(prefix6) != 12:
            raise LabError(f"engine: prefix6 must be 12 bytes (96 bits), got {len(prefix6)}")
        self.fds = list(fds)
        self.addresses_u32 = list(addresses_u32)
        self.base_u32 = base_u32
        self.block_size = block_size
        self.one_way_ms = np.asarray(one_way_ms, dtype=float)
        self.jitter_ms = jitter_ms
        self.loss = loss
        self.seed = seed
        self.spin_ns = spin_ns
        self.bias_ns = bias_ns
        self.rt_priority = rt_priority
        self.stats_path = stats_path
        self.prefix6 = prefix6


def write_config(cfg: EngineConfig, path: Path) -> None:
    """Write the engine's text config (keys and values, delays as integer ns)."""
    n = len(cfg.fds)
    if cfg.one_way_ms.shape != (n, n):
        raise LabError(f"engine: delay matrix shape {cfg.one_way_ms.shape} != ({n}, {n})")
    delay_ns = np.rint(np.nan_to_num(cfg.one_way_ms, nan=0.0) * 1e6).astype(np.int64)
    lines = [
        f"n {n}",
        f"base {cfg.base_u32} {cfg.block_size}",
        f"jitter_ns {round(cfg.jitter_ms * 1e6)}",
        f"loss {cfg.loss!r}",
        f"seed {cfg.seed}",
        f"spin_ns {cfg.spin_ns}",
        f"bias_ns {cfg.bias_ns}",
        f"rt_priority {cfg.rt_priority}",
        f"stats {cfg.stats_path}",
    ]
    if cfg.prefix6 is not None:
        lines.append(f"prefix6 {cfg.prefix6.hex()}")
    for i, (fd, ip) in enumerate(zip(cfg.fds, cfg.addresses_u32, strict=True)):
        lines.append(f"host {i} {fd} {ip}")
    lines.append("delay")
    lines.extend(" ".join(str(int(x)) for x in row) for row in delay_ns)
    path.write_text("\n".join(lines) + "\n")


def read_stats(path: Path) -> dict[str, Any]:
    """The engine's last stats (counters, lateness histogram in µs, CPU seconds); {} if none yet."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
