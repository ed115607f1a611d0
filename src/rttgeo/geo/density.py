"""A probability distribution over the cells of one grid level (a posterior), and its credible sets.

Probabilistic estimators keep the cells they searched with their posterior mass; everything a
reader asks of the posterior follows from that: the highest-posterior region at any level
(:meth:`CellDensity.hpd`), and the level at which a given point first enters it
(:meth:`CellDensity.credible_level`), which is what a reliability diagram of coverage needs.
Mass outside the kept cells is taken as 0 (estimators prune cells below exp(-prune_nats) of the
best, so it is negligible).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rttgeo.geo.grid import CellRegion, cell_area_km2, cell_index, level_shape

__all__ = ["CellDensity"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False, slots=True)
class CellDensity:
    """Probability ``mass[k]`` of cell (``rows[k]``, ``cols[k]``) at grid ``level``; masses sum to 1.

    Build it with :meth:`from_log` (from unnormalised log masses).
    """

    level: int
    rows: IntArray
    cols: IntArray
    mass: FloatArray

    @staticmethod
    def from_log(level: int, rows: ArrayLike, cols: ArrayLike, log_mass: ArrayLike) -> CellDensity:
        """Normalised from unnormalised log masses (``-inf`` = zero mass)."""
        lm = np.asarray(log_mass, dtype=float)
        if not (lm.size and np.isfinite(np.max(lm))):
            raise ValueError("a density needs at least one cell of positive mass")
        w = np.exp(lm - np.max(lm))
        return CellDensity(
            level, np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), w / w.sum()
        )

    def __len__(self) -> int:
        return len(self.rows)

    def _order(self) -> IntArray:
        return np.argsort(-self.mass, kind="stable")

    def hpd(self, p: float) -> CellRegion:
        """Highest-posterior region holding probability ``p``: the densest cells, in order, until
        their mass reaches ``p`` (cells all have the same area, so mass order is density order)."""
        order = self._order()
        cum = np.cumsum(self.mass[order])
        k = int(np.searchsorted(cum, p) + 1)
        sel = order[: min(k, len(order))]
        return CellRegion.from_cells(self.level, self.rows[sel], self.cols[sel])

    def credible_level(self, lat_deg: ArrayLike, lon_deg: ArrayLike) -> FloatArray:
        """For each point, the mass of the cells denser than its own: the point lies in
        :meth:`hpd` (p) exactly when p > this level (1.0 for a point outside every kept cell).

        A calibrated posterior makes this level uniform on [0, 1] over many targets, so the share of
        targets with level < p (their coverage at p) should be p: the reliability diagram.
        """
        r, c = cell_index(self.level, lat_deg, lon_deg)
        nc = level_shape(self.level)[1]
        order = self._order()
        keys = (self.rows * nc + self.cols)[order]
        before = np.concatenate([[0.0], np.cumsum(self.mass[order])[:-1]])
        sort = np.argsort(keys, kind="stable")
        q = np.asarray(r * nc + c)
        pos = np.clip(np.searchsorted(keys[sort], q), 0, len(keys) - 1)
        hit = keys[sort][pos] == q
        return np.where(hit, before[sort][pos], 1.0)

    def density_per_km2(self) -> FloatArray:
        """Probability per km² of each cell."""
        return self.mass / cell_area_km2(self.level)
