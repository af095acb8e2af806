"""Fold models kept as the final model (bagging) instead of one refit on all rows.

Cross-validation fits one model per fold on the other folds' rows. modelloop's search may
keep those fitted models and average them rather than refit one model on every row: each
member then is exactly a model whose out-of-fold score the search measured, and their
average is less variable than any one of them. ``tuning`` decides when that scores better.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from modelloop.evaluation import threshold_labels
from modelloop.models._calibration import apply_temperature

__all__ = ["FoldBag"]


class FoldBag(BaseEstimator):
    """The weighted average of already fitted models (one per fold, per ensemble member).

    ``fit`` fits nothing: the members are fitted already (like a frozen estimator).

    Parameters
    ----------
    estimators : sequence of fitted models
        Each takes the same raw rows (full pipelines). Classifiers need ``predict_proba``.
    weights : sequence of float, optional
        One per estimator; normalised to sum to 1. Equal weights by default.
    classes : array-like, optional
        The class labels, for a classifier; ``None`` makes a regressor.
    columns : sequence of int arrays, optional
        For each classifier, the position in ``classes`` of each column of its
        ``predict_proba`` (a fold may have missed a rare class, and a model trained on
        encoded labels names its classes 0..K-1). Default: ``searchsorted(classes,
        estimator.classes_)``.
    temperatures : sequence of float or None, optional
        A temperature (see :class:`TemperatureScaled`) applied to each classifier's
        probabilities before averaging; ``None`` leaves one unchanged.
    threshold : float, optional
        For a binary classifier: predict ``classes_[1]`` where its averaged probability
        reaches this (see :class:`DecisionThreshold`); ``None``: the most probable class.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> a = LinearRegression().fit(X[:3], [0.0, 1.0, 2.0])
    >>> b = LinearRegression().fit(X[1:], [2.0, 3.0, 4.0])
    >>> FoldBag([a, b]).predict(X).round(6).tolist()
    [0.5, 1.5, 2.5, 3.5]
    """

    def __init__(
        self,
        estimators: Sequence[Any] = (),
        weights: Sequence[float] | None = None,
        classes: Any = None,
        columns: Sequence[Any] | None = None,
        temperatures: Sequence[float | None] | None = None,
        threshold: float | None = None,
    ) -> None:
        self.estimators = estimators
        self.weights = weights
        self.classes = classes
        self.columns = columns
        self.temperatures = temperatures
        self.threshold = threshold

    def fit(self, X: Any = None, y: Any = None) -> FoldBag:
        """Check the members and set ``classes_``; the members stay as they were fitted."""
        n = len(self.estimators)
        if n == 0:
            raise ValueError("FoldBag needs at least one fitted estimator. Got none.")
        weights = np.ones(n) if self.weights is None else np.asarray(self.weights, dtype=float)
        if weights.shape != (n,) or not np.all(weights >= 0) or not weights.sum() > 0:
            raise ValueError(
                f"FoldBag weights must be {n} non-negative numbers with a positive sum. "
                f"Got {self.weights!r}."
            )
        self.weights_ = weights / weights.sum()
        if self.classes is not None:
            self.classes_ = np.asarray(self.classes)
            columns = self.columns or [
                np.searchsorted(self.classes_, np.asarray(e.classes_)) for e in self.estimators
            ]
            self.columns_ = [np.asarray(c, dtype=int) for c in columns]
            if len(self.columns_) != n:
                raise ValueError(f"FoldBag needs {n} column maps. Got {len(self.columns_)}.")
            self.temperatures_ = list(self.temperatures or [None] * n)
            if self.threshold is not None and len(self.classes_) != 2:
                raise ValueError(
                    f"A decision threshold needs two classes. Got {len(self.classes_)}."
                )
        first = self.estimators[0]
        if hasattr(first, "feature_names_in_"):
            self.feature_names_in_ = first.feature_names_in_
        if hasattr(first, "n_features_in_"):
            self.n_features_in_ = first.n_features_in_
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "weights_"):
            self.fit()

    def predict_proba(self, X: Any) -> np.ndarray:
        """The weighted average of the members' class probabilities, columns in ``classes_``."""
        self._fitted()
        if self.classes is None:
            raise AttributeError("A FoldBag without classes is a regressor: use predict.")
        total = np.zeros((len(X), len(self.classes_)))
        for i, (est, w) in enumerate(zip(self.estimators, self.weights_, strict=True)):
            total += w * self.member_proba(i, est.predict_proba(X))
        return total

    def member_proba(self, i: int, proba: Any) -> np.ndarray:
        """Member ``i``'s ``predict_proba`` output as the bag averages it: its temperature
        applied, its columns placed at their classes' positions in ``classes_``."""
        self._fitted()
        proba = np.asarray(proba, dtype=float)
        t = self.temperatures_[i]
        if t is not None:
            proba = apply_temperature(proba, float(t))
        full = np.zeros((len(proba), len(self.classes_)))
        full[:, self.columns_[i]] = proba
        return full

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class (or ``threshold``'s), or the weighted average value."""
        self._fitted()
        if self.classes is not None:
            return threshold_labels(self.predict_proba(X), self.classes_, self.threshold)
        total = np.zeros(len(X))
        for est, w in zip(self.estimators, self.weights_, strict=True):
            total += w * np.asarray(est.predict(X), dtype=float).ravel()
        return total

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor" if self.classes is None else "classifier"
        return tags
