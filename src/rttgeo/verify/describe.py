"""Plain-text account of a decision for people (``rttgeo verify``): always names the mode."""

from __future__ import annotations

import math

from rttgeo.verify.decide import Decision

__all__ = ["describe_decision", "mode_label", "outcome_text"]

_OUTCOME_TEXT = {
    "proven": "PROVEN: every position consistent with the RTTs lies inside the claim",
    "refuted": "REFUTED: no position consistent with the RTTs lies inside the claim",
    "undecided": "UNDECIDED: the RTTs allow positions inside and outside the claim",
    "landmark-fault": "LANDMARK FAULT: the trusted landmarks contradict each other; no verdict",
}


def outcome_text(d: Decision) -> str:
    """The verdict as one line (``PROVEN: every position ...``)."""
    return _OUTCOME_TEXT[d.outcome]


def mode_label(d: Decision) -> str:
    """The mode line: sound, or calibrated with its measured false-accept rate."""
    if d.mode == "sound":
        return (
            "sound (light in vacuum, 149.9 km per ms of RTT; no added delay can make a false "
            "claim proven)"
        )
    fa = d.false_accept
    rate = fa.describe() if fa is not None else "false-accept rate NOT measured for this installation"
    return f"calibrated (delay-distance model): NOT sound against a lying host; {rate}"


def describe_decision(d: Decision, max_landmarks: int = 8) -> str:
    """Outcome, mode, claim, reasons, region, faults and the deciding landmarks."""
    lines = [
        outcome_text(d),
        f"claim:     {d.claim.describe()}",
        f"mode:      {mode_label(d)}",
        f"reasons:   {', '.join(d.reasons)}",
    ]
    if d.outcome == "landmark-fault":
        for a, b in d.conflicts[:max_landmarks]:
            lines.append(f"conflict:  landmarks {a} and {b} are too far apart for both RTTs")
        lines.append(
            "           (a landmark is misplaced or its RTT wrong; tolerate it with --faults)"
        )
    else:
        r = math.sqrt(d.area_km2 / math.pi)
        lines.append(
            f"region:    {d.area_km2:,.0f} km² consistent with the RTTs (≈ a disc of radius "
            f"{r:,.0f} km), over-approximated on the grid"
        )
    used = f"landmarks: {d.landmarks_used} measured"
    if d.faults:
        used += f"; decision holds with any {d.faults} of them faulty"
        if d.faults_needed:
            used += f" (at least {d.faults_needed} disagree with the others)"
    lines.append(used)
    if d.deciding:
        shown = ", ".join(lm.id for lm in d.deciding[:max_landmarks])
        more = f" and {len(d.deciding) - max_landmarks} more" if len(d.deciding) > max_landmarks else ""
        lines.append(f"deciding:  {shown}{more}")
    return "\n".join(lines)
