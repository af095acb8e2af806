"""Contributions of encoded features for the estimators modelloop trains.

Each explainer here takes the matrix the estimator predicts from and returns, per row, a
contribution per encoded feature and output and a base value, in the estimator's own
additive space (see :mod:`modelloop.explain._attribution`):

- trees (LightGBM, XGBoost, scikit-learn's trees, forests and histogram gradient
  boosting): path-dependent TreeSHAP from per-leaf tables (see ``_treeshap``), on the
  log-odds or class margins of boosting, the class probabilities of trees and forests, or
  the value; CatBoost's oblivious trees tabled per row pattern; where the tables do not
  apply (LightGBM's own categorical splits, missing values LightGBM or CatBoost route by
  their own settings, no numba and mostly very deep trees) the libraries' own TreeSHAP
  (``pred_contrib``, ``pred_contribs``, ``ShapValues``) or ``shap.TreeExplainer``;
- linear models: the exact form ``coef * (x - mean)``, the mean over a background sample
  of reference rows (the interventional Shapley values of a linear function).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

__all__ = ["leaf_explainer", "leaf_kind"]


class _Leaf:
    """What every explainer of encoded features answers."""

    kind = ""  # 'tree_shap' or 'linear'
    space = ""  # 'margin', 'probability' or 'value'
    name = ""

    def contributions(self, Xt: Any) -> tuple[Any, np.ndarray]:
        """``(values (n, features, outputs), base (n, outputs))``; values may be sparse
        per output for linear models (a list of sparse matrices)."""
        raise NotImplementedError


def _class_name(est: Any) -> str:
    return type(est).__name__


def _tables(est: Any, kind: str, **kwargs: Any) -> Any:
    """modelloop's TreeSHAP tables of ``est`` (see ``_treeshap``), or ``None`` when its trees
    are of a kind they do not read or mostly too deep for them."""
    from modelloop.explain._treeshap import parse_trees

    try:
        tables = parse_trees(est, kind, **kwargs)
    except (ValueError, KeyError, AttributeError, TypeError):
        return None
    return tables if tables.cheap else None


_TABLES = "TreeSHAP (path-dependent, per-leaf tables)"


class _LightGBM(_Leaf):
    kind = "tree_shap"

    def __init__(self, est: Any, classifier: bool) -> None:
        self.est = est
        self.space = "margin" if classifier else "value"
        self.tables = _tables(est, "lightgbm")
        how = _TABLES if self.tables is not None else "TreeSHAP (LightGBM pred_contrib)"
        self.name = f"{_class_name(est)}: {how}"

    def contributions(self, Xt: Any) -> tuple[Any, np.ndarray]:
        X = np.asarray(Xt, dtype=float)
        # LightGBM reads a missing value as 0 at some splits: its own TreeSHAP knows which
        if self.tables is not None and not np.isnan(X).any():
            return self.tables.contributions(X)
        out = np.asarray(self.est.predict(X, pred_contrib=True), dtype=float)
        n, width = out.shape
        f = self.est.n_features_in_
        k = width // (f + 1)
        out = out.reshape(n, k, f + 1)
        return out[:, :, :f].transpose(0, 2, 1), out[:, :, f]


class _XGBoost(_Leaf):
    kind = "tree_shap"

    def __init__(self, est: Any, classifier: bool) -> None:
        self.est = est
        self.space = "margin" if classifier else "value"
        try:  # trees beyond the early-stopping round are not used by predict
            best = est.best_iteration
            self.iterations = (0, int(best) + 1)
        except (AttributeError, TypeError, ValueError):
            self.iterations = (0, 0)
        self.tables = _tables(est, "xgboost", iterations=self.iterations)
        how = _TABLES if self.tables is not None else "TreeSHAP (XGBoost pred_contribs)"
        self.name = f"{_class_name(est)}: {how}"

    def contributions(self, Xt: Any) -> tuple[Any, np.ndarray]:
        import xgboost

        booster = self.est.get_booster()
        matrix = xgboost.DMatrix(np.asarray(Xt, dtype=np.float32), nthread=1)
        if self.tables is not None:
            values, base = self.tables.contributions(Xt)
        else:
            out = np.asarray(
                booster.predict(matrix, pred_contribs=True, iteration_range=self.iterations),
                dtype=float,
            )
            if out.ndim == 2:
                out = out[:, None, :]
            values, base = out[:, :, :-1].transpose(0, 2, 1), out[:, :, -1]
        # The base margin is not in the trees, and XGBoost adds its trees up in float32:
        # the base takes both (the rounding is ~1e-7), so that base + contributions is the
        # margin the model predicts from.
        margin = np.asarray(
            booster.predict(matrix, output_margin=True, iteration_range=self.iterations),
            dtype=float,
        ).reshape(len(base), -1)
        return values, base + (margin - base - values.sum(axis=1))


class _CatBoost(_Leaf):
    kind = "tree_shap"

    def __init__(self, est: Any, classifier: bool) -> None:
        from modelloop.explain._treeshap import ObliviousTables

        self.est = est
        self.space = "margin" if classifier else "value"
        try:
            self.tables: Any = ObliviousTables(est)
        except (ValueError, KeyError, TypeError, OSError):
            self.tables = None
        how = (
            "TreeSHAP (path-dependent, tabled per row pattern of each oblivious tree)"
            if self.tables is not None
            else "TreeSHAP (CatBoost ShapValues)"
        )
        self.name = f"{_class_name(est)}: {how}"

    def contributions(self, Xt: Any) -> tuple[Any, np.ndarray]:
        from catboost import Pool

        X = np.asarray(Xt, dtype=float)
        # where a missing value goes is CatBoost's per-feature setting: its own TreeSHAP
        if self.tables is not None and not np.isnan(X).any():
            return self.tables.contributions(X)

        out = np.asarray(
            self.est.get_feature_importance(
                Pool(np.asarray(Xt, dtype=float)), type="ShapValues", thread_count=1
            ),
            dtype=float,
        )
        if out.ndim == 2:
            out = out[:, None, :]
        return out[:, :, :-1].transpose(0, 2, 1), out[:, :, -1]


class _SklearnTrees(_Leaf):
    """scikit-learn's trees and forests (probabilities) and histogram boosting (log-odds)."""

    kind = "tree_shap"

    def __init__(self, est: Any, classifier: bool, boosted: bool) -> None:
        self.est = est
        self.space = ("margin" if boosted else "probability") if classifier else "value"
        self.tables = _tables(est, "hist_gbm" if boosted else "sklearn_tree")
        self.explainer: Any = None
        how = _TABLES
        if self.tables is None:
            with warnings.catch_warnings():  # shap's plotting colours warn on import
                warnings.simplefilter("ignore")
                import shap

            self.explainer = shap.TreeExplainer(est)
            how = "TreeSHAP (shap.TreeExplainer)"
        self.name = f"{_class_name(est)}: {how}"

    def contributions(self, Xt: Any) -> tuple[Any, np.ndarray]:
        X = np.asarray(Xt, dtype=float)
        if self.tables is not None:
            return self.tables.contributions(X)
        values = np.asarray(self.explainer.shap_values(X, check_additivity=False), dtype=np.float64)
        if values.ndim == 2:
            values = values[:, :, None]
        expected = np.atleast_1d(np.asarray(self.explainer.expected_value, dtype=np.float64))
        base = np.broadcast_to(expected, (values.shape[0], values.shape[2])).copy()
        return values, base


class _Linear(_Leaf):
    """``coef * (x - mean)``: exact for a linear function of the encoded features."""

    kind = "linear"

    def __init__(self, est: Any, classifier: bool, background: Any) -> None:
        self.coef = np.atleast_2d(np.asarray(est.coef_, dtype=float))  # (outputs, features)
        self.intercept = np.atleast_1d(np.asarray(est.intercept_, dtype=float))
        if self.intercept.size == 1 and self.coef.shape[0] > 1:
            self.intercept = np.repeat(self.intercept, self.coef.shape[0])
        self.mean = np.asarray(background.mean(axis=0), dtype=float).ravel()
        self.space = "margin" if classifier else "value"
        self.name = f"{_class_name(est)}: exact linear contributions"
        self.n_background = background.shape[0]

    def contributions(self, Xt: Any) -> tuple[Any, np.ndarray]:
        from scipy import sparse

        n = Xt.shape[0]
        k = self.coef.shape[0]
        base = np.broadcast_to(self.intercept + self.coef @ self.mean, (n, k)).copy()
        if sparse.issparse(Xt):
            csr = sparse.csr_matrix(Xt, dtype=float)
            # per output: X * coef (sparse) minus the dense mean term, grouped by the caller
            terms = [
                (csr.multiply(self.coef[j]).tocsr(), self.coef[j] * self.mean) for j in range(k)
            ]
            return terms, base
        X = np.asarray(Xt, dtype=float)
        values = (X - self.mean)[:, :, None] * self.coef.T[None, :, :]
        return values, base


def leaf_kind(est: Any) -> str | None:
    """``'lightgbm'``, ``'xgboost'``, ``'catboost'``, ``'hist_gbm'``, ``'sklearn_tree'`` or
    ``'linear'`` for an estimator explained on its encoded features; ``None`` for any other
    (explained by permutation instead). Cheap: nothing is built.

    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> leaf_kind(Ridge()), leaf_kind(KNeighborsRegressor())
    ('linear', None)
    """
    from sklearn import ensemble, tree

    # a subclass counts (modelloop's CatBoost classifier subclasses CatBoost's)
    modules = [c.__module__ for c in type(est).__mro__]
    for library in ("lightgbm", "xgboost", "catboost"):
        if any(m.startswith(library) for m in modules):
            return library
    if isinstance(
        est, ensemble.HistGradientBoostingClassifier | ensemble.HistGradientBoostingRegressor
    ):
        return "hist_gbm"
    if isinstance(
        est,
        tree.BaseDecisionTree | ensemble.RandomForestClassifier | ensemble.RandomForestRegressor
        | ensemble.ExtraTreesClassifier | ensemble.ExtraTreesRegressor,
    ):  # fmt: skip
        return "sklearn_tree"
    # scikit-learn's linear models (LogisticRegression, Ridge, LassoCV, ...): a classifier's
    # probabilities are the sigmoid / softmax of its decision function
    if any(m.startswith("sklearn.linear_model") for m in modules):
        return "linear"
    return None


def leaf_explainer(est: Any, background: Any = None) -> _Leaf | None:
    """The explainer of a fitted estimator's encoded features (see :func:`leaf_kind`), or
    ``None``. ``background`` is the encoded background sample: a linear model needs its
    mean (a ``ValueError`` says so when it is missing)."""
    from sklearn.base import is_classifier

    kind = leaf_kind(est)
    classifier = is_classifier(est)
    if kind == "lightgbm":
        return _LightGBM(est, classifier)
    if kind == "xgboost":
        return _XGBoost(est, classifier)
    if kind == "catboost":
        return _CatBoost(est, classifier)
    if kind in ("hist_gbm", "sklearn_tree"):
        return _SklearnTrees(est, classifier, boosted=kind == "hist_gbm")
    if kind == "linear":
        if not (hasattr(est, "coef_") and hasattr(est, "intercept_")):
            raise ValueError(f"{type(est).__name__} is not a fitted linear model")
        if background is None:
            raise ValueError("needs background rows (the mean of the reference data)")
        return _Linear(est, classifier, background)
    return None
