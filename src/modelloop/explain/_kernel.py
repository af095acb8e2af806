"""The compiled loop of :mod:`~modelloop.explain._treeshap`: every row, every leaf, one pass.

numpy evaluates the per-leaf tables with several passes over ``rows x path entries``
arrays (the row's features gathered, compared, the pattern formed, the table gathered, the
values scattered into features); here each path entry is read once per row, and leaves
without a table get their shares by the same quadrature, in compiled code, without
temporaries, once per pattern the batch's rows meet at the leaf (a hash of the patterns
met: a deep leaf sees far fewer patterns than rows). Compiled by numba on first use (cached on disk where it can be written); the
numpy path stands in where numba is missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["available", "contributions"]

_compiled: Any = None


def available() -> bool:
    """Whether numba can compile the loop here."""
    return _kernel() is not None


def _kernel() -> Any:
    global _compiled
    if _compiled is None:
        try:
            from numba import njit
        except ImportError:
            _compiled = False
            return None
        try:
            _compiled = njit(cache=True, nogil=True)(_loop)
        except RuntimeError:  # nowhere to write numba's cache: compiled in each process
            _compiled = njit(nogil=True)(_loop)
    return _compiled or None


def _loop(
    X: np.ndarray,  # (features, n) float64: a feature's values side by side
    start: np.ndarray,  # (leaves,) first path entry of each leaf
    depth: np.ndarray,  # (leaves,)
    table_start: np.ndarray,  # (leaves,) first value of the leaf's table, -1: no table
    feature: np.ndarray,  # (entries,)
    low: np.ndarray,
    high: np.ndarray,
    nan_follows: np.ndarray,  # (entries,) bool
    zero: np.ndarray,  # (entries,)
    table: np.ndarray,  # (sum of 2**d * d,)
    value: np.ndarray,  # (leaves, outputs)
    nodes: np.ndarray,  # (max depth + 1, max nodes) Gauss-Legendre nodes on [0, 1] per depth
    weights: np.ndarray,  # same shape; 0 past the nodes a depth needs
    out: np.ndarray,  # (features, outputs, n) accumulated into
) -> None:
    n = X.shape[1]
    n_leaves = start.shape[0]
    k = value.shape[1]
    max_d = nodes.shape[0]
    o = np.zeros(max_d)
    share = np.zeros(max_d)
    prefix = np.zeros(max_d + 1)
    # a leaf without a table: the shares of each pattern met in the batch, computed once
    # (rows of a batch follow a deep leaf's path in far fewer patterns than there are rows)
    size = 1
    while size < 2 * n:
        size *= 2
    mask = size - 1
    keys = np.empty(size, dtype=np.int64)
    slots = np.empty(size, dtype=np.int64)
    cache = np.empty((n, max_d))
    # leaf by leaf, every row: a leaf's table (a few KB) is read from memory once per batch
    for leaf in range(n_leaves):
        s = start[leaf]
        d = depth[leaf]
        t0 = table_start[leaf]
        shared = t0 < 0 and n >= 8 and d <= 62
        used = 0
        if shared:
            keys[:] = -1
        for i in range(n):
            pattern = 0
            for j in range(d):
                x = X[feature[s + j], i]
                follows = nan_follows[s + j] if np.isnan(x) else low[s + j] < x <= high[s + j]
                o[j] = 1.0 if follows else 0.0
                if follows:
                    pattern |= 1 << j
            if t0 >= 0:
                base = t0 + pattern * d
                for j in range(d):
                    share[j] = table[base + j]
            else:
                slot = -1
                fresh = True
                if shared:
                    h = ((pattern * 2654435761) ^ (pattern >> 16)) & mask
                    while keys[h] != -1 and keys[h] != pattern:
                        h = (h + 1) & mask
                    if keys[h] == pattern:
                        slot = slots[h]
                        fresh = False
                    else:
                        keys[h] = pattern
                        slots[h] = used
                        slot = used
                        used += 1
                if fresh:
                    for j in range(d):
                        share[j] = 0.0
                    for q in range(nodes.shape[1]):
                        w = weights[d, q]
                        if w == 0.0:
                            continue
                        t = nodes[d, q]
                        # prefix products of the terms, then a backward sweep for the suffix
                        prefix[0] = 1.0
                        for j in range(d):
                            prefix[j + 1] = prefix[j] * ((1.0 - t) * zero[s + j] + t * o[j])
                        suffix = 1.0
                        for j in range(d - 1, -1, -1):
                            share[j] += w * prefix[j] * suffix
                            suffix *= (1.0 - t) * zero[s + j] + t * o[j]
                    for j in range(d):
                        share[j] *= o[j] - zero[s + j]
                    if slot >= 0:
                        for j in range(d):
                            cache[slot, j] = share[j]
                else:
                    for j in range(d):
                        share[j] = cache[slot, j]
            for j in range(d):
                f = feature[s + j]
                for c in range(k):
                    out[f, c, i] += share[j] * value[leaf, c]


_ROWS = 16_384  # rows per call of the loop (bounds the per-pattern cache)


def contributions(
    arrays: dict[str, Any], X: np.ndarray, n_features: int, n_outputs: int
) -> np.ndarray:
    """``(n, features, outputs)`` contributions of the leaves in ``arrays``."""
    X = np.asarray(X, dtype=np.float64)
    result = np.empty((len(X), n_features, n_outputs))
    for at in range(0, len(X), _ROWS):
        rows = X[at : at + _ROWS]
        out = np.zeros((n_features, n_outputs, len(rows)))
        _kernel()(
            np.ascontiguousarray(rows.T), arrays["start"], arrays["depth"],
            arrays["table_start"], arrays["feature"], arrays["low"], arrays["high"],
            arrays["nan_follows"], arrays["zero"], arrays["table"], arrays["value"],
            arrays["nodes"], arrays["weights"], out,
        )  # fmt: skip
        result[at : at + len(rows)] = out.transpose(2, 0, 1)
    return result
