"""``rttgeo.api.lab_locate``: locate a host of an emulated Internet and score it against the truth.

A lab (:mod:`rttgeo.lab`, ``rttgeo lab up``) knows where every one of its hosts really is, which is
what a course exercise needs: probe from inside a host, estimate, and see the error. Needs root
(the host is a network namespace).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rttgeo.api._results import fmt_lat_lon
from rttgeo.api.locate import LocateResult, locate
from rttgeo.errors import LabError

__all__ = ["LabLocateResult", "lab_locate", "pick_lab"]


@dataclass(frozen=True, slots=True, eq=False)
class LabLocateResult:
    """A :class:`LocateResult` measured inside lab host ``host``, with its true position, the
    error of the point estimate (``error_km``) and whether the region holds the truth (None when
    the method gives no region)."""

    lab_id: str
    host: str
    role: str
    true_lat_deg: float
    true_lon_deg: float
    error_km: float
    truth_in_region: bool | None
    result: LocateResult

    def describe(self) -> str:
        """What ``rttgeo lab locate`` prints: the locate text, then the truth and the error."""
        inside = {True: "inside", False: "outside", None: "no region to hold"}[self.truth_in_region]
        return (
            self.result.describe()
            + f"\n  truth       {fmt_lat_lon(self.true_lat_deg, self.true_lon_deg)} "
            f"({self.host}, lab {self.lab_id})"
            + f"\n  error       {self.error_km:,.1f} km from the true position; the truth is "
            + (f"{inside} the region" if self.truth_in_region is not None else
               "unscored (the method gives no region)")
        )

    def to_json(self) -> dict[str, Any]:
        """The locate document plus ``truth``: host, position, error and region check."""
        return {
            **self.result.to_json(),
            "truth": {
                "lab": self.lab_id,
                "host": self.host,
                "role": self.role,
                "lat_deg": round(self.true_lat_deg, 6),
                "lon_deg": round(self.true_lon_deg, 6),
                "error_km": round(self.error_km, 3),
                "truth_in_region": self.truth_in_region,
            },
        }


def pick_lab(lab_id: str | None) -> Any:
    """The lab ``lab_id`` of this run root, or the only lab that is up (LabError otherwise)."""
    from rttgeo.lab import Lab, find_labs, run_root

    if lab_id:
        path = run_root() / lab_id
        if not path.is_dir():
            raise LabError(f"no lab {lab_id} under {run_root()} (see 'rttgeo lab status')")
        return Lab(path)
    labs = find_labs()
    if len(labs) == 1:
        return Lab(labs[0])
    if not labs:
        raise LabError("no lab is up: start one with 'rttgeo lab up WORLD'")
    raise LabError(f"{len(labs)} labs are up ({', '.join(p.name for p in labs)}): name one")


def lab_locate(host: str, *, lab: Any = None, ipv6: bool = False,
               **options: Any) -> LabLocateResult:
    """Run :func:`rttgeo.locate` inside lab host ``host`` against the lab's landmarks (all but
    ``host`` itself) and score the estimate against the host's true position.

    ``lab``: a :class:`rttgeo.lab.Lab`, a lab id, or None for the only lab that is up;
    ``ipv6``: probe the landmarks' IPv6 addresses (the lab's ``catalog6.csv``; implied by an
    ``icmp6*`` protocol; LabError in an IPv4-only lab);
    ``options`` go to :func:`rttgeo.locate` (method, protocol, campaign, two_stage, ...).
    Raises :class:`~rttgeo.errors.InputError` for an unknown host, and
    :class:`~rttgeo.errors.LabError` for an unknown lab or without root.
    """
    import os

    from rttgeo.catalog import load_catalog
    from rttgeo.geo.sphere import distance_km
    from rttgeo.lab import Lab

    if "landmarks" in options:
        raise LabError("lab_locate probes the lab's own landmarks: do not pass landmarks=")
    the_lab = lab if isinstance(lab, Lab) else pick_lab(lab)
    names = [x.name for x in the_lab.hosts]
    if host not in names:
        from rttgeo.errors import InputError

        raise InputError(f"lab {the_lab.id} has no host {host!r} (hosts: "
                         f"{', '.join(names[:12])}{' ...' if len(names) > 12 else ''})",
                         field="host")
    h = the_lab.host(host)
    if os.geteuid() != 0:
        raise LabError(f"entering host {host!r} of lab {the_lab.id} needs root (it is a network "
                       "namespace): run it with sudo")
    ipv6 = ipv6 or str(options.get("protocol") or "").startswith("icmp6")
    catalog = the_lab.catalog6_path if ipv6 else the_lab.catalog_path
    if ipv6 and not the_lab.state.get("network6"):
        raise LabError(f"lab {the_lab.id} is IPv4 only (brought up with --no-ipv6 or on a kernel "
                       "without IPv6): its landmarks have no IPv6 address to probe")
    landmarks = [lm for lm in load_catalog(catalog) if lm.id != h.name]
    if not landmarks:
        raise LabError(f"lab {the_lab.id} has no landmark besides {host!r}")
    res: LocateResult = the_lab.in_host(host, lambda: locate(landmarks=landmarks, **options))
    est = res.estimate
    err = float(distance_km(est.lat_deg, est.lon_deg, h.lat_deg, h.lon_deg))
    inside = None
    if est.region is not None and math.isfinite(est.area_km2):
        inside = bool(est.region.contains(h.lat_deg, h.lon_deg))
    return LabLocateResult(the_lab.id, h.name, h.role, h.lat_deg, h.lon_deg, err, inside, res)
