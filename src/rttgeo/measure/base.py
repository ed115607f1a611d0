"""The one async probing interface of rttgeo.

A :class:`Prober` sends one probe to one landmark and returns a :class:`ProbeResult`. Implementations:
ICMP echo (raw through scapy, or the unprivileged datagram socket), TCP handshake, UDP to the rttgeo
landmark server, and a fake prober with scripted delays for unit tests. Campaigns (many landmarks,
k samples, bounded concurrency) are built on top and never care which prober they drive.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from types import TracebackType
from typing import ClassVar

from rttgeo.models import Landmark

__all__ = ["ProbeResult", "Prober", "ProberStats"]

#: Status of one probe. ``mismatch``: the reply was matched but is not a sample of this landmark
#: (a UDP landmark server announcing a position other than the catalog's: an impostor, or a
#: catalog entry that is wrong).
STATUSES = ("ok", "timeout", "unreachable", "refused", "error", "mismatch")


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """Outcome of one probe. ``rtt_ms`` is None unless ``status == "ok"`` (a lost probe is never 0).

    ``timing`` names the clock that measured the RTT (``monotonic``, ``so_timestampns``,
    ``tcp_info``, ``connect``, ``fake``); ``sent_unix_ns`` is a wall-clock label of the send time.
    """

    status: str
    rtt_ms: float | None
    sent_unix_ns: int
    timing: str = ""
    detail: str = ""


@dataclass(slots=True)
class ProberStats:
    """Replies that were never taken as an RTT, counted per kind."""

    sent: int = 0
    answered: int = 0
    lost: int = 0
    unmatched: int = 0
    duplicate: int = 0
    late: int = 0
    malformed: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class Prober(abc.ABC):
    """Sends probes of one protocol. Use as ``async with prober: await prober.probe(lm, 1.0)``."""

    protocol: ClassVar[str]

    def __init__(self) -> None:
        self.stats = ProberStats()

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Acquire sockets; raises :class:`rttgeo.errors.PermissionDenied` with advice if refused."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release sockets."""

    @abc.abstractmethod
    async def probe(self, landmark: Landmark, timeout_s: float) -> ProbeResult:
        """Probe ``landmark`` once; never raises for a lost or refused probe (see ``status``)."""

    async def __aenter__(self) -> Prober:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
