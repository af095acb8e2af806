"""A tuned decision threshold for binary classifiers, fitted on out-of-fold predictions.

Predicting the most probable class is right for accuracy, but metrics that weigh the rare
class up (F1 of the positive class, balanced accuracy, macro recall and F1) are often
better served by predicting ``classes_[1]`` from a lower probability on. One threshold is
fitted on the out-of-fold probabilities the search already has (no extra model fit), and
kept only when it raises the cross-validated score, measured honestly: each fold's
threshold is fitted on the other folds' rows (cross-fitting).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import FixedThresholdClassifier

from modelloop.evaluation import threshold_labels
from modelloop.exceptions import ConfigurationError

__all__ = [
    "THRESHOLD_METRICS",
    "DecisionThreshold",
    "cross_fit_threshold",
    "decision_threshold",
    "fit_threshold",
    "predicted_labels",
    "thresholded",
    "with_threshold",
]

_MAX_CANDIDATES = 200

# Metrics a threshold other than 0.5 can improve, from the confusion counts of one
# threshold. Computed here rather than through ``evaluation.score`` because one sort scores
# every candidate threshold at once (hundreds of sklearn calls per trial would cost
# seconds); tests check them against ``evaluation.score``.


def _safe(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
    return _safe(2.0 * tp, 2.0 * tp + fp + fn)


def _balanced(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
    return (_safe(tp, tp + fn) + _safe(tn, tn + fp)) / 2.0


def _f1_macro(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
    return (_f1(tp, fp, fn, tn) + _f1(tn, fn, fp, tp)) / 2.0


_COUNT_METRICS = {
    "f1": _f1,
    "balanced_accuracy": _balanced,
    "recall_macro": _balanced,  # the mean recall of two classes is the balanced accuracy
    "f1_macro": _f1_macro,
}
THRESHOLD_METRICS = frozenset(_COUNT_METRICS)


def _candidates(p1: np.ndarray) -> np.ndarray:
    qs = np.quantile(p1, np.linspace(0.0, 1.0, _MAX_CANDIDATES + 1)) if len(p1) else []
    return np.unique(np.concatenate([qs, [0.5]]))


def _scores(y_idx: np.ndarray, p1: np.ndarray, thresholds: np.ndarray, metric: str) -> np.ndarray:
    pos = np.sort(p1[y_idx == 1])
    neg = np.sort(p1[y_idx != 1])
    tp = (len(pos) - np.searchsorted(pos, thresholds, side="left")).astype(float)
    fp = (len(neg) - np.searchsorted(neg, thresholds, side="left")).astype(float)
    return _COUNT_METRICS[metric](tp, fp, len(pos) - tp, len(neg) - fp)


def fit_threshold(y_idx: Any, p1: Any, metric: str) -> float:
    """The probability of class 1 from which on predicting class 1 scores best on ``metric``.

    Candidates are at most ~200 quantiles of ``p1`` and 0.5; ties go to the candidate
    nearest 0.5 (the most-probable-class rule).

    Parameters
    ----------
    y_idx : class indices, 0 or 1 (1 is ``classes_[1]``, the positive class).
    p1 : predicted probabilities of class 1.
    metric : one of :data:`THRESHOLD_METRICS`.

    Examples
    --------
    >>> y = np.array([0, 0, 0, 0, 1, 1])
    >>> p1 = np.array([0.05, 0.1, 0.2, 0.35, 0.3, 0.45])  # the positives are never > 0.5
    >>> fit_threshold(y, p1, "f1")
    0.3
    """
    if metric not in _COUNT_METRICS:
        raise ConfigurationError(
            f"A decision threshold can be tuned for {', '.join(sorted(_COUNT_METRICS))}. "
            f"Got metric {metric!r}."
        )
    y_idx = np.asarray(y_idx, dtype=int)
    p1 = np.asarray(p1, dtype=float)
    thresholds = _candidates(p1)
    scores = _scores(y_idx, p1, thresholds, metric)
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return float(thresholds[best[np.argmin(np.abs(thresholds[best] - 0.5))]])


def cross_fit_threshold(
    y_idx: Any, p1: Any, folds: Sequence[tuple[np.ndarray, np.ndarray]], metric: str
) -> tuple[np.ndarray, float]:
    """Out-of-fold predicted class indices, and the threshold fitted on every row.

    Fold ``k``'s rows are labelled with a threshold fitted on the other folds' rows only,
    so the labels can be scored as honestly as the most-probable-class ones. The returned
    threshold (fitted on every row) is the one a refitted model uses.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random(600) < 0.2).astype(int)
    >>> p1 = np.clip(0.25 * y + rng.normal(0.2, 0.1, 600), 0, 1)
    >>> folds = [(np.setdiff1d(np.arange(600), va), va) for va in np.array_split(np.arange(600), 3)]
    >>> pred, t = cross_fit_threshold(y, p1, folds, "f1")
    >>> pred.shape, bool(0.2 < t < 0.5)
    ((600,), True)
    """
    y_idx = np.asarray(y_idx, dtype=int)
    p1 = np.asarray(p1, dtype=float)
    out = np.zeros(len(p1), dtype=int)
    for _, va in folds:
        rest = np.ones(len(p1), dtype=bool)
        rest[va] = False
        out[va] = p1[va] >= fit_threshold(y_idx[rest], p1[rest], metric)
    return out, fit_threshold(y_idx, p1, metric)


def with_threshold(estimator: Any, threshold: float) -> FixedThresholdClassifier:
    """``estimator`` predicting ``classes_[1]`` where its probability reaches ``threshold``.

    scikit-learn's ``FixedThresholdClassifier`` on ``predict_proba``: its
    ``predict_proba`` is the wrapped classifier's own. A fitted ``estimator`` is used as
    it is (no fit needed); an unfitted one is fitted, as a clone, by ``fit``. The search
    sets ``threshold`` from out-of-fold predictions for metrics such as F1.

    Raises
    ------
    ConfigurationError
        ``threshold`` is not a probability.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array(["a", "a", "b", "b"])
    >>> low = with_threshold(LogisticRegression(), 0.01).fit(X, y)
    >>> low.predict(X).tolist()
    ['b', 'b', 'b', 'b']
    >>> with_threshold(LogisticRegression().fit(X, y), 0.01).predict(X).tolist()  # fitted
    ['b', 'b', 'b', 'b']
    """
    if not 0.0 <= threshold <= 1.0:
        raise ConfigurationError(
            f"A decision threshold must be a probability in [0, 1]. Got {threshold!r}."
        )
    return FixedThresholdClassifier(
        estimator, threshold=float(threshold), response_method="predict_proba"
    )


def thresholded(model: FixedThresholdClassifier) -> Any:
    """The fitted classifier whose probabilities ``model`` thresholds.

    >>> from sklearn.linear_model import LogisticRegression
    >>> inner = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    >>> thresholded(with_threshold(inner, 0.3)) is inner
    True
    """
    return getattr(model, "estimator_", model.estimator)


class DecisionThreshold(FixedThresholdClassifier):
    """What model files saved before modelloop used ``FixedThresholdClassifier`` hold.

    Only loaded, never built: it is scikit-learn's ``FixedThresholdClassifier`` on
    ``predict_proba`` (see :func:`with_threshold`), restored from the state such a file
    holds (``estimator``, ``threshold``, ``estimator_``), so those files keep loading and
    predicting as they did.
    """

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = {k: v for k, v in state.items() if k != "classes_"}  # now a property
        state.setdefault("response_method", "predict_proba")
        state.setdefault("pos_label", None)
        super().__setstate__(state)


def decision_threshold(model: Any) -> float | None:
    """The threshold on ``model.predict_proba(X)[:, 1]`` that ``model.predict`` applies.

    Found through a Pipeline's last step, a ``FixedThresholdClassifier`` on
    ``predict_proba`` (around anything, see :func:`with_threshold`), a
    :class:`~modelloop.models.TemperatureScaled` around one (the threshold is mapped
    onto the scaled probabilities) and a :class:`~modelloop.models.FoldBag`. ``None`` means the most probable class: any other
    model, including a soft-voting ensemble (its members' thresholds do not reach its
    ``predict``).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> decision_threshold(make_pipeline(with_threshold(LogisticRegression(), 0.3)))
    0.3
    >>> decision_threshold(LogisticRegression()) is None
    True
    """
    from sklearn.pipeline import Pipeline

    from modelloop.models._bagging import FoldBag
    from modelloop.models._calibration import TemperatureScaled, apply_temperature

    if isinstance(model, FoldBag):
        return None if model.threshold is None else float(model.threshold)
    if isinstance(model, Pipeline):
        return decision_threshold(model.steps[-1][1])
    if isinstance(model, FixedThresholdClassifier):
        if model.threshold == "auto":  # sklearn's default: the most probable class
            return None
        return float(model.threshold)
    if isinstance(model, TemperatureScaled):
        inner = decision_threshold(model.estimator_ if hasattr(model, "estimator_") else None)
        if inner is None or inner in (0.0, 1.0):
            return inner
        # Binary temperature scaling is monotone in p1: a raw threshold is a scaled one.
        scaled = apply_temperature(np.array([[1.0 - inner, inner]]), float(model.temperature))
        return float(scaled[0, 1])
    return None


def predicted_labels(model: Any, proba: Any, classes: Any = None) -> np.ndarray:
    """The labels ``model`` predicts, from its probabilities ``proba`` (no second predict).

    The most probable class, or for a model with a decision threshold (see
    :func:`decision_threshold`) ``classes[1]`` where ``proba[:, 1]`` reaches it.
    ``classes`` defaults to ``model.classes_``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    >>> model = with_threshold(LogisticRegression(), 0.2).fit(X, y)
    >>> proba = model.predict_proba(X)
    >>> predicted_labels(model, proba).tolist() == model.predict(X).tolist()
    True
    """
    classes = model.classes_ if classes is None else classes
    return threshold_labels(proba, classes, decision_threshold(model))
