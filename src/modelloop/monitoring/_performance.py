"""Model performance per window: estimated without labels, measured where labels arrived.

The estimate (confidence-based performance estimation, "CBPE") trusts the model's
probabilities: if they are calibrated, a row predicted with probability 0.8 is right 80 %
of the time, so the expected accuracy of a window is the mean of its top-class
probabilities and the expected ROC AUC follows from the expected share of correctly ordered
(positive, negative) pairs. It moves when the inputs move into regions where the model is
less sure, before any label arrives. Measured metrics come from ``modelloop.evaluation``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from modelloop.evaluation import (
    UndefinedMetricError,
    get_metric,
    score,
    sign,
    threshold_labels,
)
from modelloop.exceptions import ModelloopError

__all__ = [
    "PerformanceReport",
    "WindowPerformance",
    "expected_accuracy",
    "expected_roc_auc",
    "monitored_metric",
    "window_performance",
]

MIN_LABELS = 30  # fewer labeled rows in a window: no measured metric for it


def monitored_metric(task: str) -> str:
    """The metric monitoring follows: ROC AUC for classifiers, RMSE for regression.

    >>> monitored_metric("binary")
    'roc_auc'
    """
    return "rmse" if task == "regression" else "roc_auc"


def expected_accuracy(proba: Any) -> float:
    """Expected accuracy of arg-max predictions when ``proba`` is calibrated.

    >>> expected_accuracy([[0.9, 0.1], [0.4, 0.6]])
    0.75
    """
    p = np.asarray(proba, dtype=float)
    return float(np.mean(np.max(p, axis=1))) if len(p) else float("nan")


def _expected_binary_auc(p: np.ndarray) -> float:
    q = 1.0 - p
    values, inverse = np.unique(p, return_inverse=True)
    q_by_value = np.bincount(inverse, weights=q, minlength=len(values))
    below = np.concatenate([[0.0], np.cumsum(q_by_value)[:-1]])
    # i is ranked above every negative with a smaller score; ties count half
    concordant = np.sum(p * (below[inverse] + 0.5 * (q_by_value[inverse] - q)))
    pairs = p.sum() * q.sum() - np.sum(p * q)
    return float(concordant / pairs) if pairs > 0 else float("nan")


def expected_roc_auc(proba: Any) -> float:
    """Expected ROC AUC (one-vs-rest, macro for multiclass) when ``proba`` is calibrated.

    >>> round(expected_roc_auc([[0.9, 0.1], [0.1, 0.9]]), 3)
    0.988
    """
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2 or len(p) < 2:
        return float("nan")
    if p.shape[1] == 2:
        return _expected_binary_auc(p[:, 1])
    aucs = [_expected_binary_auc(p[:, k]) for k in range(p.shape[1])]
    aucs = [a for a in aucs if np.isfinite(a)]
    return float(np.mean(aucs)) if aucs else float("nan")


@dataclass(frozen=True)
class WindowPerformance:
    """One window: its size, the estimated metrics and (with labels) the measured ones."""

    label: str
    n: int
    n_labeled: int = 0
    expected: dict[str, float] = field(default_factory=dict)
    actual: dict[str, float] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("start", "end"):
            d[key] = d[key].isoformat() if d[key] is not None else None
        return d


def _labels_like(y: Iterable[Any], classes: Sequence[Any]) -> np.ndarray:
    """Labels mapped onto the model's classes by their text (JSON turns 1 into '1')."""
    by_text = {str(c): c for c in classes}
    return np.asarray([by_text.get(str(v), v) for v in y], dtype=object)


def window_performance(
    label: str,
    task: str,
    *,
    classes: Sequence[Any] | None = None,
    proba: Any = None,
    prediction: Any = None,
    y_true: Any = None,
    start: datetime | None = None,
    end: datetime | None = None,
    min_labels: int = MIN_LABELS,
    threshold: float | None = None,
    sample_weight: Any = None,
    extra: Sequence[str] = (),
) -> WindowPerformance:
    """Estimated and (where ``y_true`` has at least ``min_labels`` values) measured metrics.

    ``y_true`` may hold ``None`` for rows whose label has not arrived; ``proba`` has one
    column per class in the order of ``classes``. ``threshold`` (binary): the model's
    decision threshold on ``proba[:, 1]`` (see ``models.decision_threshold``); the most
    probable class when ``None``. ``sample_weight`` (one weight per row, ``None`` for a
    row without one, which counts 1) weights the measured metrics; ``extra`` names more
    metrics to measure (the model's selection metric), each left out when it cannot be
    computed here (a custom metric this process did not import).

    Examples
    --------
    >>> w = window_performance("now", "binary", classes=[0, 1], proba=[[0.8, 0.2]] * 40)
    >>> round(w.expected["accuracy"], 2), w.actual
    (0.8, {})
    """
    n = len(proba) if proba is not None else len(prediction) if prediction is not None else 0
    expected: dict[str, float] = {}
    if task != "regression" and proba is not None and n:
        expected = {"accuracy": expected_accuracy(proba), "roc_auc": expected_roc_auc(proba)}
    actual: dict[str, float] = {}
    n_labeled = 0
    if y_true is not None and n:
        y = np.asarray(y_true, dtype=object)
        has = np.asarray([v is not None and v == v for v in y], dtype=bool)
        n_labeled = int(has.sum())
        if n_labeled >= min_labels:
            w = _row_weights(sample_weight, n)
            actual = _measured(
                task, classes, y[has], proba, prediction, has, threshold,
                None if w is None else w[has], extra,
            )  # fmt: skip
    return WindowPerformance(label, n, n_labeled, expected, actual, start, end)


def _measured(
    task: str,
    classes: Any,
    y: np.ndarray,
    proba: Any,
    prediction: Any,
    has: np.ndarray,
    threshold: float | None = None,
    w: np.ndarray | None = None,
    extra: Sequence[str] = (),
) -> dict[str, float]:
    out: dict[str, float] = {}
    if w is not None and not w.sum() > 0:
        w = None  # no labelled row weighs anything: measure them unweighted
    if task == "regression":
        pred = np.asarray(prediction, dtype=float)[has]
        truth = np.asarray([float(v) for v in y])
        for name in ("rmse", "mae"):
            out[name] = score(name, truth, y_pred=pred, sample_weight=w)
        _extra(out, extra, truth, {"y_pred": pred}, w)
        return out
    cls = list(classes or [])
    truth = _labels_like(y, cls)
    p = np.asarray(proba, dtype=float)[has]
    pred = threshold_labels(p, np.asarray(cls, dtype=object), threshold)
    known = np.isin(truth.astype(str), np.asarray([str(c) for c in cls]))
    truth, p, pred = truth[known], p[known], pred[known]
    if w is not None:
        w = w[known]
        w = w if w.sum() > 0 else None
    if len(truth) == 0:
        return out
    out["accuracy"] = float(np.average(truth.astype(str) == pred.astype(str), weights=w))
    typed = np.asarray(truth.tolist())
    try:
        out["roc_auc"] = score(
            "roc_auc", typed, y_proba=p, classes=np.asarray(cls), sample_weight=w
        )
    except UndefinedMetricError:
        out["roc_auc"] = float("nan")
    labels = np.asarray(pred.tolist())
    _extra(out, extra, typed, {"y_pred": labels, "y_proba": p, "classes": np.asarray(cls)}, w)
    return out


def _row_weights(sample_weight: Any, n: int) -> np.ndarray | None:
    """One weight per row (a missing or unreadable one counts 1), or ``None``."""
    if sample_weight is None:
        return None
    values = np.asarray(
        [v if isinstance(v, int | float) and not isinstance(v, bool) else np.nan
         for v in list(sample_weight)],
        dtype=float,
    )  # fmt: skip
    if len(values) != n:
        return None
    values[~np.isfinite(values) | (values < 0)] = 1.0
    return values


def _extra(
    out: dict[str, float],
    names: Sequence[str],
    truth: np.ndarray,
    given: dict[str, Any],
    w: np.ndarray | None,
) -> None:
    """``out`` with each metric of ``names`` not in it yet, where it can be computed."""
    for name in names:
        if name in out:
            continue
        try:
            spec = get_metric(name)
            inputs = {k: v for k, v in given.items() if k != "y_proba" or spec.needs_proba}
            out[name] = score(name, truth, sample_weight=w, **inputs)
        except UndefinedMetricError:
            out[name] = float("nan")
        except ModelloopError:  # not imported (no --trust), or not for these outputs
            continue


@dataclass(frozen=True)
class PerformanceReport:
    """The followed metric: at training time, on the reference rows, now, and per window.

    ``current_value`` is the measured metric of the current window when enough labels
    arrived, else the estimate (``source`` says which; ``None`` for regression without
    labels). ``drop`` is the relative loss against the training-time metric (positive =
    worse).
    """

    task: str
    metric: str
    training: float | None
    current: WindowPerformance
    reference: WindowPerformance | None = None
    windows: tuple[WindowPerformance, ...] = ()

    @property
    def source(self) -> str | None:
        if self.metric in self.current.actual:
            return "labels"
        if self.metric in self.current.expected:
            return "estimated"
        return None

    @property
    def current_value(self) -> float | None:
        value = self.current.actual.get(self.metric, self.current.expected.get(self.metric))
        return None if value is None or not np.isfinite(value) else float(value)

    @property
    def drop(self) -> float | None:
        now, then = self.current_value, self.training
        if now is None or then is None or not np.isfinite(then) or then == 0:
            return None
        return float(sign(self.metric) * (then - now) / abs(then))

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metric": self.metric,
            "training": self.training,
            "current_value": self.current_value,
            "source": self.source,
            "drop": self.drop,
            "current": self.current.to_dict(),
            "reference": self.reference.to_dict() if self.reference else None,
            "windows": [w.to_dict() for w in self.windows],
        }
