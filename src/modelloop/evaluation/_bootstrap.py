"""Bootstrap confidence intervals for a test-set metric."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modelloop.evaluation._metrics import (
    UndefinedMetricError,
    get_metric,
    prepare_inputs,
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


def _codes(values: np.ndarray, classes: np.ndarray) -> np.ndarray | None:
    """Each value's position in ``classes``; None when one is not among them."""
    order = {c: k for k, c in enumerate(classes.tolist())}
    try:
        codes = np.fromiter((order[v] for v in values.tolist()), dtype=np.int64, count=len(values))
    except (KeyError, TypeError):
        return None
    return codes


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (scikit-learn's ``zero_division=0``)."""
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _label_vectorised(
    name: str, yt: np.ndarray, y: np.ndarray, classes: np.ndarray | None, idx: np.ndarray
) -> np.ndarray | None:
    """Label metrics on every resample at once, from one confusion matrix per resample."""
    if classes is None:
        return None
    t, p = _codes(yt, classes), _codes(y, classes)
    if t is None or p is None:
        return None  # a label outside the classes: the plain path decides what it means
    k, n_boot = len(classes), idx.shape[0]
    cell = (t * k + p)[idx] + (np.arange(n_boot) * k * k)[:, None]
    cm = np.bincount(cell.ravel(), minlength=n_boot * k * k).reshape(n_boot, k, k)
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(float)
    support, predicted = cm.sum(axis=2).astype(float), cm.sum(axis=1).astype(float)
    if name == "balanced_accuracy":  # mean recall over the classes that occur
        recall = np.where(support > 0, _safe_ratio(tp, support), np.nan)
        return np.nanmean(recall, axis=1)
    precision, recall = _safe_ratio(tp, predicted), _safe_ratio(tp, support)
    f1 = _safe_ratio(2 * tp, predicted + support)
    if name in ("precision", "recall", "f1") and k == 2:  # classes[1] is the positive class
        return {"precision": precision, "recall": recall, "f1": f1}[name][:, 1]
    if name.endswith("_macro"):
        per_class = {"precision": precision, "recall": recall, "f1": f1}[name[: -len("_macro")]]
        return per_class.mean(axis=1)
    if name == "f1_weighted":
        return _safe_ratio((f1 * support).sum(axis=1), support.sum(axis=1))
    return None


def _auc_vectorised(
    yt: np.ndarray, proba: np.ndarray, classes: np.ndarray | None, idx: np.ndarray
) -> np.ndarray | None:
    """ROC AUC on every resample (Mann-Whitney on tie-averaged ranks, as the plain path:
    one-vs-rest macro over the classes that occur); NaN where it is undefined."""
    from scipy.stats import rankdata

    if classes is None or proba.ndim != 2:
        return None
    t = _codes(yt, classes)
    if t is None:
        return None
    columns = [1] if len(classes) == 2 else range(len(classes))
    per_class = []
    for k in columns:
        pos = (t == k)[idx]
        ranks = rankdata(proba[:, k][idx], axis=1)
        n_pos = pos.sum(axis=1).astype(float)
        n_neg = idx.shape[1] - n_pos
        u = (ranks * pos).sum(axis=1) - n_pos * (n_pos + 1) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            per_class.append(np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan))
    values = np.vstack(per_class)
    defined = ~np.isnan(values)
    count = defined.sum(axis=0)
    total = np.where(defined, values, 0.0).sum(axis=0)
    # undefined with fewer than two classes in a resample, as the plain path
    enough = count >= (1 if len(classes) == 2 else 2)
    return np.where(enough, total / np.maximum(count, 1), np.nan)


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
    sample_weight: Any = None,
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
    sample_weight
        One weight per row: each resample is scored with its rows' weights.

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
    yt, y, cls = prepare_inputs(metric, y_true, y_pred, y_proba, classes)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(yt), size=(n_boot, len(yt)))

    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    values = None
    if w is None and not metric.custom:  # the fast paths count every row once
        values = _vectorised(name, yt, y, idx)
        if values is None and name == "roc_auc":
            values = _auc_vectorised(yt, y, cls, idx)
        elif values is None and not metric.needs_proba:
            values = _label_vectorised(name, yt, y, cls, idx)
    if values is None:
        values = np.empty(n_boot)
        for b in range(n_boot):
            rows = idx[b]
            try:
                if w is None:
                    values[b] = metric.func(yt[rows], y[rows], cls)
                else:
                    values[b] = metric.func(yt[rows], y[rows], cls, w[rows])
            except (UndefinedMetricError, ValueError, ZeroDivisionError):
                values[b] = np.nan
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)
