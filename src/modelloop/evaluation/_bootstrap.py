"""Bootstrap confidence intervals for a test-set metric."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modelloop.evaluation._metrics import (
    UndefinedMetricError,
    _prepare_inputs,
    get_metric,
)
from modelloop.exceptions import InvalidInputError

__all__ = ["bootstrap_ci"]


def _vectorised(name: str, yt: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray | None:
    """Metric values on every resample at once, for metrics that are means over rows.

    ``idx`` has shape (n_boot, n). Returns None for metrics without a fast path.
    """
    if name == "accuracy":
        return (yt == y)[idx].mean(axis=1)
    if name in ("rmse", "mae", "mape", "r2"):
        err = (yt - y)[idx]
        if name == "rmse":
            return np.sqrt((err**2).mean(axis=1))
        if name == "mae":
            return np.abs(err).mean(axis=1)
        if name == "mape":  # same epsilon as sklearn's mean_absolute_percentage_error
            denom = np.maximum(np.abs(yt), np.finfo(np.float64).eps)[idx]
            return (np.abs(err) / denom).mean(axis=1)
        ys = yt[idx]
        sst = ((ys - ys.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        sse = (err**2).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sst > 0, 1.0 - sse / sst, np.nan)
    return None


def bootstrap_ci(
    name: str,
    y_true: Any,
    *,
    y_pred: Any = None,
    y_proba: Any = None,
    classes: Sequence[Any] | np.ndarray | None = None,
    n_boot: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of metric ``name`` on a test set.

    Rows are resampled with replacement ``n_boot`` times; the interval holds the central
    ``1 - alpha`` share of the resampled metric values. Resamples on which the metric is
    undefined (e.g. a single class for AUC) are left out.

    Parameters
    ----------
    name, y_true, y_pred, y_proba, classes
        As in :func:`modelloop.evaluation.score`.
    n_boot
        Number of resamples.
    seed
        Seed of the resampling, for reproducible intervals.
    alpha
        One minus the confidence level (0.05 gives a 95% interval).

    Returns
    -------
    tuple of float
        ``(low, high)``; ``(nan, nan)`` when the metric is undefined on every resample.

    Examples
    --------
    >>> low, high = bootstrap_ci("mae", [1.0, 2.0, 3.0, 4.0], y_pred=[1.5, 2.0, 2.5, 4.0])
    >>> low <= 0.25 <= high
    True
    """
    if not (isinstance(n_boot, int | np.integer) and n_boot >= 1):
        raise InvalidInputError(f"n_boot must be a positive integer. Got {n_boot!r}.")
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"alpha must be in the open interval (0, 1). Got {alpha!r}.")
    metric = get_metric(name)
    yt, y, cls = _prepare_inputs(metric, y_true, y_pred, y_proba, classes)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(yt), size=(n_boot, len(yt)))

    values = _vectorised(name, yt, y, idx)
    if values is None:
        values = np.empty(n_boot)
        for b in range(n_boot):
            try:
                values[b] = metric.func(yt[idx[b]], y[idx[b]], cls)
            except (UndefinedMetricError, ValueError):
                values[b] = np.nan
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)
