"""A regressor fitted on ``log1p(y)`` that predicts back on the original scale.

Right-skewed positive targets (prices, incomes, counts) often have errors that grow with
the value: a model fitted on ``log1p(y)`` sees a better behaved target, and ``expm1`` of
its prediction is frequently the lower-RMSE model even though RMSE is measured on the
original scale. Whether it is, the search decides the usual way: a log-target twin of a
portfolio model is cross-validated on the same folds and scored on the original scale,
and kept only if it wins. The search tries it on targets :func:`wants_log_target` accepts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted, column_or_1d

__all__ = ["LOG1P", "LogTargetRegressor", "log_target", "wants_log_target"]

LOG1P = "log1p"
"""The one target transform the search knows (the value of a trial's ``target_transform``)."""

_SKEW = 1.0  # sample skewness above which a non-negative target is "clearly right-skewed"
# Predictions are clipped to the training range of log1p(y), widened by this (about 10 %
# on the original scale): a linear model extrapolating on the log scale grows exponentially
# on the original one (on house prices a log-target ridge missed a few large houses by
# hundreds of thousands with a margin of 1).
_MARGIN = 0.1


def log_target(y: Any) -> np.ndarray:
    """``log1p(y)`` for ``y >= 0``, extended odd-symmetrically (``-log1p(-y)``) below 0.

    >>> log_target(np.array([0.0, np.e - 1.0, -(np.e - 1.0)])).round(6).tolist()
    [0.0, 1.0, -1.0]
    """
    y = np.asarray(y, dtype=float)
    return np.sign(y) * np.log1p(np.abs(y))


def _inverse(z: np.ndarray) -> np.ndarray:
    return np.sign(z) * np.expm1(np.abs(z))


def wants_log_target(y: Any) -> bool:
    """Whether the search should also try a log target: every value finite and ``>= 0``,
    and the sample skewness above 1 (a long right tail, as house prices have).

    >>> rng = np.random.default_rng(0)
    >>> wants_log_target(rng.lognormal(12.0, 0.4, 500)), wants_log_target(rng.normal(5, 1, 500))
    (True, False)
    >>> wants_log_target(rng.lognormal(0.0, 1.0, 500) - 1.0)  # negative values
    False
    """
    try:
        y = np.asarray(y, dtype=float).ravel()
    except (TypeError, ValueError):
        return False
    if len(y) < 3 or not np.isfinite(y).all() or y.min() < 0:
        return False
    centred = y - y.mean()
    var = float(np.mean(centred**2))
    if var <= 0.0:
        return False
    skew = float(np.mean(centred**3)) / var**1.5
    return skew > _SKEW


class LogTargetRegressor(RegressorMixin, BaseEstimator):
    """A regressor fitted on ``log1p(y)``; ``predict`` returns ``expm1`` of its prediction.

    Like scikit-learn's ``TransformedTargetRegressor(func=np.log1p, inverse_func=np.expm1)``
    but with no functions among its parameters (a model file stores only data) and with
    predictions clipped to the training targets' log range widened by 0.1 (about 10 %), so
    an extrapolating linear model cannot overflow ``expm1`` or stray far beyond the
    targets it saw. Negative targets (which the
    search never gives it) use the odd extension ``-log1p(-y)``.

    Parameters
    ----------
    regressor : regressor
        Fitted by :meth:`fit` on the transformed target (a clone; the fitted one is
        ``regressor_``).

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.arange(1.0, 6.0)[:, None]
    >>> y = np.expm1(2.0 * X[:, 0])  # exponential in X: linear on the log scale
    >>> model = LogTargetRegressor(LinearRegression()).fit(X, y)
    >>> np.allclose(model.predict(X), y)
    True
    """

    def __init__(self, regressor: Any = None) -> None:
        self.regressor = regressor

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        if self.regressor is not None:
            inner = self.regressor.__sklearn_tags__()
            tags.input_tags.sparse = inner.input_tags.sparse
            tags.input_tags.allow_nan = inner.input_tags.allow_nan
        return tags

    def fit(self, X: Any, y: Any, **fit_params: Any) -> LogTargetRegressor:
        if y is None:
            raise ValueError(
                "LogTargetRegressor requires y to be passed, but the target y is None."
            )
        z = log_target(column_or_1d(y, dtype=float, warn=True))
        if not np.isfinite(z).all():
            raise ValueError(
                "LogTargetRegressor needs a finite target. Got NaN or infinite values."
            )
        self.regressor_ = clone(self.regressor).fit(X, z, **fit_params)
        return self._fitted(z)

    def _fitted(self, z: np.ndarray) -> LogTargetRegressor:
        self.z_range_ = (float(z.min()) - _MARGIN, float(z.max()) + _MARGIN)
        if hasattr(self.regressor_, "n_features_in_"):
            self.n_features_in_ = self.regressor_.n_features_in_
        if hasattr(self.regressor_, "feature_names_in_"):
            self.feature_names_in_ = self.regressor_.feature_names_in_
        return self

    @classmethod
    def from_fitted(cls, regressor: Any, y: Any) -> LogTargetRegressor:
        """Wrap ``regressor``, already fitted on ``log_target(y)`` (e.g. with early
        stopping on a log-scale validation slice), without fitting it again."""
        model = cls(regressor)
        model.regressor_ = regressor
        return model._fitted(log_target(np.asarray(y, dtype=float).ravel()))

    def inverse(self, z: Any) -> np.ndarray:
        """Predictions of ``regressor_`` (log scale) back on the target's scale."""
        z = np.clip(np.asarray(z, dtype=float), *self.z_range_)
        return _inverse(z)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "regressor_")
        return self.inverse(self.regressor_.predict(X))
