from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.base import is_classifier, is_regressor

from modelloop.data import ColumnSchema, Role, Schema
from modelloop.exceptions import ConfigurationError
from modelloop.features import FAMILIES, make_pipeline
from modelloop.models import MODELS, ModelSpec, catalog, default_candidates, get_spec

TASKS = ("binary", "multiclass", "regression")
CASES = [(name, task) for name, spec in MODELS.items() for task in TASKS if task in spec.tasks]
# efficientnet_finetune fine-tunes an image network: it needs an image column (tests/features)
TABULAR = [(name, task) for name, task in CASES if MODELS[name].family != "finetune"]

SCHEMA = Schema(
    (
        ColumnSchema("x1", Role.NUMERIC, "float64"),
        ColumnSchema("x2", Role.NUMERIC, "float64"),
        ColumnSchema("shop", Role.CATEGORICAL, "object", n_unique=3, categories=("a", "b", "c")),
        ColumnSchema("y", Role.NUMERIC, "float64"),
    ),
    target="y",
)


def _data(task: str, n: int = 90) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "shop": rng.choice(np.array(["a", "b", "c"], dtype=object), n),
        }
    )
    signal = X["x1"].to_numpy() + (X["shop"] == "a").to_numpy()
    if task == "regression":
        return X, signal + rng.normal(0, 0.1, n)
    if task == "binary":
        return X, (signal > np.median(signal)).astype(int)
    return X, np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))  # 0..2


def test_catalog_specs_are_well_formed() -> None:
    for name, spec in MODELS.items():
        assert isinstance(spec, ModelSpec) and spec.name == name
        assert spec.family in FAMILIES
        assert spec.tasks and spec.tasks <= set(TASKS)
        assert spec.description


@pytest.mark.parametrize(("name", "task"), CASES)
def test_model_spec_make_builds_fresh_estimator_for_task(name: str, task: str) -> None:
    spec = get_spec(name, task)
    a, b = spec.make(task, seed=3), spec.make(task, seed=3)
    assert a is not b
    assert is_classifier(a) if task != "regression" else is_regressor(a)
    params = a.get_params()
    if "random_state" in params:
        assert params["random_state"] == 3


@pytest.mark.parametrize(("name", "task"), TABULAR)
def test_model_spec_fits_tiny_dataset_through_pipeline(name: str, task: str) -> None:
    spec = get_spec(name, task)
    X, y = _data(task)
    model = make_pipeline(SCHEMA, spec.family, spec.make(task, n_jobs=1), task=task)
    model.fit(X, y)
    pred = model.predict(X.iloc[:5])
    assert pred.shape == (5,)
    if task != "regression":
        assert set(np.unique(pred)) <= set(np.unique(y))
        proba = model.predict_proba(X.iloc[:5])
        assert proba.shape == (5, len(np.unique(y)))
        assert model.score(X, y) > 0.6
    else:
        assert model.score(X, y) > 0.3


@pytest.mark.parametrize("name", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("task", ["binary", "regression"])
def test_model_pipeline_survives_skops_roundtrip(name: str, task: str, tmp_path) -> None:
    spec = get_spec(name, task)
    X, y = _data(task)
    model = make_pipeline(SCHEMA, spec.family, spec.make(task), task=task).fit(X, y)
    path = tmp_path / f"{name}.skops"
    sio.dump(model, path)
    loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    if task == "regression":
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    else:
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_catalog_lists_specs_per_task() -> None:
    names = [s.name for s in catalog("binary")]
    assert "logistic_regression" in names and "ridge" not in names
    reg = [s.name for s in catalog("regression")]
    assert "ridge" in reg and "lasso" in reg and "logistic_regression" not in reg
    with pytest.raises(ConfigurationError, match="Task must be one of"):
        catalog("ranking")


def test_default_candidates_cheapest_first() -> None:
    clf = ["logistic_regression", "hist_gradient_boosting", "lightgbm", "random_forest"]
    assert default_candidates("binary") == clf
    assert default_candidates("multiclass") == clf
    assert default_candidates("regression") == [
        "ridge",
        "hist_gradient_boosting",
        "lightgbm",
        "random_forest",
    ]
    for task in TASKS:
        assert all(task in get_spec(n, task).tasks for n in default_candidates(task))


def test_get_spec_unknown_name_suggests_closest() -> None:
    with pytest.raises(
        ConfigurationError, match=r"Unknown model 'lightgmb'\. Did you mean 'lightgbm'"
    ):
        get_spec("lightgmb", "binary")


def test_get_spec_wrong_task_raises() -> None:
    with pytest.raises(ConfigurationError, match="Model 'ridge' does not support task 'binary'"):
        get_spec("ridge", "binary")
    with pytest.raises(ConfigurationError, match="does not support task 'regression'"):
        MODELS["logistic_regression"].make("regression")


def test_model_spec_defaults_match_documented_configuration() -> None:
    lgbm = get_spec("lightgbm", "binary").make("binary", n_jobs=2).get_params()
    assert (lgbm["n_estimators"], lgbm["learning_rate"], lgbm["num_leaves"]) == (300, 0.05, 31)
    assert (lgbm["subsample"], lgbm["subsample_freq"], lgbm["colsample_bytree"]) == (0.8, 1, 0.8)
    assert lgbm["n_jobs"] == 2 and lgbm["verbose"] == -1
    xgb = get_spec("xgboost", "regression").make("regression").get_params()
    assert (xgb["tree_method"], xgb["n_estimators"], xgb["max_depth"]) == ("hist", 300, 6)
    lr = get_spec("logistic_regression", "multiclass").make("multiclass").get_params()
    assert (lr["max_iter"], lr["C"]) == (2000, 1.0)
    svc = get_spec("svm", "binary").make("binary")
    assert hasattr(svc, "predict_proba") and svc.get_params()["estimator__kernel"] == "rbf"


def test_portfolio_configs_are_valid_parameters_for_every_task() -> None:
    from modelloop.models import portfolio

    for task in TASKS:
        configs = portfolio(task)
        # a quick linear model first (a model on any budget), then gradient-boosted trees
        assert [name for name, _ in configs[:3]] == [
            "ridge" if task == "regression" else "logistic_regression", "lightgbm", "catboost"
        ]  # fmt: skip
        for name, params in configs:
            estimator = get_spec(name, task).make(task)
            estimator.set_params(**params)  # raises on a parameter the model lacks


def test_search_spaces_yield_settable_parameters() -> None:
    import optuna

    from modelloop.models import SPACES

    for name, space in SPACES.items():
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        task = "regression" if name == "ridge" else "binary"
        params = space(study.ask())
        get_spec(name, task).make(task).set_params(**params)


def test_catboost_classifies_many_classes_with_a_vector_of_labels() -> None:
    import numpy as np

    model = get_spec("catboost", "multiclass").make("multiclass").set_params(iterations=20)
    X = np.repeat(np.arange(4.0), 10)[:, None]
    y = np.repeat(["a", "b", "c", "d"], 10)
    model.fit(X, y)
    assert model.predict(X).tolist() == y.tolist()
    assert model.predict_proba(X).shape == (40, 4)
