"""Metrics by name: the one place where modelloop computes a score.

Every metric is a :class:`Metric` record in :data:`METRICS`. Callers look metrics up by
name (:func:`get_metric`, :func:`score`) and never call ``sklearn.metrics`` themselves, so
RMSE or AUC means the same thing in tuning, reports, monitoring and the CLI.

Conventions
-----------
- ``classes`` are the model's classes in sorted order (``estimator.classes_``). For binary
  tasks the *positive* class is ``classes[1]``, the second of the sorted classes.
- ``y_proba`` has one column per class, in the order of ``classes``. For binary tasks a 1-D
  array is also accepted and read as the probability of the positive class.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn import metrics as skm

from modelloop.data import TASKS, check_task
from modelloop.exceptions import ConfigurationError, InvalidInputError

__all__ = [
    "METRICS",
    "TASKS",
    "Metric",
    "UndefinedMetricError",
    "default_metric",
    "get_metric",
    "is_better",
    "mean_log_loss",
    "metrics_for_task",
    "register_metric",
    "score",
    "score_all",
    "sign",
]

Weights = np.ndarray | None
_CLASSIFICATION = frozenset({"binary", "multiclass"})
_BINARY = frozenset({"binary"})
_MULTICLASS = frozenset({"multiclass"})
_REGRESSION = frozenset({"regression"})


class UndefinedMetricError(InvalidInputError):
    """A metric has no value on these data (AUC with a single class in ``y_true``, ...)."""


@dataclass(frozen=True)
class Metric:
    """A named metric.

    ``func(y_true, y, classes, sample_weight)`` returns a float, where ``y`` is the
    probability matrix when ``needs_proba`` is true and the predicted labels or values
    otherwise. ``classes`` is the sorted array of classes (``None`` for regression);
    ``sample_weight`` one weight per row, or ``None`` (every row counts once). Call metrics
    through :func:`score`, which validates the inputs; ``func`` assumes they are valid.
    ``custom`` marks a metric defined by the user (see ``make_metric``).
    """

    name: str
    greater_is_better: bool
    needs_proba: bool
    tasks: frozenset[str]
    func: Callable[..., float] = field(repr=False, compare=False)
    description: str = ""
    custom: bool = False


# ---------------------------------------------------------------------------- metric bodies


def _positive(classes: np.ndarray | None) -> Any:
    if classes is None or len(classes) != 2:
        raise InvalidInputError("Binary metrics need the two classes; classes[1] is positive.")
    return classes[1]


def _binary_prf(kind: Callable[..., float]) -> Callable[..., float]:
    def func(
        y_true: np.ndarray, y_pred: np.ndarray, classes: np.ndarray | None, w: Weights = None
    ) -> float:
        return float(
            kind(y_true, y_pred, pos_label=_positive(classes), zero_division=0, sample_weight=w)
        )

    return func


def _averaged(kind: Callable[..., float], average: str) -> Callable[..., float]:
    def func(
        y_true: np.ndarray, y_pred: np.ndarray, classes: np.ndarray | None, w: Weights = None
    ) -> float:
        return float(
            kind(y_true, y_pred, labels=classes, average=average, zero_division=0, sample_weight=w)
        )

    return func


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray, classes: Any, w: Weights = None) -> float:
    return float(skm.accuracy_score(y_true, y_pred, sample_weight=w))


def _balanced_accuracy(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Any, w: Weights = None
) -> float:
    with warnings.catch_warnings():
        # one label in both arrays is a valid (if trivial) case: the recall of that label
        warnings.filterwarnings("ignore", message="A single label was found")
        return float(skm.balanced_accuracy_score(y_true, y_pred, sample_weight=w))


def _roc_auc(
    y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray | None, w: Weights = None
) -> float:
    present = np.unique(y_true)
    if len(present) < 2:
        raise UndefinedMetricError(
            f"Metric 'roc_auc' needs at least two classes in y_true. Got only {present.tolist()}."
        )
    cls = np.asarray(classes)
    if len(cls) == 2:
        return float(skm.roc_auc_score(y_true == cls[1], proba[:, 1], sample_weight=w))
    # One-vs-rest, macro average over the classes that occur in y_true: a class absent
    # from a fold has no AUC of its own (sklearn would return NaN for the whole average).
    aucs = [
        skm.roc_auc_score(y_true == c, proba[:, k], sample_weight=w)
        for k, c in enumerate(cls)
        if c in present
    ]
    return float(np.mean(aucs))


def mean_log_loss(proba: Any, y_idx: Any, eps: float = 1e-15) -> float:
    """The mean negative log-likelihood of class indices ``y_idx`` under ``proba``.

    The log loss for labels already given as column positions, with probabilities clipped
    to ``[eps, 1]`` and no row renormalised: the cheap objective that temperature scaling
    minimises many times over (``score("log_loss", ...)`` maps labels to columns first).

    >>> round(mean_log_loss(np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([1, 0])), 4)
    0.3993
    """
    proba = np.asarray(proba, dtype=float)
    y_idx = np.asarray(y_idx, dtype=int)
    picked = proba[np.arange(len(y_idx)), y_idx]
    return float(-np.mean(np.log(np.clip(picked, eps, 1.0))))


def _log_loss(
    y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray | None, w: Weights = None
) -> float:
    # Rows are renormalised first: float32 outputs (a network, an ensemble's blend) sum to
    # 1 only within rounding, which sklearn warns about on every call.
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 2:
        totals = proba.sum(axis=1, keepdims=True)
        proba = np.divide(proba, totals, out=proba.copy(), where=totals > 0)
    # labels=classes: a fold where some class never occurs in y_true still scores.
    return float(skm.log_loss(y_true, proba, labels=classes, sample_weight=w))


def _rmse(y_true: np.ndarray, y_pred: np.ndarray, classes: Any, w: Weights = None) -> float:
    return float(skm.root_mean_squared_error(y_true, y_pred, sample_weight=w))


def _mae(y_true: np.ndarray, y_pred: np.ndarray, classes: Any, w: Weights = None) -> float:
    return float(skm.mean_absolute_error(y_true, y_pred, sample_weight=w))


def _r2(y_true: np.ndarray, y_pred: np.ndarray, classes: Any, w: Weights = None) -> float:
    if len(y_true) < 2:
        raise UndefinedMetricError("Metric 'r2' needs at least two rows.")
    return float(skm.r2_score(y_true, y_pred, sample_weight=w))


def _mape(y_true: np.ndarray, y_pred: np.ndarray, classes: Any, w: Weights = None) -> float:
    return float(skm.mean_absolute_percentage_error(y_true, y_pred, sample_weight=w))


def _rmsle(y_true: np.ndarray, y_pred: np.ndarray, classes: Any, w: Weights = None) -> float:
    if (y_true <= -1).any() or (y_pred <= -1).any():
        raise UndefinedMetricError(
            "Metric 'rmsle' needs y_true and y_pred greater than -1. Got negative values; "
            "use 'rmse' instead."
        )
    return float(skm.root_mean_squared_log_error(y_true, y_pred, sample_weight=w))


def _build() -> dict[str, Metric]:
    specs = [
        Metric("accuracy", True, False, _CLASSIFICATION, _accuracy, "share of correct labels"),
        Metric(
            "balanced_accuracy", True, False, _CLASSIFICATION, _balanced_accuracy,
            "mean recall over classes",
        ),
        Metric("precision", True, False, _BINARY, _binary_prf(skm.precision_score),
               "precision of the positive class (classes[1])"),
        Metric("recall", True, False, _BINARY, _binary_prf(skm.recall_score),
               "recall of the positive class (classes[1])"),
        Metric("f1", True, False, _BINARY, _binary_prf(skm.f1_score),
               "F1 of the positive class (classes[1])"),
        Metric("precision_macro", True, False, _CLASSIFICATION,
               _averaged(skm.precision_score, "macro"), "unweighted mean precision over classes"),
        Metric("recall_macro", True, False, _CLASSIFICATION,
               _averaged(skm.recall_score, "macro"), "unweighted mean recall over classes"),
        Metric("f1_macro", True, False, _CLASSIFICATION,
               _averaged(skm.f1_score, "macro"), "unweighted mean F1 over classes"),
        Metric("f1_weighted", True, False, _CLASSIFICATION,
               _averaged(skm.f1_score, "weighted"), "mean F1 over classes weighted by support"),
        Metric("roc_auc", True, True, _CLASSIFICATION, _roc_auc,
               "area under the ROC curve (multiclass: one-vs-rest, macro average)"),
        Metric("log_loss", False, True, _CLASSIFICATION, _log_loss,
               "cross-entropy of the predicted probabilities"),
        Metric("rmse", False, False, _REGRESSION, _rmse, "root mean squared error"),
        Metric("mae", False, False, _REGRESSION, _mae, "mean absolute error"),
        Metric("r2", True, False, _REGRESSION, _r2, "coefficient of determination"),
        Metric("mape", False, False, _REGRESSION, _mape,
               "mean absolute percentage error (a fraction, not %)"),
        Metric("rmsle", False, False, _REGRESSION, _rmsle,
               "root mean squared logarithmic error (targets > -1)"),
    ]  # fmt: skip
    return {m.name: m for m in specs}


METRICS: dict[str, Metric] = _build()
# Metrics defined by the user in this process (``register_metric``), looked up like the
# built-in ones. Never filled from a file: ``evaluation._custom`` imports user code only
# when the caller says it is trusted.
_CUSTOM: dict[str, Metric] = {}

_DEFAULTS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


# ---------------------------------------------------------------------------- lookup


def metrics_for_task(task: str) -> list[str]:
    """Names of the metrics defined for a task, in registry order.

    Examples
    --------
    >>> metrics_for_task("regression")
    ['rmse', 'mae', 'r2', 'mape', 'rmsle']
    """
    check_task(task)
    return [name for name, m in METRICS.items() if task in m.tasks]


def get_metric(name: str) -> Metric:
    """The metric called ``name``.

    Raises
    ------
    ConfigurationError
        For an unknown name, suggesting the closest ones and listing the metrics by task.

    Examples
    --------
    >>> get_metric("rmse").greater_is_better
    False
    """
    try:
        return METRICS[name]
    except (KeyError, TypeError):
        pass
    if isinstance(name, str) and name in _CUSTOM:
        return _CUSTOM[name]
    if isinstance(name, str) and ":" in name:
        raise ConfigurationError(
            f"Metric {name!r} is a custom metric (module:function) that this process has not "
            "loaded: pass --trust to import it (Python: metric=the function itself)."
        )
    close = difflib.get_close_matches(str(name), list(METRICS), n=3, cutoff=0.5)
    if not close:  # prefixes such as 'acc' or 'f1_mac' are the usual typos
        close = [m for m in METRICS if m.startswith(str(name))][:3]
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listing = "; ".join(f"{t}: {', '.join(metrics_for_task(t))}" for t in TASKS)
    raise ConfigurationError(f"Unknown metric {name!r}.{hint} Metrics for {listing}.")


def register_metric(metric: Metric) -> Metric:
    """Make the custom ``metric`` known by its name to :func:`get_metric` and :func:`score`
    in this process (a metric of the same name registered before is replaced).

    Raises
    ------
    ConfigurationError
        When the name is that of a built-in metric.
    """
    if metric.name in METRICS:
        raise ConfigurationError(
            f"A custom metric cannot be called {metric.name!r}: that is a built-in metric. "
            "Give it another name."
        )
    _CUSTOM[metric.name] = metric
    return metric


def default_metric(task: str) -> str:
    """The metric model selection optimises when the user names none.

    Examples
    --------
    >>> default_metric("binary")
    'roc_auc'
    """
    check_task(task)
    return _DEFAULTS[task]


def sign(name: str) -> int:
    """``+1`` when larger values of the metric are better, ``-1`` otherwise.

    ``sign(name) * value`` is a score where larger is always better.

    Examples
    --------
    >>> sign("rmse")
    -1
    """
    return 1 if get_metric(name).greater_is_better else -1


def is_better(name: str, a: float, b: float) -> bool:
    """Whether value ``a`` of metric ``name`` is strictly better than ``b``.

    A number is better than NaN; NaN is never better than anything.

    Examples
    --------
    >>> is_better("rmse", 1.0, 2.0)
    True
    """
    s = sign(name)
    if np.isnan(a):
        return False
    if np.isnan(b):
        return True
    return bool(s * a > s * b)


# ---------------------------------------------------------------------------- scoring


def _as_1d(y: Any, what: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InvalidInputError(f"{what} must be one-dimensional. Got shape {arr.shape}.")
    return arr


def prepare_inputs(
    metric: Metric,
    y_true: Any,
    y_pred: Any,
    y_proba: Any,
    classes: Sequence[Any] | np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate and normalise inputs; return (y_true, y, classes) for ``metric.func``."""
    yt = _as_1d(y_true, "y_true")
    if len(yt) == 0:
        raise InvalidInputError(f"Metric {metric.name!r} needs at least one row. Got none.")
    # a custom metric may apply to every task: only a regression-only one casts to numbers
    is_regression = metric.tasks == _REGRESSION if metric.custom else "regression" in metric.tasks
    if metric.needs_proba:
        if y_proba is None:
            raise InvalidInputError(
                f"Metric {metric.name!r} needs predicted probabilities. Pass y_proba=."
            )
        y = np.asarray(y_proba, dtype=float)
    else:
        if y_pred is None:
            raise InvalidInputError(f"Metric {metric.name!r} needs predictions. Pass y_pred=.")
        y = _as_1d(y_pred, "y_pred")
    if len(y) != len(yt):
        raise InvalidInputError(
            f"Metric {metric.name!r} needs as many predictions as true values. "
            f"Got {len(y)} predictions for {len(yt)} rows."
        )
    if is_regression:
        try:
            return yt.astype(float), y.astype(float), None
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"Metric {metric.name!r} needs numeric y_true and y_pred. {exc}"
            ) from None

    if classes is None:
        if metric.needs_proba:
            raise InvalidInputError(
                f"Metric {metric.name!r} needs the classes in the column order of y_proba. "
                "Pass classes=model.classes_."
            )
        cls = np.unique(np.concatenate([yt, y]))
    else:
        cls = np.asarray(classes)
    if metric.needs_proba:
        if y.ndim == 1 and len(cls) == 2:
            y = np.column_stack([1.0 - y, y])
        if y.ndim != 2 or y.shape[1] != len(cls):
            raise InvalidInputError(
                f"Metric {metric.name!r} needs y_proba with one column per class "
                f"({len(cls)}). Got shape {y.shape}."
            )
        unknown = np.setdiff1d(yt, cls)
        if len(unknown):
            raise InvalidInputError(
                f"y_true holds labels that are not among the classes {cls.tolist()}: "
                f"{unknown[:5].tolist()}."
            )
    binary_only = "binary" in metric.tasks and "multiclass" not in metric.tasks
    if binary_only and len(cls) < 2:
        raise UndefinedMetricError(
            f"Metric {metric.name!r} needs to know the positive class, but only "
            f"{cls.tolist()} occur. Pass classes=model.classes_."
        )
    if binary_only and len(cls) != 2:
        raise InvalidInputError(
            f"Metric {metric.name!r} is for binary targets. Got {len(cls)} classes; "
            f"use {metric.name + '_macro'!r} instead."
        )
    return yt, y, cls


def score(
    name: str,
    y_true: Any,
    *,
    y_pred: Any = None,
    y_proba: Any = None,
    classes: Sequence[Any] | np.ndarray | None = None,
    sample_weight: Any = None,
) -> float:
    """Compute metric ``name``.

    Parameters
    ----------
    name
        A metric name from :data:`METRICS`.
    y_true
        True labels or values.
    y_pred
        Predicted labels or values (metrics with ``needs_proba=False``).
    y_proba
        Predicted probabilities, one column per class in the order of ``classes``
        (metrics with ``needs_proba=True``).
    classes
        The model's sorted classes. Required with ``y_proba``; for binary metrics
        ``classes[1]`` is the positive class.
    sample_weight
        One non-negative weight per row (``None``: every row counts once).

    Raises
    ------
    ConfigurationError
        Unknown metric name.
    InvalidInputError
        A needed input is missing or malformed. :class:`UndefinedMetricError` (a subclass)
        when the metric has no value on these data, e.g. AUC with one class in ``y_true``.

    Examples
    --------
    >>> score("accuracy", [0, 1, 1], y_pred=[0, 1, 0])
    0.6666666666666666
    >>> score("roc_auc", [0, 1, 1], y_proba=[0.2, 0.9, 0.4], classes=[0, 1])
    1.0
    >>> score("accuracy", [0, 1, 1], y_pred=[0, 1, 0], sample_weight=[1.0, 1.0, 2.0])
    0.5
    """
    metric = get_metric(name)
    yt, y, cls = prepare_inputs(metric, y_true, y_pred, y_proba, classes)
    w = _weights(sample_weight, len(yt), metric.name)
    try:
        return metric.func(yt, y, cls) if w is None else metric.func(yt, y, cls, w)
    except (InvalidInputError, ConfigurationError):  # already a clear message
        raise
    except ValueError as exc:
        raise InvalidInputError(f"Metric {name!r} could not be computed: {exc}") from None


def _weights(sample_weight: Any, n: int, name: str) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=float).reshape(-1)
    if len(w) != n:
        raise InvalidInputError(
            f"Metric {name!r} needs one sample weight per row. Got {len(w)} weights for {n} rows."
        )
    if not np.isfinite(w).all() or (w < 0).any():
        raise InvalidInputError(f"Metric {name!r} needs finite sample weights >= 0.")
    return w


def score_all(
    task: str,
    y_true: Any,
    *,
    y_pred: Any,
    y_proba: Any = None,
    classes: Sequence[Any] | np.ndarray | None = None,
    sample_weight: Any = None,
    extra: Sequence[str] = (),
) -> dict[str, float]:
    """Every metric of ``task`` that the given inputs allow.

    Probability metrics are included only when ``y_proba`` (and ``classes``) are given.
    ``extra`` names further (custom) metrics to compute after the built-in ones.
    A metric that has no value on these data (AUC when ``y_true`` has a single class) is
    NaN, so the keys depend only on the task and on which inputs were passed.

    Examples
    --------
    >>> score_all("regression", [1.0, 2.0, 3.0], y_pred=[1.0, 2.0, 4.0])["mae"]
    0.3333333333333333
    """
    names = metrics_for_task(task) + [n for n in extra if n not in METRICS]
    out: dict[str, float] = {}
    for name in names:
        metric = get_metric(name)
        if metric.needs_proba and (y_proba is None or classes is None):
            continue
        try:
            out[name] = score(
                name,
                y_true,
                y_pred=y_pred,
                y_proba=y_proba,
                classes=classes,
                sample_weight=sample_weight,
            )
        except UndefinedMetricError:
            out[name] = float("nan")
    return out
