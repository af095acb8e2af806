"""Probability calibration by temperature scaling, fitted on out-of-fold predictions.

A classifier's probabilities ``p`` become ``softmax(log(p) / T)``: ``T > 1`` softens
over-confident probabilities, ``T < 1`` sharpens timid ones. One parameter cannot overfit
much, leaves every row's predicted class (and a binary ROC AUC) unchanged, and is fitted
on the out-of-fold predictions the search already has, so it costs no extra model fit.
The search keeps it only when it lowers the cross-validated log loss, measured honestly:
each fold's temperature is fitted on the other folds' predictions (cross-fitting).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from modelloop.evaluation import mean_log_loss

__all__ = ["TemperatureScaled", "apply_temperature", "cross_fit_temperature", "fit_temperature"]

_EPS = 1e-15
# Temperatures between 0.5 and 20. Sharpening is bounded: on nearly separable data every
# out-of-fold prediction is right, the log loss keeps falling as T -> 0, and a fitted
# T of 0.05 turns the first wrong prediction on new data into a near-certain miss.
_LOG_T = (float(np.log(0.5)), float(np.log(20.0)))


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(proba) / temperature)`` row by row.

    >>> apply_temperature(np.array([[0.9, 0.1]]), 2.0).round(3)
    array([[0.75, 0.25]])
    """
    proba = np.asarray(proba, dtype=float)
    if temperature == 1.0:
        return proba
    logits = np.log(np.clip(proba, _EPS, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def fit_temperature(proba: np.ndarray, y_idx: np.ndarray) -> float:
    """The temperature that minimises the log loss of ``proba`` for class indices ``y_idx``.

    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 2000)
    >>> sure = np.where(rng.random(2000) < 0.8, y, 1 - y)  # right 80 % of the time ...
    >>> proba = np.column_stack([1 - sure, sure]) * 0.98 + 0.01  # ... but 99 % confident
    >>> fit_temperature(proba, y) > 1.5
    True
    """
    from scipy.optimize import minimize_scalar

    proba = np.asarray(proba, dtype=float)
    y_idx = np.asarray(y_idx, dtype=int)
    found = minimize_scalar(
        lambda log_t: mean_log_loss(apply_temperature(proba, float(np.exp(log_t))), y_idx),
        bounds=_LOG_T,
        method="bounded",
        options={"xatol": 1e-3},
    )
    return float(np.exp(found.x))


def cross_fit_temperature(
    proba: np.ndarray, y_idx: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, float]:
    """Calibrated out-of-fold probabilities, and the temperature fitted on all of them.

    Fold ``k``'s rows are scaled by a temperature fitted on the other folds' rows only, so
    the calibrated probabilities can be scored as honestly as the raw ones. The returned
    temperature (fitted on every row) is the one a refitted model uses.
    """
    proba = np.asarray(proba, dtype=float)
    y_idx = np.asarray(y_idx, dtype=int)
    out = np.empty_like(proba)
    for _, va in folds:
        rest = np.ones(len(proba), dtype=bool)
        rest[va] = False
        out[va] = apply_temperature(proba[va], fit_temperature(proba[rest], y_idx[rest]))
    return out, fit_temperature(proba, y_idx)


class TemperatureScaled(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """A classifier whose ``predict_proba`` is scaled by a fixed temperature.

    ``predict`` is the wrapped classifier's own (a temperature never changes a row's most
    probable class). modelloop's search sets ``temperature`` from out-of-fold predictions.

    Parameters
    ----------
    estimator : classifier
        Fitted by :meth:`fit` (a clone; the fitted one is ``estimator_``).
    temperature : float, default=1.0
        Greater than 1 softens the probabilities, less than 1 sharpens them.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    >>> soft = TemperatureScaled(LogisticRegression(), temperature=3.0).fit(X, y)
    >>> raw = LogisticRegression().fit(X, y)
    >>> bool(soft.predict_proba(X)[0, 0] < raw.predict_proba(X)[0, 0])
    True
    >>> soft.predict(X).tolist() == raw.predict(X).tolist()
    True
    """

    def __init__(self, estimator: Any = None, temperature: float = 1.0) -> None:
        self.estimator = estimator
        self.temperature = temperature

    def fit(self, X: Any, y: Any, **fit_params: Any) -> TemperatureScaled:
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0. Got {self.temperature!r}.")
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self.classes_ = self.estimator_.classes_
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return apply_temperature(self.estimator_.predict_proba(X), float(self.temperature))

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        if self.estimator is not None:
            inner = get_tags(self.estimator)
            tags.input_tags.sparse = inner.input_tags.sparse
            tags.input_tags.allow_nan = inner.input_tags.allow_nan
            tags.input_tags.string = inner.input_tags.string
            tags.input_tags.categorical = inner.input_tags.categorical
        return tags
