"""Cross-validation folds and the honest evaluation of one candidate pipeline."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold

from modelloop.data import Task
from modelloop.evaluation import get_metric, score
from modelloop.exceptions import ConfigurationError
from modelloop.tuning._validation import Validation

__all__ = ["FoldResult", "cross_validate", "make_folds"]


def make_folds(
    y: pd.Series,
    task: Task,
    n_splits: int,
    *,
    seed: int = 0,
    validation: Validation | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled K folds, stratified by class for classification.

    When the rarest class has fewer rows than ``n_splits`` the number of folds is reduced to
    that count (never below 2) so every fold sees every class. With a group or time
    ``validation`` the folds keep groups whole, or chain forward in time (see
    ``_validation``).

    Examples
    --------
    >>> import pandas as pd
    >>> folds = make_folds(pd.Series([0, 1] * 10), "binary", 5)
    >>> len(folds), len(folds[0][1])
    (5, 4)
    """
    if n_splits < 2:
        raise ConfigurationError(f"cv must be an integer >= 2. Got {n_splits} instead.")
    n = len(y)
    if n < 2:
        raise ConfigurationError(f"Cross-validation needs at least 2 rows. Got {n}.")
    if validation is not None and validation.kind != "random":
        return validation.folds(y, task, n_splits, seed=seed)
    index = np.arange(n)
    if task in ("binary", "multiclass"):
        smallest = int(pd.Series(y).value_counts().min())
        k = max(2, min(n_splits, smallest))
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        return [(tr, va) for tr, va in splitter.split(index, np.asarray(y))]
    k = min(n_splits, n)
    return [(tr, va) for tr, va in KFold(n_splits=k, shuffle=True, random_state=seed).split(index)]


@dataclass(frozen=True)
class FoldResult:
    """What cross-validating one pipeline produced."""

    scores: tuple[float, ...]
    fit_times: tuple[float, ...]
    oof: np.ndarray  # out-of-fold predictions: class probabilities or values, row-aligned

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores))


def _predict_for_metric(
    model, X: pd.DataFrame, task: Task, classes: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted labels/values and, for classifiers, probabilities aligned to ``classes``."""
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float), None
    proba = np.asarray(model.predict_proba(X), dtype=float)
    model_classes = np.asarray(model.classes_)
    if len(model_classes) != len(classes) or not np.array_equal(model_classes, classes):
        full = np.zeros((len(X), len(classes)))
        positions = np.searchsorted(classes, model_classes)
        full[:, positions] = proba
        proba = full
    return classes[np.argmax(proba, axis=1)], proba


def cross_validate(
    pipeline,
    X: pd.DataFrame,
    y: pd.Series,
    folds: list[tuple[np.ndarray, np.ndarray]],
    *,
    task: Task,
    metric: str,
    classes: np.ndarray | None = None,
    on_fold=None,
) -> FoldResult:
    """Fit a clone of ``pipeline`` on each training fold and score it on the held-out fold.

    Preprocessing is part of the pipeline, so it is fitted on the training fold only: no
    information from a validation fold leaks into its own score.

    ``on_fold(i, score)`` is called after each fold (for progress display).
    """
    spec = get_metric(metric)
    y_arr = np.asarray(y)
    if classes is None and task != "regression":
        classes = np.unique(y_arr)
    width = 1 if task == "regression" else len(classes)  # type: ignore[arg-type]
    oof = np.full((len(y_arr), width), np.nan)
    scores: list[float] = []
    fit_times: list[float] = []
    for i, (tr, va) in enumerate(folds):
        model = clone(pipeline)
        started = time.perf_counter()
        with warnings.catch_warnings():
            # Convergence chatter from individual folds is not actionable for the user.
            warnings.simplefilter("ignore", category=UserWarning)
            warnings.filterwarnings("ignore", message=".*converge.*")
            model.fit(X.iloc[tr], y_arr[tr])
        fit_times.append(time.perf_counter() - started)
        pred, proba = _predict_for_metric(model, X.iloc[va], task, classes)  # type: ignore[arg-type]
        if proba is None:
            oof[va, 0] = pred
        else:
            oof[va] = proba
        s = score(
            metric,
            y_arr[va],
            y_pred=pred,
            y_proba=proba if spec.needs_proba else None,
            classes=classes,
        )
        scores.append(float(s))
        if on_fold is not None:
            on_fold(i, float(s))
    return FoldResult(tuple(scores), tuple(fit_times), oof)
