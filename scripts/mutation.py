#!/usr/bin/env python3
"""Mutation testing of the modules that decide correctness (mutmut 3), one target at a time.

    make mutation                                  # every target (hours on a busy 2-core machine)
    .venv/bin/python scripts/mutation.py geo-feasible wire   # some targets
    .venv/bin/python scripts/mutation.py --list                # the targets, their functions and tests

Each target mutates the functions it names in one module and runs only the tests given for it, in
``build/mutation/<target>/`` (a scratch copy that mutmut makes of ``src`` and ``tests``; the
worktree's files are never touched). It runs under ``nice -n 19`` with one worker, so that it can
share the machine. For every target it prints killed / total, the score, and each surviving
mutant's diff. Counted apart, never as killed: surviving mutants listed in
``scripts/mutation_equivalent.toml`` (matched by function and diff, with the reason they cannot
change any result), and mutants that only rewrite the prose of an error or warning message or of
a reason or note (``prose_lines``: the machine-readable reasons and exit codes are what the tests
hold; a SQL statement or a dict key is data, never prose). Exit status 1 when a target
scores below ``--goal`` (90 % by default, issue #15) or a mutant survives that is not documented
as equivalent. Timeouts count as detected (a mutant that makes the tests hang), but the report says
how many there were: on a loaded machine a niced test run can time out through no fault of the
mutant, so a figure is clean only with few or none (run it when the machine is quiet).

Needs the ``mutation`` extra (``pip install -e '.[mutation,all,test]'``). Scores are recorded
in docs/testing.md.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutation"
EQUIVALENT = ROOT / "scripts" / "mutation_equivalent.toml"

#: mutmut's exit codes of a mutant's test run: 1 and 3 are kills; timeouts and crashes count as
#: detected (the mutant made the tests hang or die); 0 is a survivor, 5 and 33 "no tests".
KILLED = {1, 3}
DETECTED = {36, -24, 24, 152, 255, -11, -9}
#: Of those, the timeouts (wall or CPU time): on a loaded machine a niced test run can time out
#: without any fault of the mutant, so the report counts them (a figure is clean with none).
TIMEOUT = {36, -24, 24, 152, 255}
NO_TESTS = {5, 33}


@dataclass(frozen=True)
class Target:
    """One module, the functions of it to mutate (mutmut key globs) and the tests that judge them."""

    module: str  # path under src/
    functions: tuple[str, ...]  # globs over mutmut's mangled function names, e.g. "x_decode"
    tests: tuple[str, ...]  # paths under tests/ (pytest node ids allowed)

    @property
    def dotted(self) -> str:
        return self.module.removesuffix(".py").replace("/", ".")

    def mutant_globs(self) -> list[str]:
        return [f"{self.dotted}.{f}__mutmut_*" for f in self.functions]


TARGETS: dict[str, Target] = {
    "geo-feasible": Target(
        "rttgeo/geo/feasible.py",
        ("x_*",),
        ("tests/geo/test_geo_feasible.py", "tests/geo/test_geo_feasible_edges.py",
         "tests/geo/test_geo_properties.py"),
    ),
    "geo-grid": Target("rttgeo/geo/grid.py", ("x*",), ("tests/geo/test_geo_grid.py",)),
    "geo-sphere": Target(
        "rttgeo/geo/sphere.py", ("x_*",),
        ("tests/geo/test_geo_sphere.py", "tests/geo/test_geo_sphere_edges.py"),
    ),
    # The physics checks: RTT validation, the fit-time exclusion of landmarks faster than light in
    # fibre, the locate-time speed-of-light check between landmarks (its reach and conflicts) and
    # the rule that a point stays inside every kept landmark's light disc.
    "estimate-physics": Target(
        "rttgeo/estimate/base.py",
        ("x_check_rtts", "x_greedy_outliers", "x_physics_outliers", "xǁEstimatorǁfit",
         "xǁEstimatorǁc_reach_km", "xǁEstimatorǁlight_conflicts", "xǁEstimatorǁ_locate_row",
         "xǁEstimatorǁc_discs_point"),
        ("tests/estimate/test_physics_edges.py", "tests/estimate/test_physics.py"),
    ),
    "wire": Target(
        "rttgeo/wire.py", ("x*",), ("tests/serve/test_wire.py", "tests/serve/test_serve_protocol.py")
    ),
    # The commit path: opening (WAL, synchronous), the campaign record and every committed sample.
    "store-commit": Target(
        "rttgeo/store/sqlite.py",
        ("xǁCampaignStoreǁ__init__", "xǁCampaignStoreǁ_exec", "xǁCampaignStoreǁbegin_campaign",
         "xǁCampaignStoreǁadd_sample",
         "xǁCampaignStoreǁend_campaign", "xǁCampaignStoreǁclose"),
        ("tests/store",),
    ),
    # The verify room's decision (proven / refuted / undecided / landmark-fault) and what it rests on.
    "verify-decide": Target(
        "rttgeo/verify/decide.py",
        ("x_sound_radius_km", "x__conflicts", "x__redundant", "x_decide", "x__at_level",
         "x__region_level"),
        ("tests/verify/test_decide.py",),
    ),
    # Signature checks: strict Ed25519 (small-order and non-canonical keys, malleable signatures).
    "crypto": Target(
        "rttgeo/crypto.py",
        ("x__decode_point", "x__add", "x__double", "x__is_identity", "x__times",
         "x_public_key_problem", "x_signature_problem", "x_answer_message", "x_verify"),
        ("tests/verify/test_crypto.py",),
    ),
    "receipt": Target(
        "rttgeo/receipt.py", ("x*",), ("tests/verify/test_receipt.py",)
    ),
}


def load_equivalent() -> list[dict[str, str]]:
    """Documented equivalent mutants: [[mutant]] tables with module, function, diff and why."""
    if not EQUIVALENT.exists():
        return []
    return list(tomllib.loads(EQUIVALENT.read_text(encoding="utf-8")).get("mutant", []))


def diff_lines(diff: str) -> tuple[str, ...]:
    """The changed lines of a unified diff, stripped: a key that survives renumbering."""
    return tuple(
        line[0] + line[1:].strip()
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )


_STRING = re.compile(r"""[rbuf]*("[^"\\]*(?:\\.[^"\\]*)*"|'[^'\\]*(?:\\.[^'\\]*)*')""", re.I)


#: Names whose assigned strings are prose for a reader (a reason, a note), not data.
PROSE_NAMES = frozenset({"why", "how", "note", "reason", "message", "msg", "excluded_"})


def prose_lines(source: str) -> frozenset[str]:
    """The stripped texts of the lines that lie only in prose: inside a ``raise``, a ``warn`` call,
    or a value assigned to a name of :data:`PROSE_NAMES` (a line whose text also occurs elsewhere
    does not count). A SQL statement split over lines, a dict key or an ``__all__`` entry is data."""
    tree = ast.parse(source)
    lines = source.splitlines()
    prose: set[int] = set()
    for node in ast.walk(tree):
        spans: list[ast.AST] = []
        if isinstance(node, ast.Raise) and node.exc is not None:
            spans.append(node.exc)
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name.endswith("warn"):
                spans.append(node)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {getattr(t, "attr", getattr(t, "id", "")) for t in targets}
            if names & PROSE_NAMES:
                spans.append(node.value)
        for span in spans:
            prose.update(range(span.lineno, (span.end_lineno or span.lineno) + 1))
    inside = {lines[i - 1].strip() for i in prose}
    outside = {line.strip() for i, line in enumerate(lines, 1) if i not in prose}
    return frozenset(inside - outside)


def message_only(diff: str, prose: frozenset[str] | None = None) -> bool:
    """Whether a mutant only rewrites the prose of an error, warning or reason: one line changed,
    identical once string literals are blanked, and that line raises, or is one of the module's
    ``prose`` lines (:func:`prose_lines`; without it no continuation line counts). Such mutants
    change no result; they are counted apart."""
    lines = diff_lines(diff)
    minus = [x[1:] for x in lines if x.startswith("-")]
    plus = [x[1:] for x in lines if x.startswith("+")]
    if len(minus) != 1 or len(plus) != 1:
        return False
    old, new = minus[0], plus[0]
    if _STRING.sub('""', old) != _STRING.sub('""', new):
        return False
    if re.match(r"""^[rbuf]*["']""", old, re.I):  # a continuation line: prose only where it lies in prose
        return prose is not None and old in prose
    a, b = list(_STRING.finditer(old)), list(_STRING.finditer(new))
    changed = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x.group() != y.group()]
    # In a raise or warn, only the last string literal (the message) is prose: the ones before it
    # are reason codes or field names, and keyword arguments (field="...") are data.
    return (
        old.startswith(("raise ", "warnings.warn("))
        and changed == [len(a) - 1]
        and not old[: a[-1].start()].rstrip().endswith("=")
    )


def setup(name: str, target: Target, fresh: bool) -> Path:
    work = WORK / name
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for sub in ("src", "tests", "examples", "notebooks", "scripts"):
        link = work / sub
        if not link.exists() and (ROOT / sub).exists():
            link.symlink_to(ROOT / sub)
    base = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    conf = {
        "source_paths": ["src"],
        "only_mutate": [f"src/{target.module}"],
        "also_copy": ["examples", "notebooks", "scripts"],
        "pytest_add_cli_args_test_selection": list(target.tests),
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-q", "-x"],
    }
    lines = ["", "[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in conf.items()]
    (work / "pyproject.toml").write_text(base + "\n".join(lines) + "\n", encoding="utf-8")
    return work


def mutmut(work: Path, *args: str, capture: bool = True) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("mutmut")
    return subprocess.run(
        ["nice", "-n", "19", str(exe), *args],
        cwd=work,
        capture_output=capture,
        text=True,
        check=False,
        env={**os.environ, "TERM": "dumb"},
    )


def read_codes(work: Path, target: Target) -> dict[str, int | None]:
    """mutmut's exit code per mutant of the target's functions (None: not run yet)."""
    meta = work / "mutants" / "src" / (target.module + ".meta")
    if not meta.exists():
        return {}
    codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    globs = target.mutant_globs()
    return {k: v for k, v in codes.items() if any(fnmatch.fnmatch(k, g) for g in globs)}


def run_target(
    name: str,
    target: Target,
    fresh: bool,
    equivalent: list[dict[str, str]],
    recheck: bool = False,
    sample: int = 1,
) -> dict:
    work = setup(name, target, fresh)
    t0 = time.monotonic()
    log = work / "mutmut.log"
    which = target.mutant_globs()
    if recheck:  # only the mutants that were not detected last time, against the current tests
        which = [k for k, v in read_codes(work, target).items()
                 if not (v in KILLED or v in DETECTED)] or which
    elif sample > 1:  # every sample-th mutant in source order: a systematic sample, said so
        mutmut(work, "run", "--max-children", "1", "__generate_only__")  # generates, runs none
        keys = sorted(read_codes(work, target), key=_natural)
        which = keys[::sample]
    with open(log, "w", encoding="utf-8") as fh:
        exe = Path(sys.executable).with_name("mutmut")
        subprocess.run(
            ["nice", "-n", "19", str(exe), "run", "--max-children", "1", *which],
            cwd=work, stdout=fh, stderr=subprocess.STDOUT, check=False,
            env={**os.environ, "TERM": "dumb", "RTTGEO_HYPOTHESIS_EXAMPLES": "15"},
        )
    elapsed_s = time.monotonic() - t0
    codes = read_codes(work, target)
    if sample > 1 and not recheck:
        codes = {k: codes[k] for k in which}
    elif recheck and sample > 1:
        codes = {k: v for k, v in codes.items() if v is not None}
    if not codes:
        raise SystemExit(f"{name}: mutmut produced no results; see {log}")
    if any(v is None for v in codes.values()):
        raise SystemExit(f"{name}: {sum(v is None for v in codes.values())} mutants not run; see {log}")
    equiv_keys = {
        (e["function"], diff_lines(e["diff"])): e["why"] for e in equivalent if e["module"] == name
    }
    prose = prose_lines((ROOT / "src" / target.module).read_text(encoding="utf-8"))
    survivors, equivalent_hits, messages = [], [], []
    for key, code in sorted(codes.items(), key=lambda kv: _natural(kv[0])):
        if code in KILLED or code in DETECTED:
            continue
        diff = mutmut(work, "show", key).stdout
        function = re.sub(r"__mutmut_\d+$", "", key.rsplit(".", 1)[-1])
        why = equiv_keys.get((function, diff_lines(diff)))
        entry = {"key": key, "function": function, "code": code, "diff": diff}
        if why:
            equivalent_hits.append(entry | {"why": why})
        elif message_only(diff, prose):
            messages.append(entry)
        else:
            survivors.append(entry)
    total = len(codes)
    apart = len(equivalent_hits) + len(messages)
    detected = total - len(survivors) - apart
    return {
        "target": name,
        "module": f"src/{target.module}",
        "total": total,
        "detected": detected,
        "timeouts": sum(v in TIMEOUT for v in codes.values()),
        "equivalent": len(equivalent_hits),
        "message_only": len(messages),
        "survived": len(survivors),
        "score": detected / (total - apart) if total > apart else 1.0,
        "raw_score": detected / total if total else 1.0,
        "elapsed_s": elapsed_s,
        "sample": sample,
        "survivors": survivors,
        "equivalent_mutants": equivalent_hits,
        "message_mutants": messages,
    }


def _natural(key: str) -> tuple[str, int]:
    m = re.search(r"^(.*)__mutmut_(\d+)$", key)
    return (m.group(1), int(m.group(2))) if m else (key, 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", help=f"targets (default all): {', '.join(TARGETS)}")
    ap.add_argument("--list", action="store_true", help="list the targets and exit")
    ap.add_argument("--resume", action="store_true", help="keep mutmut's results of a previous run")
    ap.add_argument("--recheck", action="store_true",
                    help="keep the previous run's results and test again only its survivors "
                    "(after adding tests; the final figures come from a fresh run)")
    ap.add_argument("--goal", type=float, default=0.90, help="lowest acceptable score (0.90)")
    ap.add_argument("--sample", type=int, default=1, metavar="N",
                    help="test only every N-th mutant in source order (a systematic sample, for "
                    "targets whose tests take minutes; the report says so)")
    ap.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = ap.parse_args()
    if args.list:
        for name, t in TARGETS.items():
            print(f"{name:<18}src/{t.module}  functions {', '.join(t.functions)}")
            print(f"{'':<18}tests {' '.join(t.tests)}")
        return 0
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        ap.error(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    if shutil.which("mutmut", path=str(Path(sys.executable).parent)) is None:
        print("mutmut is not installed: pip install -e '.[mutation,all,test]'", file=sys.stderr)
        return 2
    equivalent = load_equivalent()
    results = []
    failed = False
    for name in args.targets or list(TARGETS):
        r = run_target(name, TARGETS[name], not (args.resume or args.recheck), equivalent,
                       args.recheck, args.sample)
        results.append(r)
        apart = r["equivalent"] + r["message_only"]
        print(
            f"{name:<18}{r['module']:<32} {r['detected']:>4} / {r['total'] - apart:<4}"
            f" detected = {100 * r['score']:5.1f} %  (apart: {r['equivalent']} documented"
            f" equivalent, {r['message_only']} message text only; raw {r['detected']} /"
            f" {r['total']} = {100 * r['raw_score']:.1f} %; {r['timeouts']} of the detected by"
            f" timeout; {r['elapsed_s'] / 60:.0f} min"
            f"{f'; a sample of every {args.sample}th mutant' if args.sample > 1 else ''})",
            flush=True,
        )
        for s in r["survivors"]:
            print(f"  SURVIVED {s['key']} (exit {s['code']})\n{_indent(s['diff'])}", flush=True)
        if r["score"] < args.goal or r["survivors"]:
            failed = True
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    if failed:
        print(f"goal missed: a target below {100 * args.goal:.0f} % or a surviving mutant not documented "
              "as equivalent", file=sys.stderr)
    return 1 if failed else 0


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines())


if __name__ == "__main__":
    sys.exit(main())
