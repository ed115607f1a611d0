"""Number and text formatting shared by the figures."""

from __future__ import annotations

import textwrap

import numpy as np

__all__ = ["fmt_area", "fmt_km", "wrap"]


def fmt_km(d: float) -> str:
    """A distance for a legend: ``1,234 km`` from 10 km up, ``3.2 km`` below, ``n/a`` if unknown."""
    return "n/a" if not np.isfinite(d) else f"{d:,.0f} km" if d >= 10 else f"{d:.1f} km"


def fmt_area(a: float) -> str:
    """An area for a legend: ``12,345 km²`` or ``area n/a``."""
    return "area n/a" if not np.isfinite(a) else f"{a:,.0f} km²"


def wrap(text: str, width: int) -> str:
    """``text`` wrapped at ``width`` characters (newlines)."""
    return "\n".join(textwrap.wrap(text, width)) or text
