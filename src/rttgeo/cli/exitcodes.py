"""Exit codes of the ``rttgeo`` command line (documented in README.md, tested per command).

===  ==========================================================================================
0    success; for ``verify``: the claim is **proven**
1    runtime failure: the environment refused (permission, network, disk, a lab that cannot start)
2    usage or input error: a bad option, argument or input file (one line names what and where)
3    nothing answered: every probe to every landmark was lost
10   ``verify``: the claim is **refuted**
11   ``verify``: **undecided** (the RTTs allow points inside and outside the claim)
12   ``verify``: landmark fault (the trusted landmarks contradict each other; no verdict)
130  interrupted (Ctrl-C)
===  ==========================================================================================
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    """Process exit codes; see the module docstring for their meaning."""

    OK = 0
    RUNTIME = 1
    USAGE = 2
    NO_ANSWER = 3
    REFUTED = 10
    UNDECIDED = 11
    LANDMARK_FAULT = 12
    INTERRUPTED = 130
