"""The ``rttgeo`` command line.

Each room registers its subcommands from its own module (``rttgeo.cli.<name>``) through a
``register(subparsers)`` function; heavy imports happen inside the handlers. Handlers parse, call one
verb of :mod:`rttgeo.api`, print, and return an exit code (:mod:`rttgeo.cli.exitcodes`). An error
rttgeo raises on purpose becomes one line on stderr and its documented exit code: bad input
(:class:`~rttgeo.errors.InputError` and its subclasses, and argparse's usage errors) 2, nothing
answered (:class:`~rttgeo.errors.NoLandmarkAnswered`) 3, any other
:class:`~rttgeo.errors.RttgeoError` 1; Ctrl-C 130. Never a traceback for those.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from rttgeo import __version__
from rttgeo.cli._args import check_outputs
from rttgeo.cli.exitcodes import ExitCode
from rttgeo.errors import InputError, NoLandmarkAnswered, RttgeoError

#: Modules of rttgeo.cli that register subcommands, in help order.
COMMAND_MODULES = (
    "estimate_cmds",  # eval, estimate, demo
    "mesh_cmds",  # mesh check
    "measure_cmds",  # locate, measure
    "landmarks_cmds",  # landmarks
    "serve_cmds",  # serve
    "prove_cmds",  # keygen, sign-catalog, prove
    "lab_cmds",  # lab
    "verify_cmds",  # verify
    "import_cmds",  # import
    "atlas_cmds",  # atlas locate / fetch / mesh
)


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``rttgeo CMD: error: ... (see 'rttgeo CMD --help')``."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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


def exit_code(exc: RttgeoError) -> ExitCode:
    """The documented exit code of an error rttgeo raised on purpose."""
    if isinstance(exc, InputError):
        return int(ExitCode.USAGE)
    if isinstance(exc, NoLandmarkAnswered):
        return ExitCode.NO_ANSWER
    return ExitCode.RUNTIME


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rttgeo`` command line with ``argv`` (default: sys.argv); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2), printed by argparse
        return int(exc.code or 0)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return int(ExitCode.USAGE)
    try:
        check_outputs(args)
        return int(args.handler(args) or 0)
    except RttgeoError as exc:
        print(f"rttgeo: error: {exc}", file=sys.stderr)
        return int(exit_code(exc))
    except KeyboardInterrupt:
        print("rttgeo: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:  # e.g. rttgeo landmarks list | head
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no flush error at exit
        return int(ExitCode.OK)
    except OSError as exc:  # the system refused a write rttgeo did not expect to fail (a full disk)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"rttgeo: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return int(ExitCode.RUNTIME)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
