"""What a trial's out-of-fold predictions can still gain: a temperature, a decision threshold.

Both are cross-fitted (each fold's value comes from the other folds), so the scores they
give stay honest, and both are kept only when they improve the cross-validated score.
"""

from __future__ import annotations

import numpy as np

from modelloop.data import Task
from modelloop.evaluation import score
from modelloop.models import cross_fit_temperature, cross_fit_threshold
from modelloop.tuning._context import Problem

__all__ = ["calibrate", "fold_scores", "oof_score", "tune_threshold"]

_CALIBRATION_GAIN = 1e-4  # CV log loss a temperature must save to be kept
_THRESHOLD_GAIN = 1e-4  # CV score a tuned decision threshold must add to be kept


def oof_score(
    metric: str,
    y: np.ndarray,
    oof: np.ndarray,
    task: Task,
    classes: np.ndarray | None,
    sample_weight: np.ndarray | None = None,
) -> float:
    """The metric of out-of-fold predictions (probabilities, or values for regression),
    weighted by ``sample_weight`` when given."""
    if task == "regression":
        return float(score(metric, y, y_pred=oof[:, 0], sample_weight=sample_weight))
    proba = oof / oof.sum(axis=1, keepdims=True)
    pred = np.asarray(classes)[np.argmax(proba, axis=1)]
    return float(
        score(metric, y, y_pred=pred, y_proba=proba, classes=classes, sample_weight=sample_weight)
    )


def fold_scores(problem: Problem, oof: np.ndarray, metric: str | None = None) -> tuple[float, ...]:
    """The metric of out-of-fold predictions ``oof`` on each fold's held-out rows."""
    metric = metric or problem.metric
    w = problem.w
    return tuple(
        oof_score(
            metric,
            problem.y[va],
            oof[va],
            problem.task,
            problem.classes,
            None if w is None else w[va],
        )
        for _, va in problem.folds
    )


def _covered(problem: Problem) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """The rows some fold validates, and the folds in positions among those rows.

    Time-ordered folds leave the earliest rows without an out-of-fold prediction; what is
    fitted on out-of-fold predictions (a temperature, a threshold) uses the others. (Each
    fold's value is fitted on the other folds' rows, later ones included: one number per
    fold, not a model.)
    """
    rows = problem.covered
    if len(rows) == len(problem.y):
        return rows, problem.folds
    position = np.full(len(problem.y), -1)
    position[rows] = np.arange(len(rows))
    return rows, [(position[tr][position[tr] >= 0], position[va]) for tr, va in problem.folds]


def calibrate(
    problem: Problem, oof: np.ndarray
) -> tuple[tuple[float, ...], np.ndarray, float] | None:
    """Temperature-scaled out-of-fold probabilities, when they lower the CV log loss.

    Returns ``(fold scores, calibrated oof, temperature)``, or None when scaling does not
    help (or the probabilities are incomplete). Each fold's temperature comes from the other
    folds (see ``models.cross_fit_temperature``).
    """
    rows, folds = _covered(problem)
    if not np.isfinite(oof[rows]).all():
        return None
    assert problem.classes is not None  # asked of classifiers only
    y_idx = np.searchsorted(problem.classes, problem.y[rows])
    proba = oof / oof.sum(axis=1, keepdims=True)
    calibrated = proba.copy()
    calibrated[rows], temperature = cross_fit_temperature(proba[rows], y_idx, folds)
    raw = fold_scores(problem, proba, "log_loss")
    scaled = fold_scores(problem, calibrated, "log_loss")
    if not np.mean(scaled) < np.mean(raw) - _CALIBRATION_GAIN:
        return None
    return fold_scores(problem, calibrated), calibrated, round(temperature, 4)


def tune_threshold(
    problem: Problem, oof: np.ndarray, cv_scores: tuple[float, ...]
) -> tuple[tuple[float, ...], float] | None:
    """Fold scores with a tuned decision threshold, and the threshold, when they are better.

    ``oof`` holds the (calibrated) out-of-fold probabilities of a binary classifier,
    ``cv_scores`` their scores with the most probable class. Each fold's threshold comes
    from the other folds (see ``models.cross_fit_threshold``). None when it does not help.
    """
    rows, folds = _covered(problem)
    if not np.isfinite(oof[rows]).all() or len(cv_scores) != problem.k:
        return None
    classes = problem.classes
    assert classes is not None  # asked of binary classifiers only
    p1 = oof[rows, 1] / oof[rows].sum(axis=1)
    y_idx = np.searchsorted(classes, problem.y[rows])
    pred = np.zeros(len(problem.y), dtype=int)
    pred[rows], threshold = cross_fit_threshold(y_idx, p1, folds, problem.metric)
    scores = tuple(
        float(score(problem.metric, problem.y[va], y_pred=classes[pred[va]], classes=classes))
        for _, va in problem.folds
    )
    if not np.mean(scores) > np.mean(cv_scores) + _THRESHOLD_GAIN:
        return None
    return scores, round(threshold, 6)
