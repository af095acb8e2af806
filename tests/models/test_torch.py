"""The PyTorch tabular network: fit, predict, save/load, class weights, early stopping."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from sklearn.utils.estimator_checks import parametrize_with_checks

from modelloop.data import ColumnSchema, Role, Schema
from modelloop.exceptions import ConfigurationError, InvalidInputError
from modelloop.features import make_pipeline
from modelloop.models import catalog, get_spec, portfolio, search_space
from modelloop.models._torch import TabularNetClassifier, TabularNetRegressor
from modelloop.store import Store
from modelloop.tuning import search

_FAST = {
    "hidden_layer_sizes": (16,),
    "max_epochs": 30,
    "learning_rate": 1e-2,
    "early_stopping": False,
    "random_state": 0,
    "n_jobs": 1,
}

_EXPECTED: dict[str, dict[str, str]] = {"TabularNetClassifier": {}, "TabularNetRegressor": {}}


@parametrize_with_checks(
    [TabularNetClassifier(**_FAST), TabularNetRegressor(**_FAST)],
    expected_failed_checks=lambda est: _EXPECTED[type(est).__name__],
)
def test_tabular_net_passes_sklearn_checks(estimator, check) -> None:
    check(estimator)


# ------------------------------------------------------------------ behaviour


def _blobs(n: int = 300, seed: int = 0, imbalance: float = 0.5):
    """Two numeric columns and one categorical code column (-1..2); a learnable target."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n), rng.integers(-1, 3, n)])
    signal = X[:, 0] + 1.5 * (X[:, 2] == 2) - 0.5 * X[:, 1]
    y = (signal > np.quantile(signal, 1 - imbalance)).astype(int)
    return X, y


def _net(**kw):
    params = {
        "hidden_layer_sizes": (32, 16),
        "categorical_features": [2],
        "max_epochs": 25,
        "learning_rate": 1e-2,
        "random_state": 0,
        "n_jobs": 1,
    }
    return TabularNetClassifier(**{**params, **kw})


def test_tabular_net_classifier_learns_with_categorical_embedding() -> None:
    X, y = _blobs()
    net = _net().fit(X, y)
    assert net.score(X, y) > 0.85
    assert list(net.cardinalities_) == [5]  # codes -1..2 -> 0..3, plus the unseen slot
    assert net.weights_["embeddings.0.weight"].shape[0] == 5
    proba = net.predict_proba(X[:4])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(net.predict(X)) <= {0, 1}


def test_tabular_net_classifier_unseen_category_code_predicts() -> None:
    X, y = _blobs()
    net = _net(max_epochs=3).fit(X, y)
    X_new = X[:3].copy()
    X_new[:, 2] = [7, -1, 99]  # levels never seen in fit
    assert net.predict_proba(X_new).shape == (3, 2)


def test_tabular_net_same_seed_same_predictions() -> None:
    X, y = _blobs()
    a = _net(max_epochs=5).fit(X, y).predict_proba(X)
    b = _net(max_epochs=5).fit(X, y).predict_proba(X)
    c = _net(max_epochs=5, random_state=1).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_tabular_net_regressor_fits_target_scale() -> None:
    X, _ = _blobs()
    y = 1000 + 50 * X[:, 0] + 30 * (X[:, 2] == 1)
    net = TabularNetRegressor(
        (32,), categorical_features=[2], max_epochs=40, learning_rate=1e-2, random_state=0
    ).fit(X, y)
    assert net.score(X, y) > 0.8
    assert abs(net.predict(X).mean() - 1000) < 30


def test_tabular_net_early_stopping_keeps_best_epoch() -> None:
    X, y = _blobs(n=200)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, len(y))  # noise: validation loss stops improving early
    net = _net(hidden_layer_sizes=(128, 128), max_epochs=200, patience=3, dropout=0.0).fit(X, y)
    assert net.n_epochs_ < 200
    assert net.n_epochs_ - net.best_epoch_ == 3
    assert len(net.validation_loss_curve_) == net.n_epochs_
    assert net.best_validation_loss_ == pytest.approx(min(net.validation_loss_curve_))


def test_tabular_net_without_early_stopping_runs_every_epoch() -> None:
    X, y = _blobs(n=100)
    net = _net(max_epochs=4, early_stopping=False).fit(X, y)
    assert net.n_epochs_ == 4 and net.validation_loss_curve_ == []


def test_tabular_net_balanced_class_weight_raises_minority_recall() -> None:
    X, y = _blobs(n=400, imbalance=0.08)
    plain = _net(max_epochs=8).fit(X, y)
    weighted = _net(max_epochs=8, class_weight="balanced").fit(X, y)
    recall = [(m.predict(X)[y == 1] == 1).mean() for m in (plain, weighted)]
    assert recall[1] > recall[0]
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()


def test_tabular_net_class_weight_unknown_class_is_refused() -> None:
    X, y = _blobs(n=100)
    with pytest.raises(ValueError, match="names class 5"):
        _net(max_epochs=1, class_weight={5: 2.0}).fit(X, y)


def test_tabular_net_too_few_rows_for_validation_split() -> None:
    X, y = _blobs(n=12)
    with pytest.raises(InvalidInputError, match=r"12 rows are too few .* at least 50 rows"):
        _net().fit(X, y)


def test_tabular_net_bad_categorical_index_is_refused() -> None:
    X, y = _blobs(n=100)
    with pytest.raises(ValueError, match=r"column indices in \[0, 3\). Got 3"):
        _net(categorical_features=[3]).fit(X, y)


def test_tabular_net_verbose_shows_epoch_progress(capsys) -> None:
    X, y = _blobs(n=100)
    _net(max_epochs=2, early_stopping=False, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "epoch 2" in out and "2/2" in out


def test_tabular_net_state_holds_no_torch_object() -> None:
    import pickle

    X, y = _blobs(n=100)
    net = _net(max_epochs=2).fit(X, y)
    state = net.__getstate__()
    assert "_module" not in state
    assert all(isinstance(v, np.ndarray) for v in state["weights_"].values())
    assert b"torch" not in pickle.dumps(state)
    again = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(again.predict_proba(X), net.predict_proba(X))


# ------------------------------------------------------------------ in modelloop


def _frame(n: int = 240, seed: int = 0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "shop": rng.choice(np.array(["a", "b", "c"], dtype=object), n),
        }
    )
    y = (X["x1"].to_numpy() + 1.5 * (X["shop"] == "a").to_numpy() > 0.5).astype(int)
    return X, y


_SCHEMA = Schema(
    (
        ColumnSchema("x1", Role.NUMERIC, "float64"),
        ColumnSchema("x2", Role.NUMERIC, "float64"),
        ColumnSchema("shop", Role.CATEGORICAL, "object", n_unique=3, categories=("a", "b", "c")),
        ColumnSchema("y", Role.NUMERIC, "float64"),
    ),
    target="y",
)


def _deep_pipeline(task: str = "binary"):
    spec = get_spec("mlp_torch", task)
    estimator = spec.make(task)
    estimator.set_params(max_epochs=15, hidden_layer_sizes=(32,), learning_rate=1e-2)
    return make_pipeline(_SCHEMA, spec.family, estimator, task=task)


def test_mlp_torch_catalog_pipeline_embeds_categorical_column_first() -> None:
    X, y = _frame()
    pipe = _deep_pipeline().fit(X, y)
    assert pipe.named_steps["preprocess"].transformers_[0][0] == "categorical"
    assert pipe[-1].categorical_features == [0]
    assert pipe.score(X, y) > 0.8


def test_mlp_torch_save_load_through_store_same_predictions(settings) -> None:
    X, y = _frame()
    pipe = _deep_pipeline().fit(X, y)
    with Store.from_settings(settings) as store:
        store.register_model("net", pipe, run_id=None, schema={}, task="binary", metrics={})
        _, loaded = store.load_model("net")
    assert isinstance(loaded[-1], TabularNetClassifier)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))


def test_mlp_torch_in_portfolio_only_with_enough_budget() -> None:
    assert "mlp_torch" in [m for m, _ in portfolio("binary")]
    assert "mlp_torch" not in [m for m, _ in portfolio("binary", time_budget=60)]
    assert "mlp_torch" in [s.name for s in catalog("regression")]
    assert search_space("mlp_torch") is not None


def test_mlp_torch_without_torch_says_how_to_install(monkeypatch) -> None:
    import sys

    from modelloop.models import _torch

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    monkeypatch.setattr(_torch, "torch_available", lambda: False)
    assert "mlp_torch" not in [s.name for s in catalog("binary")]
    assert "mlp_torch" not in [m for m, _ in portfolio("binary")]
    with pytest.raises(ConfigurationError, match=r"pip install 'modelloop\[deep\]'.*torch==2.13.0"):
        get_spec("mlp_torch", "binary")
    with pytest.raises(ConfigurationError, match="needs PyTorch"):
        TabularNetClassifier().fit(np.zeros((30, 1)), np.arange(30) % 2)


def test_cli_train_mlp_torch_too_small_data_exits_2(tmp_path, capsys) -> None:
    from modelloop.cli import main

    X, y = _frame(n=16)
    X.assign(y=y).to_csv(tmp_path / "tiny.csv", index=False)
    code = main(
        [
            "train", str(tmp_path / "tiny.csv"), "--target", "y", "--models", "mlp_torch",
            "--cv", "2", "--test-size", "0.25", "--home", str(tmp_path / "home"),
        ]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "rows are too few" in err


@pytest.mark.slow
def test_search_runs_mlp_torch_trial_and_refit() -> None:
    X, y = _frame(n=300)
    result = search(
        X,
        pd_series(y),
        schema=_SCHEMA,
        task="binary",
        metric="roc_auc",
        candidates=["mlp_torch"],
        cv=3,
        max_trials=1,
        final_fit="refit",
    )
    assert result.best.family == "mlp_torch" and result.best.status == "ok"
    assert result.best.cv_mean > 0.8
    final = result.model[-1]  # temperature-scaled when that lowered the CV log loss
    assert isinstance(getattr(final, "estimator_", final), TabularNetClassifier)


def pd_series(y):
    import pandas as pd

    return pd.Series(y, name="y")


def test_tabular_net_last_validation_split_holds_out_the_last_rows() -> None:
    target = np.arange(100) % 2
    last = TabularNetClassifier(validation_split="last", validation_fraction=0.2)
    tr, va = last._validation_split(target, seed=0)
    assert tr.tolist() == list(range(80)) and va.tolist() == list(range(80, 100))
    tr, va = TabularNetClassifier(validation_fraction=0.2)._validation_split(target, seed=0)
    assert len(va) == 20 and va.tolist() != list(range(80, 100))  # a seeded sample
    with pytest.raises(ValueError, match="validation_split"):
        TabularNetRegressor(validation_split="first").fit(np.zeros((40, 1)), np.zeros(40))


def test_time_ordered_search_pipelines_stop_the_network_early_on_the_latest_rows() -> None:
    from modelloop.tuning._worker import build_pipeline

    for time_ordered, split in ((True, "last"), (False, "random")):
        pipe = build_pipeline(
            _SCHEMA, "binary", "mlp_torch", {}, seed=0, n_jobs=1, time_ordered=time_ordered
        )
        assert pipe[-1].validation_split == split
    # a model without a stopping slice of its own is built as it always is
    plain = build_pipeline(_SCHEMA, "binary", "logistic_regression", {}, seed=0, n_jobs=1,
                           time_ordered=True)  # fmt: skip
    assert "validation_split" not in plain[-1].get_params()
