"""``rttgeo keygen``, ``sign-catalog`` and ``prove``: keys, signed catalogs and the host's prover of
the signed challenge-response (docs/verify.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rttgeo.cli._args import add_convention, finite_float, int_range, output_path
from rttgeo.cli.exitcodes import ExitCode


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    k = subparsers.add_parser(
        "keygen",
        help="make an Ed25519 key pair (landmark, host or catalog key)",
        description="Write a new Ed25519 private key to FILE (PKCS#8 PEM, mode 0600) and its "
        "public key to FILE.pub (64 hex digits); print the public key.",
    )
    k.add_argument("file", type=output_path(), help="private key file to create")
    k.add_argument("--force", action="store_true", help="replace existing files")
    k.set_defaults(handler=_keygen)

    s = subparsers.add_parser(
        "sign-catalog",
        help="sign a landmark catalog that pins each landmark's key and position",
        description="Sign a CSV or JSON catalog (docs/catalog.md columns plus public_key and "
        "optionally position_uncertainty_km) with a catalog key; verifiers trust that key with "
        "--catalog-key.",
    )
    s.add_argument("catalog", help="catalog with a public_key column")
    s.add_argument("--key", required=True, help="the catalog signer's private key file")
    s.add_argument("--out", required=True, type=output_path(), help="signed catalog to write (JSON)")
    s.add_argument("--name", default="", help="catalog name (default: the file's stem)")
    s.set_defaults(handler=_sign_catalog)

    p = subparsers.add_parser(
        "prove",
        help="answer landmarks' signed challenges and collect their receipts",
        description="Open a signed challenge-response session with each landmark of a signed "
        "catalog (the host sends first: works behind NAT), answer every nonce with this host's "
        "signature, and write the receipts the landmarks sign. The RTTs in them are timed by "
        "the landmarks. Exit 0 if any receipt came back, 3 if none did.",
    )
    p.add_argument("--key", required=True, help="this host's private key file (rttgeo keygen)")
    p.add_argument("--catalog", required=True, help="signed landmark catalog (rttgeo sign-catalog)")
    p.add_argument("--catalog-key", action="append", default=[], metavar="KEY",
                   help="trusted catalog signer (64 hex digits or a .pub file); repeatable; "
                   "default: only check that the catalog is intact")
    p.add_argument("--out", required=True, type=output_path(), help="receipts file to write (JSON)")
    p.add_argument("--landmark", action="append", default=[], metavar="ID",
                   help="only this landmark (repeatable; default: every landmark)")
    p.add_argument("--challenge", default=None, metavar="HEX",
                   help="the verifier's 32-byte challenge, 64 hex digits (default: random)")
    p.add_argument("--rounds", type=int_range(1, 64), default=10,
                   help="rounds per landmark, 1-64 (default 10)")
    p.add_argument("--timeout", type=finite_float(0, 60, lo_open=True), default=1.0,
                   help="seconds before a lost datagram is sent again (default 1)")
    p.add_argument("--retries", type=int_range(0, 100), default=4,
                   help="timeouts in a row before a landmark is given up (default 4)")
    p.add_argument("--parallel", type=int_range(1, 1024), default=4,
                   help="sessions at once (default 4)")
    p.add_argument("--busy-poll", action=argparse.BooleanOptionalAction, default=None,
                   help="poll the socket all the time while sessions run (one busy core), or "
                   "never (--no-busy-poll); default: around each nonce's expected arrival, at "
                   "real-time priority only")
    p.add_argument("--rt-priority", type=int_range(0, 99), default=None, metavar="N",
                   help="SCHED_FIFO priority of the sessions, 1-99, or 0 for normal scheduling "
                   "(default: 5 where allowed, i.e. root or CAP_SYS_NICE, else normal)")
    p.add_argument("--every", type=finite_float(1, 7 * 86400), default=None, metavar="SECONDS",
                   help="keep running: prove again every SECONDS (>= 1), rewriting --out with "
                   "fresh receipts each time, until SIGTERM (or --count runs); one line per run")
    p.add_argument("--count", type=int_range(1, 10**9), default=None, metavar="N",
                   help="with --every: stop after N runs (default: run until SIGTERM)")
    add_convention(p, json_help="print the report as JSON on stdout instead of text (with --every: "
                   "one JSON line per run)")
    p.set_defaults(handler=_prove)


def _keygen(args: argparse.Namespace) -> int:
    from rttgeo import crypto
    from rttgeo.errors import InputError

    path = Path(args.file)
    pub = path.with_name(path.name + ".pub")
    if not args.force:
        for f in (path, pub):
            if f.exists():
                raise InputError("the file exists; choose another name or pass --force",
                                 where=str(f))
    key = crypto.generate_key()
    crypto.save_private_key(key, path, overwrite=args.force)
    public = crypto.public_bytes(key).hex()
    try:
        pub.write_text(public + "\n")
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", where=str(pub)) from None
    print(public)
    print(f"rttgeo keygen: private key {path} (mode 0600), public key {pub}", file=sys.stderr)
    return ExitCode.OK


def _sign_catalog(args: argparse.Namespace) -> int:
    from rttgeo import crypto
    from rttgeo.catalog.signed import sign_catalog

    signed = sign_catalog(args.catalog, crypto.load_private_key(args.key), args.out,
                          name=args.name)
    print(f"signed {len(signed)} landmarks as {signed.name!r} with key "
          f"{signed.signer_key.hex()} into {args.out}")
    return ExitCode.OK


def parse_challenge(text: str | None) -> bytes | None:
    """The 32-byte challenge of ``--challenge`` (64 hex digits), or None."""
    from rttgeo.errors import InputError

    if text is None:
        return None
    t = text.strip().lower()
    if len(t) != 64 or any(c not in "0123456789abcdef" for c in t):
        raise InputError("expected 64 hex digits (32 bytes)", field="--challenge")
    return bytes.fromhex(t)


def _prove(args: argparse.Namespace) -> int:
    from rttgeo import crypto
    from rttgeo.api.prove import prove
    from rttgeo.errors import InputError

    if args.count is not None and args.every is None:
        raise InputError("--count goes with --every SECONDS", field="--count")
    keys = [crypto.parse_public_key(k, what="--catalog-key") for k in args.catalog_key]
    options = dict(
        landmarks=args.landmark, challenge=parse_challenge(args.challenge),
        rounds=args.rounds, timeout_s=args.timeout, retries=args.retries,
        parallel=args.parallel, busy_poll=args.busy_poll, rt_priority=args.rt_priority,
        catalog_keys=keys or None,
        out=args.out,
    )
    if args.every is not None:
        return _prove_every(args, options)
    report = prove(args.catalog, args.key, **options)
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print(report.describe())
    if not args.quiet:
        print(f"rttgeo prove: wrote {report.out}", file=sys.stderr)
    return ExitCode.OK if report.receipts else ExitCode.NO_ANSWER


def _prove_every(args: argparse.Namespace, options: dict) -> int:  # type: ignore[type-arg]
    """``prove --every``: one line (or JSON line) per run on stdout; SIGTERM stops it after the
    run in progress is written (exit 0); the exit code is otherwise the last run's.

    The pause between runs is a ``select`` on the signal wake-up fd, so SIGTERM ends it at once;
    the handler only records the signal (it takes no lock, so it cannot deadlock a run)."""
    import select
    import signal
    import socket
    import time

    from rttgeo.api.prove import prove_every

    stopped: list[int] = []
    runs = 0

    def on_report(report) -> None:  # type: ignore[no-untyped-def]
        nonlocal runs
        runs += 1
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if args.json:
            print(json.dumps({"time": when, **report.to_json()}), flush=True)
        elif not args.quiet:
            print(f"{when} {report.receipts} receipt(s) from {len(report.results)} landmark(s), "
                  f"written to {report.out}", flush=True)

    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)

    def wait(seconds: float) -> bool:
        if not stopped:
            select.select([wake_r], [], [], seconds)
        return bool(stopped)

    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: stopped.append(signum))
    old_fd = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    try:
        last = prove_every(args.catalog, args.key, every_s=args.every, count=args.count,
                           wait=wait, on_report=on_report, **options)
    finally:
        signal.set_wakeup_fd(old_fd)
        signal.signal(signal.SIGTERM, previous)
        wake_r.close()
        wake_w.close()
    if stopped:
        if not args.quiet:
            print(f"rttgeo prove: stopped by SIGTERM after {runs} run(s); {args.out} holds the "
                  "last run's receipts", file=sys.stderr)
        return ExitCode.OK
    return ExitCode.OK if last is not None and last.receipts else ExitCode.NO_ANSWER
