"""Adjusted p-values for many tests at once (one per column, plus missing-rate tests)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["adjust_pvalues"]


def adjust_pvalues(p_values: Sequence[float | None], method: str = "bh") -> list[float | None]:
    """Benjamini-Hochberg (``'bh'``) or Holm (``'holm'``) adjusted p-values.

    ``None`` entries (no test was run) stay ``None`` and do not count as tests. Compare
    the adjusted values with the significance level directly.

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, None, 0.03], "bh")
    [0.03, 0.04, None, 0.04]
    >>> [round(p, 2) for p in adjust_pvalues([0.01, 0.04, 0.03], "holm")]
    [0.03, 0.06, 0.06]
    """
    idx = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    if not idx:
        return out
    p = np.asarray([p_values[i] for i in idx], dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "bh":
        adjusted = ranked * m / np.arange(1, m + 1)
        adjusted = np.minimum.accumulate(adjusted[::-1])[::-1]
    elif method == "holm":
        adjusted = ranked * (m - np.arange(m))
        adjusted = np.maximum.accumulate(adjusted)
    else:
        raise ValueError(f"method must be 'bh' or 'holm'. Got {method!r}.")
    adjusted = np.minimum(adjusted, 1.0)
    result = np.empty(m)
    result[order] = adjusted
    for j, i in enumerate(idx):
        out[i] = float(result[j])
    return out
