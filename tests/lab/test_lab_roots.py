"""Labs stay in their own run root (issue #13): another root's healthy lab is never reported as a
crash nor touched by ``down --force``; a dead engine shows in the lab's state; worlds beyond the
host cap are refused before any N x N array; ``lab exec`` without root is one clean line."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from rttgeo.cli import main
from rttgeo.errors import LabError, WorldError
from rttgeo.lab import down, parse_world
from rttgeo.lab.lab import claimed_by, find_orphans
from rttgeo.lab.netns import list_netns
from rttgeo.lab.world import MAX_HOSTS_ENV, load_world

from .lab_helpers import lab_unavailable, leftover

WORLD = {
    "name": "roots",
    "delay": {"model": "matrix", "rtt_ms": [[0, 4.0], [4.0, 0]]},
    "network": {"prefix_len": 29},
    "hosts": [
        {"name": "a", "lat_deg": 48.85, "lon_deg": 2.35},
        {"name": "t", "lat_deg": 45.76, "lon_deg": 4.84, "role": "target"},
    ],
}


def _free_id() -> str:
    """A lab id no namespace, link or run dir of any root uses now."""
    while True:
        lab_id = secrets.token_hex(2)
        if not leftover(lab_id) and claimed_by(lab_id) is None:
            return lab_id


@pytest.mark.root
@pytest.mark.timeout(120)
def test_other_roots_lab_is_neither_an_orphan_nor_swept(make_lab, lab_env, tmp_path, monkeypatch,
                                                       capsys):
    # Regression (issue #13): with RTTGEO_LAB_RUN=/other, 'lab status' called the default root's
    # healthy lab "a crash?" and 'lab down ID --force' killed its processes and namespaces.
    lab = make_lab(parse_world(WORLD), serve=False)
    assert claimed_by(lab.id) == lab.run_dir.resolve()
    other = tmp_path / "other-root"
    monkeypatch.setenv("RTTGEO_LAB_RUN", str(other))
    assert lab.id not in find_orphans()
    assert main(["lab", "status"]) == 0
    out = capsys.readouterr().out
    assert lab.id not in out and "crash" not in out
    with pytest.raises(LabError, match="belongs to another run root") as ei:
        down(lab.id, force=True)
    assert str(lab.run_dir.resolve()) in str(ei.value)
    assert main(["lab", "down", lab.id, "--force"]) != 0
    assert "belongs to another run root" in capsys.readouterr().err
    # Untouched: engine alive, namespaces there, state "up", still forwarding.
    monkeypatch.setenv("RTTGEO_LAB_RUN", str(lab_env))
    assert lab.engine_pid() is not None and lab.status == "up"
    assert sum(n.startswith(f"rttgeo-{lab.id}-") for n in list_netns()) == 2
    r = lab.exec("t", ["ping", "-n", "-c", "1", "-W", "2", lab.address("a")])
    assert r.returncode == 0, r.stdout


@pytest.mark.root
@pytest.mark.timeout(120)
def test_dead_engine_shows_in_status(make_lab, capsys):
    # Regression (issue #13): 'lab status' said "up" beside "engine DEAD".
    lab = make_lab(parse_world(WORLD), serve=False)
    pid = lab.engine_pid()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while lab.engine_pid() is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lab.status == "engine dead"
    assert main(["lab", "status", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info[0]["status"] == "engine dead" and info[0]["engine_alive"] is False


@pytest.mark.root
def test_leftovers_are_ours_only_when_our_root_claims_them(lab_env, tmp_path):
    """An untagged inert namespace, or one tagged with a vanished run dir of this root, is an
    orphan of this root; one tagged with a run dir elsewhere is not, and force leaves it."""
    if lab_unavailable():
        pytest.skip(lab_unavailable())
    made: list[str] = []
    try:
        untagged, ours, theirs = _free_id(), _free_id(), _free_id()
        for lab_id, tag in ((untagged, None), (ours, lab_env / ours),
                            (theirs, tmp_path / "elsewhere" / theirs)):
            name = f"rttgeo-{lab_id}-x"
            subprocess.run(["ip", "netns", "add", name], check=True)
            made.append(name)
            if tag is not None:
                subprocess.run(["ip", "-n", name, "link", "set", "lo", "alias",
                                f"rttgeo-lab:{tag}"], check=True)
        orphans = find_orphans()
        assert untagged in orphans and ours in orphans and theirs not in orphans
        with pytest.raises(LabError, match="another run root"):
            down(theirs, force=True)
        assert f"rttgeo-{theirs}-x" in list_netns()
        assert down(untagged, force=True) == ["1 namespaces"]
        assert down(ours, force=True) == ["1 namespaces"]
        assert not leftover(untagged) and not leftover(ours) and leftover(theirs)
    finally:
        for name in made:
            if name in list_netns():
                subprocess.run(["ip", "netns", "del", name], check=False)


def _big_world(path: Path, n: int) -> Path:
    hosts = ",".join(
        f'{{"name":"h{i}","lat_deg":{(i % 170) - 85},"lon_deg":{(i % 350) - 175}}}'
        for i in range(n)
    )
    path.write_text('{"network": {"prefix_len": 15}, "hosts": [' + hosts + "]}")
    return path


def test_host_cap_refused_before_allocating(tmp_path, capsys, monkeypatch):
    # Regression (issue #13): a 1.5 MB world of 40,000 hosts asked for 11.9 GiB per N x N array.
    big = _big_world(tmp_path / "big.json", 40_000)
    tracemalloc.start()
    try:
        with pytest.raises(WorldError, match="40000 hosts exceed the lab's limit of 2048"):
            load_world(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20, f"peak {peak / 2**20:.0f} MiB before the refusal"
    assert main(["lab", "up", str(big)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(big) in err and MAX_HOSTS_ENV in err
    # The cap is configurable, and its own value is validated.
    small = _big_world(tmp_path / "small.json", 5)
    monkeypatch.setenv(MAX_HOSTS_ENV, "4")
    with pytest.raises(WorldError, match="5 hosts exceed the lab's limit of 4"):
        load_world(small)
    monkeypatch.setenv(MAX_HOSTS_ENV, "5")
    assert len(load_world(small)) == 5
    for bad in ("0", "x", "1e9", "-3"):
        monkeypatch.setenv(MAX_HOSTS_ENV, bad)
        assert main(["lab", "up", str(small)]) == 2
        assert f"field {MAX_HOSTS_ENV!r}" in capsys.readouterr().err


def test_lab_exec_without_root_is_one_clean_line(tmp_path, monkeypatch, capsys):
    # Regression (issue #13): 'lab exec' as non-root passed ip's raw error through (exit 255).
    root = tmp_path / "run"
    run_dir = root / "beef"
    run_dir.mkdir(parents=True)
    host = {"name": "a", "role": "landmark", "lat_deg": 1.0, "lon_deg": 2.0,
            "address": "198.18.0.1", "netns": "rttgeo-beef-a", "tun": "rgbeef-0"}
    (run_dir / "state.json").write_text(json.dumps({"id": "beef", "status": "up",
                                                    "network": "198.18.0.0/29",
                                                    "hosts": [host]}))
    monkeypatch.setenv("RTTGEO_LAB_RUN", str(root))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "execvp", lambda *a: pytest.fail("must not exec"))
    assert main(["lab", "exec", "a", "--", "true"]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs root" in err and "Traceback" not in err


@pytest.mark.ci_may_skip(
    "a checkout in a directory that user nobody cannot enter (a root-only clone) cannot run as "
    "nobody; the in-process test above covers the same path"
)
def test_lab_exec_as_nobody_in_a_subprocess(tmp_path):
    """The same, for real: a process that is not root (skipped where we cannot drop to nobody)."""
    if os.geteuid() != 0:
        pytest.skip("dropping to user nobody needs root; a non-root run is the case itself")
    root = tmp_path / "run"
    run_dir = root / "beef"
    run_dir.mkdir(parents=True)
    host = {"name": "a", "role": "landmark", "lat_deg": 1.0, "lon_deg": 2.0,
            "address": "198.18.0.1", "netns": "rttgeo-beef-a", "tun": "rgbeef-0"}
    (run_dir / "state.json").write_text(json.dumps({"id": "beef", "status": "up",
                                                    "network": "198.18.0.0/29",
                                                    "hosts": [host]}))
    os.chmod(tmp_path, 0o755)
    for p in (root, run_dir, run_dir / "state.json"):
        os.chmod(p, 0o755)
    env = dict(os.environ, RTTGEO_LAB_RUN=str(root), HOME="/tmp")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")

    def drop() -> None:
        os.setgid(65534)
        os.setuid(65534)

    try:
        proc = subprocess.run([sys.executable, "-m", "rttgeo", "lab", "exec", "a", "--", "true"],
                              capture_output=True, text=True, env=env, preexec_fn=drop,
                              timeout=60)
    except PermissionError as exc:
        pytest.skip(f"user nobody may not run this Python ({exc}); the in-process test above "
                    "covers the same path")
    if "Permission denied" in proc.stderr and "rttgeo" not in proc.stderr:
        pytest.skip(f"user nobody cannot read this checkout: {proc.stderr.strip()[:200]}")
    assert proc.returncode not in (0, 255), proc
    assert proc.stderr.count("\n") == 1 and "needs root" in proc.stderr, proc.stderr
