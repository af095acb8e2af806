"""Fold models kept as the final model (bagging) instead of one refit on all rows.

Cross-validation fits one model per fold on the other folds' rows. modelloop's search may
keep those fitted models and average them rather than refit one model on every row: each
member then is exactly a model whose out-of-fold score the search measured, and their
average is less variable than any one of them. ``tuning`` decides when that scores better,
and passes the fold models frozen (scikit-learn's ``FrozenEstimator``), so that
``FoldBag.fit`` keeps them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    RegressorMixin,
    clone,
    is_classifier,
)
from sklearn.frozen import FrozenEstimator
from sklearn.utils import ClassifierTags, RegressorTags, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from modelloop.evaluation import threshold_labels
from modelloop.models._calibration import apply_temperature

__all__ = ["FoldBag"]


class FoldBag(MetaEstimatorMixin, BaseEstimator):
    """The weighted average of several models' predictions (one per fold, per member).

    A meta-estimator: :meth:`fit` fits a clone of each of ``estimators`` on the rows it
    is given, like a voting ensemble. modelloop's search passes fold models it has
    already fitted (each on other rows) wrapped in scikit-learn's ``FrozenEstimator``,
    whose clone is itself and whose ``fit`` does nothing, so they are kept exactly as
    they were scored. Classifier or regressor as its members are.

    Parameters
    ----------
    estimators : sequence of estimators
        Each takes the same raw rows (full pipelines). Classifiers need ``predict_proba``.
    weights : sequence of float, optional
        One per estimator; normalised to sum to 1. Equal weights by default.
    columns : sequence of int arrays, optional
        For each classifier, the position in ``classes_`` of each column of its
        ``predict_proba`` (a fold may have missed a rare class, and a model trained on
        encoded labels names its classes 0..K-1). Default: ``searchsorted(classes_,
        estimator.classes_)``.
    temperatures : sequence of float or None, optional
        A temperature (see :class:`TemperatureScaled`) applied to each classifier's
        probabilities before averaging; ``None`` leaves one unchanged.
    threshold : float, optional
        For a binary classifier: predict ``classes_[1]`` where its averaged probability
        reaches this (as scikit-learn's ``FixedThresholdClassifier`` does); ``None``:
        the most probable class.

    Attributes
    ----------
    estimators_ : list
        The fitted members (a frozen member unwrapped: the model it holds).
    weights_ : ndarray
        The normalised weights.
    classes_ : ndarray
        For a classifier: the sorted labels of ``y`` given to :meth:`fit`.

    Examples
    --------
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sklearn.linear_model import LinearRegression
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0.0, 1.0, 2.0, 3.0])
    >>> a = LinearRegression().fit(X[:3], [0.0, 1.0, 2.0])
    >>> b = LinearRegression().fit(X[1:], [2.0, 3.0, 4.0])
    >>> bag = FoldBag([FrozenEstimator(a), FrozenEstimator(b)]).fit(X, y)
    >>> bag.predict(X).round(6).tolist()
    [0.5, 1.5, 2.5, 3.5]
    """

    def __init__(
        self,
        estimators: Sequence[Any] = (),
        weights: Sequence[float] | None = None,
        columns: Sequence[Any] | None = None,
        temperatures: Sequence[float | None] | None = None,
        threshold: float | None = None,
    ) -> None:
        self.estimators = estimators
        self.weights = weights
        self.columns = columns
        self.temperatures = temperatures
        self.threshold = threshold

    def _is_classifier(self) -> bool:
        return len(self.estimators) > 0 and is_classifier(self.estimators[0])

    def fit(self, X: Any, y: Any, **fit_params: Any) -> FoldBag:
        """Fit each member (a frozen one stays as it is) and set ``classes_`` from ``y``."""
        n = len(self.estimators)
        if n == 0:
            raise ValueError("FoldBag needs at least one estimator. Got none.")
        weights = np.ones(n) if self.weights is None else np.asarray(self.weights, dtype=float)
        if weights.shape != (n,) or not np.all(weights >= 0) or not weights.sum() > 0:
            raise ValueError(
                f"FoldBag weights must be {n} non-negative numbers with a positive sum. "
                f"Got {self.weights!r}."
            )
        classifier = self._is_classifier()
        y = column_or_1d(y, warn=True)
        if classifier:
            check_classification_targets(y)
            classes = np.unique(y)
            if self.threshold is not None and len(classes) != 2:
                raise ValueError(f"A decision threshold needs two classes. Got {len(classes)}.")
            if self.columns is not None and len(self.columns) != n:
                raise ValueError(f"FoldBag needs {n} column maps. Got {len(self.columns)}.")
            if self.temperatures is not None and len(self.temperatures) != n:
                raise ValueError(f"FoldBag needs {n} temperatures. Got {len(self.temperatures)}.")
        fitted = []
        for est in self.estimators:
            member = clone(est).fit(X, y, **fit_params)
            fitted.append(member.estimator if isinstance(member, FrozenEstimator) else member)
        self.estimators_ = fitted
        self.weights_ = weights / weights.sum()
        if classifier:
            self.classes_ = classes
            columns = self.columns or [
                np.searchsorted(classes, np.asarray(e.classes_)) for e in fitted
            ]
            self.columns_ = [np.asarray(c, dtype=int) for c in columns]
            self.temperatures_ = list(self.temperatures or [None] * n)
        first = fitted[0]
        if hasattr(first, "feature_names_in_"):
            self.feature_names_in_ = first.feature_names_in_
        if hasattr(first, "n_features_in_"):
            self.n_features_in_ = first.n_features_in_
        return self

    @available_if(_is_classifier)
    def predict_proba(self, X: Any) -> np.ndarray:
        """The weighted average of the members' class probabilities, columns in ``classes_``."""
        check_is_fitted(self, "weights_")
        members = zip(self.estimators_, self.weights_, strict=True)
        return sum(
            w * self.member_proba(i, est.predict_proba(X)) for i, (est, w) in enumerate(members)
        )

    def member_proba(self, i: int, proba: Any) -> np.ndarray:
        """Member ``i``'s ``predict_proba`` output as the bag averages it: its temperature
        applied, its columns placed at their classes' positions in ``classes_``."""
        check_is_fitted(self, "weights_")
        proba = np.asarray(proba, dtype=float)
        t = self.temperatures_[i]
        if t is not None:
            proba = apply_temperature(proba, float(t))
        full = np.zeros((len(proba), len(self.classes_)))
        full[:, self.columns_[i]] = proba
        return full

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class (or ``threshold``'s), or the weighted average value."""
        check_is_fitted(self, "weights_")
        if hasattr(self, "classes_"):
            return threshold_labels(self.predict_proba(X), self.classes_, self.threshold)
        members = zip(self.estimators_, self.weights_, strict=True)
        return sum(w * np.asarray(est.predict(X), dtype=float).ravel() for est, w in members)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy for a classifier, R² for a regressor (as scikit-learn's mixins)."""
        mixin = ClassifierMixin if self._is_classifier() else RegressorMixin
        return float(mixin.score(self, X, y, sample_weight=sample_weight))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        if self._is_classifier():
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        elif len(self.estimators) > 0:
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        if len(self.estimators) > 0:
            inner = get_tags(self.estimators[0])
            tags.input_tags.sparse = inner.input_tags.sparse
            tags.input_tags.allow_nan = inner.input_tags.allow_nan
            tags.input_tags.string = inner.input_tags.string
            tags.input_tags.categorical = inner.input_tags.categorical
        return tags

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A bag saved before FoldBag.fit took data held its fitted members as
        # ``estimators`` and its labels as a ``classes`` parameter: the same model.
        if "weights_" in state and "estimators_" not in state:
            state = {**state, "estimators_": list(state["estimators"])}
            state.pop("classes", None)
        super().__setstate__(state)
