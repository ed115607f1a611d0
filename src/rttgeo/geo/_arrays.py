"""Fast set operations on int64 cell keys (pure numpy).

numpy 2.4 answers ``np.unique`` and ``np.isin`` on int64 arrays with hash tables that are one to
two orders of magnitude slower than sorting here: for 5e6 keys ``np.unique`` takes 8 s against
0.09 s for sort-and-compare, and ``np.isin`` of 1,000 queries in 4e6 keys 15 s against 5 ms for a
binary search. Cell keys are ``row * ncols + col``; regions keep them sorted, which these use.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["isin_sorted", "sorted_unique"]

IntArray = NDArray[np.int64]


def sorted_unique(keys: ArrayLike) -> IntArray:
    """Sorted unique values of int keys (flattened); one pass when already sorted and unique."""
    k = np.ravel(np.asarray(keys, dtype=np.int64))
    if len(k) < 2 or bool(np.all(k[1:] > k[:-1])):
        return k
    k = np.sort(k)
    return k[np.concatenate(([True], k[1:] != k[:-1]))]


def isin_sorted(query: ArrayLike, sorted_keys: IntArray) -> NDArray[np.bool_]:
    """``np.isin(query, sorted_keys)`` for ``sorted_keys`` sorted ascending, by binary search."""
    q = np.asarray(query, dtype=np.int64)
    if len(sorted_keys) == 0:
        return np.zeros(q.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, q), len(sorted_keys) - 1)
    return sorted_keys[pos] == q
