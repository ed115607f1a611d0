"""Calibrated mode: annuli from the estimator's delay-distance model, and its measured false accepts.

The model is rttgeo.estimate's pooled delay-distance model (:class:`~rttgeo.estimate.delay.
DelayDistance`): for an RTT r, log(1 + d / D0) is Gaussian with median mu(r) and spread sigma(r),
fitted on a mesh of landmark-to-landmark RTTs (by default the bundled WonderProxy 2020 mesh). The
annulus of a landmark runs from D0 (exp(mu - z_lower sigma) - 1) to D0 (exp(mu + z sigma) - 1),
capped above by the sound radius: one-sided quantiles, since the two tails differ (on the mesh's
pairs the upper tail is thin, 99.9 % of residuals below +2.6 spreads, because no path beats fibre
by much; the lower one heavy, 1 % below -6, because routes detour). ``z_lower`` None drops the
lower bound. It is far tighter than light in vacuum and it is NOT sound: a host on a path
faster than the model's (microwave, hollow-core fibre), one that shapes its delays, or plain bad
luck in the tail can get a false claim proven.
How often is measured, not assumed: ``benchmarks/bench_verify_adversary.py`` writes the rate
with its provenance to ``rttgeo/data/verify_false_accept.json``, which every calibrated decision
carries (:func:`load_false_accept_rate`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rttgeo.estimate.delay import DelayDistance

__all__ = [
    "DEFAULT_MAX_LANDMARKS",
    "DEFAULT_Z",
    "DEFAULT_Z_LOWER",
    "FALSE_ACCEPT_FILE",
    "CalibratedModel",
    "FalseAcceptRate",
    "default_model",
    "load_false_accept_rate",
    "rule_of_three",
    "upper_95",
]

# The three hyper-parameters below were chosen by benchmarks/bench_verify_adversary.py part 4
# (docs/verify.md, "Calibrated mode, chosen how"): the most honest 500 km claims proven on the
# selection half of the WonderProxy hosts, among the settings whose WORST attack kind's measured
# false-accept rate (95 % bound) stays below 1 % (an attacker picks one kind: near-c paths defeat
# any upper bound tighter than about 3 spreads); the other half is held out.

#: Spreads of the delay-distance model above the median: the upper distance bound of each RTT.
DEFAULT_Z = 3.0

#: Spreads below the median: the lower distance bound (None: no lower bound).
DEFAULT_Z_LOWER: float | None = 3.0

#: Annuli come from at most this many landmarks, the nearest by RTT (the estimator's rule); a
#: delay-distance model describes near landmarks best, and every annulus adds a chance that a
#: heavy-tailed honest path falls outside it.
DEFAULT_MAX_LANDMARKS = 10

FALSE_ACCEPT_FILE = "verify_false_accept.json"

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CalibratedModel:
    """A delay-distance model and its annuli: ``z`` spreads above the median, ``z_lower`` below
    (None: no lower bound), from at most ``max_landmarks`` landmarks."""

    model: DelayDistance
    z: float = DEFAULT_Z
    source: str = "bundled WonderProxy 2020 mesh (pooled)"
    max_landmarks: int = DEFAULT_MAX_LANDMARKS
    near_factor: float = 2.0
    near_extra_ms: float = 10.0
    z_lower: float | None = DEFAULT_Z_LOWER

    @property
    def setting(self) -> tuple[float, float | None, int]:
        """(z, z_lower, max_landmarks): what a measured false-accept rate applies to."""
        return (self.z, self.z_lower, self.max_landmarks)

    def select(self, rtt_ms: ArrayLike) -> NDArray[np.bool_]:
        """The landmarks whose annulus is used: the estimator's rule (RTT at most
        ``near_factor`` x the lowest + ``near_extra_ms``), at least 3 and at most ``max_landmarks``,
        lowest RTTs first. The others keep their sound disc (light in vacuum)."""
        r = np.asarray(rtt_ms, dtype=float)
        out = np.zeros(len(r), dtype=bool)
        idx = np.flatnonzero(np.isfinite(r))
        if len(idx) == 0:
            return out
        order = idx[np.argsort(r[idx], kind="stable")]
        near = int(np.sum(r[order] <= self.near_factor * r[order[0]] + self.near_extra_ms))
        out[order[: min(max(near, 3), self.max_landmarks)]] = True
        return out

    def annulus_km(self, rtt_ms: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """(lo, hi) distance in km allowed by each RTT (not capped: the caller caps at the sound radius)."""
        mu, sigma = self.model.params(np.asarray(rtt_ms, dtype=float))
        d0 = self.model.D0_KM
        if self.z_lower is None:
            lo = np.zeros_like(mu)
        else:
            lo = d0 * np.expm1(np.maximum(mu - self.z_lower * sigma, 0.0))
        hi = d0 * np.expm1(mu + self.z * sigma)
        return lo, hi

    def params(self) -> dict[str, Any]:
        return {
            "model": "delay-distance (pooled)",
            "z": self.z,
            "z_lower": self.z_lower,
            "max_landmarks": self.max_landmarks,
            "calibration": self.source,
        }


@lru_cache(maxsize=1)
def default_model() -> CalibratedModel:
    """The pooled model of the bundled WonderProxy mesh at :data:`DEFAULT_Z`."""
    from rttgeo.estimate.defaults import default_delay_distance

    return CalibratedModel(default_delay_distance())


def rule_of_three(attacks: int) -> float:
    """95 % upper bound of a rate when 0 events were seen in ``attacks`` trials: 3 / n."""
    return 3.0 / attacks if attacks > 0 else 1.0


def upper_95(false_accepts: int, attacks: int) -> float:
    """One-sided 95 % upper bound of a rate: :func:`rule_of_three` at 0 events, else Clopper-Pearson."""
    if false_accepts == 0:
        return rule_of_three(attacks)
    from scipy.stats import beta

    return float(beta.ppf(0.95, false_accepts + 1, attacks - false_accepts))


@dataclass(frozen=True, slots=True)
class FalseAcceptRate:
    """A measured false-accept rate: ``false_accepts`` of ``attacks``, its 95 % upper bound, and how
    it was measured (``z``, ``z_lower`` and ``max_landmarks`` of the model, the command, the date,
    the data). A decision carries it only when its model has the same setting."""

    false_accepts: int
    attacks: int
    upper_95: float
    z: float
    max_landmarks: int
    provenance: str
    by_attack: dict[str, tuple[int, int]]
    z_lower: float | None = None

    @property
    def setting(self) -> tuple[float, float | None, int]:
        return (self.z, self.z_lower, self.max_landmarks)

    @property
    def rate(self) -> float:
        return self.false_accepts / self.attacks if self.attacks else float("nan")

    @property
    def worst(self) -> tuple[str, int, int] | None:
        """(kind, false accepts, attacks) of the attack kind with the highest 95 % bound (None
        without per-kind counts): the pooled rate averages over kinds, an attacker picks one."""
        if not self.by_attack:
            return None
        kind, (k, n) = max(self.by_attack.items(), key=lambda kv: upper_95(*kv[1]))
        return kind, k, n

    @property
    def worst_upper_95(self) -> float:
        """95 % upper bound of the worst attack kind's rate (the pooled one without per-kind counts):
        the figure the setting was chosen on, since an attacker picks the kind that works best."""
        worst = self.worst
        return self.upper_95 if worst is None else upper_95(worst[1], worst[2])

    def describe(self) -> str:
        how = "rule of three" if self.false_accepts == 0 else "Clopper-Pearson"
        text = (
            f"measured false-accept rate {100 * self.rate:.2f} % ({self.false_accepts} of "
            f"{self.attacks:,} simulated attacks; 95 % bound {100 * self.upper_95:.2f} % by {how})"
        )
        worst = self.worst
        if worst is not None and len(self.by_attack) > 1:
            kind, k, n = worst
            bound = f"95 % bound {100 * upper_95(k, n):.2f} %"
            if k == 0:
                text += f"; none in any attack kind (the least sampled: {n:,}; {bound})"
            else:
                text += f"; worst attack {kind}: {100 * k / n:.2f} % ({k} of {n:,}; {bound})"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "false_accepts": self.false_accepts,
            "attacks": self.attacks,
            "rate": self.rate,
            "upper_95": self.upper_95,
            "z": self.z,
            "z_lower": self.z_lower,
            "max_landmarks": self.max_landmarks,
            "provenance": self.provenance,
            "by_attack": {k: list(v) for k, v in self.by_attack.items()},
        }


@lru_cache(maxsize=1)
def load_false_accept_rate() -> FalseAcceptRate | None:
    """The rate measured by the benchmark and bundled with the package (None if not bundled)."""
    try:
        text = resources.files("rttgeo.data").joinpath(FALSE_ACCEPT_FILE).read_text()
    except (FileNotFoundError, ModuleNotFoundError):
        return None
    d = json.loads(text)
    return FalseAcceptRate(
        false_accepts=int(d["false_accepts"]),
        attacks=int(d["attacks"]),
        upper_95=float(d["upper_95"]),
        z=float(d["z"]),
        max_landmarks=int(d["max_landmarks"]),
        provenance=str(d["provenance"]),
        by_attack={k: (int(v[0]), int(v[1])) for k, v in d.get("by_attack", {}).items()},
        # Files from before z_lower existed were measured with the central interval: z both ways.
        z_lower=(
            float(d["z"]) if "z_lower" not in d
            else None if d["z_lower"] is None
            else float(d["z_lower"])
        ),
    )
