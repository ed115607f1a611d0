"""The ``rttgeo`` command line.

Each room registers its subcommands from its own module (``rttgeo.cli.<name>``) through a
``register(subparsers)`` function; heavy imports happen inside the handlers, so ``rttgeo --help`` is
fast. Handlers return an exit code. :class:`rttgeo.errors.RttgeoError` becomes a one-line message and
exit code 2; Ctrl-C exit code 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rttgeo import __version__
from rttgeo.errors import RttgeoError

#: Modules of rttgeo.cli that register subcommands, in help order.
COMMAND_MODULES = (
    "estimate_cmds",  # eval, estimate, demo
    "measure_cmds",  # locate, measure, landmarks
    "serve_cmds",  # serve
    "prove_cmds",  # keygen, sign-catalog, prove
    "lab_cmds",  # lab
    "verify_cmds",  # verify
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rttgeo",
        description="Find where a host is from round-trip times to landmarks, and check claims.",
    )
    parser.add_argument("--version", action="version", version=f"rttgeo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"rttgeo.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"rttgeo.cli.{name}":
                continue  # room not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 1
    try:
        return int(args.handler(args) or 0)
    except RttgeoError as exc:
        print(f"rttgeo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rttgeo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
