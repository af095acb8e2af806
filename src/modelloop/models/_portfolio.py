"""Portfolio configurations and Optuna search spaces for the catalog's models.

The *portfolio* is a short list of strong, diverse configurations per task: the search
evaluates it in order before any model-based tuning (two at a time on two cores). A linear
model comes first because it takes a second and so guarantees a model on any budget and any
machine; gradient-boosted trees follow (LightGBM, then CatBoost, whose defaults are the
strongest single models on most of the tables we measure), then extra trees, which are
cheap and err differently, as an ensemble needs. Boosted trees get many rounds: the search
stops them early on a slice of each training fold and refits with the number of rounds that
worked.

Each configuration was cross-validated as a search trial on the training splits of the nine
dev tables and three of ``more/`` (``bench/portfolio.py``, mean normalized CV score): XGBoost
at depth 4 (learning rate 0.08, ``min_child_weight`` 2, 80 % of the columns per tree)
scored 0.81 against 0.67 for depth 6 at two thirds of the CPU time, so it is the entry.

A *search space* maps an Optuna trial to estimator parameters (names as the estimator's
``set_params`` takes them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelloop.data import check_task
from modelloop.models._catalog import MODELS, is_available

__all__ = ["BALANCED", "MIN_BUDGET", "SPACES", "portfolio", "search_space"]

_BOOST = {"n_estimators": 3000}
# The network's portfolio entry: few epochs, impatient; the Optuna stage may go further.
_NET = {"max_epochs": 40, "patience": 6}

MIN_BUDGET: dict[str, float] = {"mlp_torch": 120.0}
"""Time budgets (seconds) below which a model is left out of the portfolio: on 2 cores a
network's cross-validation would take the time the other models need."""

_PORTFOLIO: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "classification": (
        ("logistic_regression", {}),
        ("lightgbm", {**_BOOST, "learning_rate": 0.05}),
        ("catboost", {"iterations": 3000, "learning_rate": 0.06}),
        ("extra_trees", {"min_samples_leaf": 2}),
        ("xgboost", {**_BOOST, "learning_rate": 0.08, "max_depth": 4,
                     "min_child_weight": 2.0, "colsample_bytree": 0.8}),
        ("lightgbm", {**_BOOST, "learning_rate": 0.03, "num_leaves": 127,
                      "min_child_samples": 10, "colsample_bytree": 0.6}),
        ("random_forest", {}),
        ("hist_gradient_boosting", {}),
        ("knn", {}),
        ("lightgbm", {**_BOOST, "learning_rate": 0.05, "num_leaves": 8,
                      "min_child_samples": 30, "reg_lambda": 5.0}),
        ("mlp_torch", _NET),
    ),
    "regression": (
        ("ridge", {}),
        ("lightgbm", {**_BOOST, "learning_rate": 0.05}),
        ("catboost", {"iterations": 3000, "learning_rate": 0.06}),
        ("extra_trees", {"min_samples_leaf": 2, "max_features": 0.5}),
        ("xgboost", {**_BOOST, "learning_rate": 0.08, "max_depth": 4,
                     "min_child_weight": 2.0, "colsample_bytree": 0.8}),
        ("lightgbm", {**_BOOST, "learning_rate": 0.03, "num_leaves": 127,
                      "min_child_samples": 10, "colsample_bytree": 0.6}),
        ("random_forest", {}),
        ("hist_gradient_boosting", {}),
        ("knn", {}),
        ("lightgbm", {**_BOOST, "learning_rate": 0.05, "num_leaves": 8,
                      "min_child_samples": 30, "reg_lambda": 5.0}),
        ("mlp_torch", _NET),
    ),
}  # fmt: skip


BALANCED: dict[str, dict[str, Any]] = {
    "logistic_regression": {"class_weight": "balanced"},
    "lightgbm": {"class_weight": "balanced"},
    "hist_gradient_boosting": {"class_weight": "balanced"},
    "catboost": {"auto_class_weights": "Balanced"},
    "extra_trees": {"class_weight": "balanced"},
    "random_forest": {"class_weight": "balanced"},
    "decision_tree": {"class_weight": "balanced"},
    "svm": {"estimator__class_weight": "balanced"},
    "mlp_torch": {"class_weight": "balanced"},
}
"""Estimator parameters that weight classes inversely to their frequency, per classifier
(XGBoost and k-NN have none). The search adds them for metrics that reward the rare
classes (balanced accuracy, macro averages, F1 of a rare positive class)."""


def portfolio(task: str, *, time_budget: float | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The default configurations for ``task`` as ``(model name, estimator params)``, best first.

    Models whose libraries are not installed (``mlp_torch`` without PyTorch) are left out,
    and so are those whose :data:`MIN_BUDGET` is above ``time_budget``.

    Examples
    --------
    >>> [name for name, _ in portfolio("binary")][:3]
    ['logistic_regression', 'lightgbm', 'catboost']
    """
    check_task(task)
    key = "regression" if task == "regression" else "classification"
    return [
        (name, dict(params))
        for name, params in _PORTFOLIO[key]
        if task in MODELS[name].tasks
        and is_available(name)
        and (time_budget is None or time_budget >= MIN_BUDGET.get(name, 0.0))
    ]


def _lightgbm(t: Any) -> dict[str, Any]:
    return {
        "n_estimators": 3000,
        "learning_rate": t.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": t.suggest_int("num_leaves", 4, 256, log=True),
        "min_child_samples": t.suggest_int("min_child_samples", 2, 100, log=True),
        "subsample": t.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": t.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_lambda": t.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def _xgboost(t: Any) -> dict[str, Any]:
    return {
        "n_estimators": 3000,
        "learning_rate": t.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "max_depth": t.suggest_int("max_depth", 2, 10),
        "min_child_weight": t.suggest_float("min_child_weight", 0.5, 20.0, log=True),
        "subsample": t.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": t.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_lambda": t.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def _catboost(t: Any) -> dict[str, Any]:
    return {
        "iterations": 3000,
        "learning_rate": t.suggest_float("learning_rate", 0.02, 0.2, log=True),
        "depth": t.suggest_int("depth", 4, 9),
        "l2_leaf_reg": t.suggest_float("l2_leaf_reg", 1.0, 20.0, log=True),
    }


def _hist_gradient_boosting(t: Any) -> dict[str, Any]:
    return {
        "learning_rate": t.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "max_leaf_nodes": t.suggest_int("max_leaf_nodes", 8, 128, log=True),
        "min_samples_leaf": t.suggest_int("min_samples_leaf", 5, 100, log=True),
        "l2_regularization": t.suggest_float("l2_regularization", 1e-4, 10.0, log=True),
    }


def _mlp_torch(t: Any) -> dict[str, Any]:
    width = t.suggest_int("width", 32, 512, log=True)
    depth = t.suggest_int("depth", 1, 3)
    return {
        "hidden_layer_sizes": tuple(max(16, width >> i) for i in range(depth)),
        "dropout": t.suggest_float("dropout", 0.0, 0.5),
        "learning_rate": t.suggest_float("learning_rate", 3e-4, 1e-2, log=True),
        "weight_decay": t.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        "batch_size": t.suggest_categorical("batch_size", [64, 128, 256, 512]),
        "max_epochs": 60,
        "patience": 8,
    }


def _forest(t: Any) -> dict[str, Any]:
    return {
        "max_features": t.suggest_categorical("max_features", ["sqrt", 0.3, 0.5, 0.8, 1.0]),
        "min_samples_leaf": t.suggest_int("min_samples_leaf", 1, 10),
    }


SPACES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "lightgbm": _lightgbm,
    "xgboost": _xgboost,
    "catboost": _catboost,
    "hist_gradient_boosting": _hist_gradient_boosting,
    "random_forest": _forest,
    "mlp_torch": _mlp_torch,
    "extra_trees": _forest,
    "logistic_regression": lambda t: {"C": t.suggest_float("C", 1e-3, 100.0, log=True)},
    "ridge": lambda t: {"alpha": t.suggest_float("alpha", 1e-3, 1e3, log=True)},
    "knn": lambda t: {
        "n_neighbors": t.suggest_int("n_neighbors", 3, 60, log=True),
        "weights": t.suggest_categorical("weights", ["uniform", "distance"]),
    },
    "decision_tree": lambda t: {
        "max_depth": t.suggest_int("max_depth", 2, 20),
        "min_samples_leaf": t.suggest_int("min_samples_leaf", 1, 50, log=True),
    },
}


def search_space(name: str) -> Callable[[Any], dict[str, Any]] | None:
    """The Optuna search space of model ``name`` (``trial -> params``), or ``None``.

    Examples
    --------
    >>> import optuna
    >>> trial = optuna.trial.FixedTrial({"C": 0.5})
    >>> search_space("logistic_regression")(trial)
    {'C': 0.5}
    """
    return SPACES.get(name)
