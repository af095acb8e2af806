"""The one trust check: every file of the hostile corpus is refused, and every model
modelloop itself makes passes it."""

from __future__ import annotations

import hashlib
import inspect
import pkgutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from modelloop.exceptions import InvalidInputError, UntrustedModelError
from modelloop.store import (
    TRUSTED_TYPES,
    Store,
    file_kind,
    load_pickle,
    load_skops,
    untrusted_types,
)
from modelloop.store._tables import model_versions

HOSTILE = Path(__file__).resolve().parent / "hostile"
CORPUS = sorted(p.name for p in HOSTILE.iterdir() if p.suffix != ".py")
SKOPS = [n for n in CORPUS if n.endswith(".skops")]
PICKLES = [n for n in CORPUS if n.endswith((".pkl", ".joblib"))]  # .onnx: tests/serving
# the files shaped like what the store writes (a modelloop-model wrapper)
STORE_SHAPED = [n for n in SKOPS if n.startswith(("store_", "reduce_", "dict_"))]


def _one_line(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message


def test_corpus_holds_every_kind_of_attack() -> None:
    kinds = ("eval", "exec", "os_system", "subprocess", "numpy_load", "attrgetter",
             "methodcaller", "reduce", "pandas_read_pickle", "pickle_renamed")  # fmt: skip
    for kind in kinds:
        assert any(kind in name for name in CORPUS), kind
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("name", SKOPS)
def test_hostile_skops_file_is_refused(name: str, hostile_cwd: Path) -> None:
    data = (HOSTILE / name).read_bytes()
    with pytest.raises(InvalidInputError) as caught:
        load_skops(data, what=name)
    _one_line(str(caught.value))
    assert name in str(caught.value)
    if file_kind(data[:4]) == "zip":
        assert isinstance(caught.value, UntrustedModelError)
        assert untrusted_types(data=data)  # names what it refused
    else:
        assert "is a pickle" in str(caught.value)


@pytest.mark.parametrize("name", PICKLES)
def test_hostile_pickle_is_refused_without_trust(name: str, hostile_cwd: Path) -> None:
    with pytest.raises(UntrustedModelError, match="Pass --trust") as caught:
        load_pickle(HOSTILE / name, what=name)
    _one_line(str(caught.value))


def _plant(store: Store, name: str, data: bytes) -> None:
    """What anyone who can write to the store may do: a version whose file is ``data``."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    record = store.register_model(name, model, run_id=None, schema={}, task="binary", metrics={})
    (store.artifacts_dir / record.artifact_path).write_bytes(data)
    with store._engine.begin() as conn:
        conn.execute(
            model_versions.update()
            .where(model_versions.c.name == name)
            .values(sha256=hashlib.sha256(data).hexdigest())
        )


@pytest.mark.parametrize("name", STORE_SHAPED)
def test_store_refuses_a_hostile_registered_file(
    name: str, hostile_cwd: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelloop.cli import main

    home = tmp_path / "home"
    with Store(f"sqlite:///{home}/modelloop.db", home / "artifacts") as store:
        _plant(store, "evil", (HOSTILE / name).read_bytes())
        with pytest.raises(UntrustedModelError, match="does not trust"):
            store.load_model("evil")
    pd.DataFrame({"x": [1.0, 2.0]}).to_csv("rows.csv", index=False)
    capsys.readouterr()
    code = main(["predict", "evil", "rows.csv", "-o", "out.csv", "--home", str(home)])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    _one_line(err)
    assert err.startswith("error:") and "does not trust" in err
    assert not Path("out.csv").exists()


def test_a_hostile_champion_stops_retrain(hostile_cwd: Path, tmp_path: Path, capsys) -> None:
    from sklearn.linear_model import LogisticRegression

    from modelloop.cli import main

    home = tmp_path / "home"
    frame = pd.DataFrame({"x": np.arange(40.0), "y": [0, 1] * 20})
    with Store(f"sqlite:///{home}/modelloop.db", home / "artifacts") as store:
        run = store.create_run(name="evil", dataset_hash=None, target="y", task="binary",
                               metric="roc_auc", params={})  # fmt: skip
        store.finish_run(run.id, status="finished")
        model = LogisticRegression().fit(frame[["x"]], frame["y"])
        record = store.register_model("evil", model, run_id=run.id, schema={"target": "y"},
                                      task="binary", metrics={}, reference=frame,
                                      aliases=["production"])  # fmt: skip
        data = (HOSTILE / "store_numpy_load_pickle.skops").read_bytes()
        (store.artifacts_dir / record.artifact_path).write_bytes(data)
        with store._engine.begin() as conn:
            conn.execute(model_versions.update().values(sha256=hashlib.sha256(data).hexdigest()))
    capsys.readouterr()
    code = main(["retrain", "evil", "--home", str(home)])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    _one_line(err)
    assert "numpy.load" in err


def test_trust_is_the_only_way_around(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.ensemble import GradientBoostingClassifier

    from modelloop.config import Settings

    outside = GradientBoostingClassifier(n_estimators=2).fit([[0.0], [1.0]], [0, 1])
    data = sio.dumps(outside)
    with pytest.raises(UntrustedModelError, match="GradientBoostingClassifier"):
        load_skops(data, what="gb.skops")
    assert type(load_skops(data, what="gb.skops", trust=True)) is GradientBoostingClassifier
    # neither the environment nor a config file can switch the check off
    monkeypatch.setenv("MODELLOOP_TRUST", "1")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modelloop.toml").write_text("trust = true\n")
    assert Settings().trust is False
    assert Settings(trust=True).trust is True
    home = tmp_path / "home"
    with Store.from_settings(Settings(home=home)) as store:
        with pytest.raises(UntrustedModelError, match="Cannot register"):
            store.register_model("gb", outside, run_id=None, schema={}, task="binary",
                                 metrics={})  # fmt: skip
        assert store.list_models() == []
    with Store.from_settings(Settings(home=home, trust=True)) as trusting:
        trusting.register_model("gb", outside, run_id=None, schema={}, task="binary", metrics={})
    with (
        Store.from_settings(Settings(home=home)) as store,
        pytest.raises(UntrustedModelError, match="GradientBoostingClassifier"),
    ):
        store.load_model("gb")
    with Store.from_settings(Settings(home=home, trust=True)) as trusting:
        assert type(trusting.load_model("gb")[1]) is GradientBoostingClassifier


def test_allow_list_names_exact_classes_never_modules_or_functions() -> None:
    import importlib

    for name in TRUSTED_TYPES:
        module, _, attr = name.rpartition(".")
        obj = getattr(importlib.import_module(module), attr, None)
        if obj is None and module.startswith("modelloop.models._torch"):
            continue
        assert isinstance(obj, type), f"{name} is not a class"


def test_every_modelloop_estimator_class_is_trusted() -> None:
    """A new estimator or transformer in modelloop (anything with ``fit``) must join
    TRUSTED_TYPES, or no model holding it can be registered."""
    from sklearn.base import BaseEstimator

    import modelloop.features
    import modelloop.models

    missing = []
    for package in (modelloop.models, modelloop.features):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            module = __import__(info.name, fromlist=["_"])
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if (
                    cls.__module__ == info.name
                    and (issubclass(cls, BaseEstimator) or hasattr(cls, "fit"))
                    and not cls.__name__.startswith("_")
                    and f"{cls.__module__}.{cls.__qualname__}" not in TRUSTED_TYPES
                ):
                    missing.append(f"{cls.__module__}.{cls.__qualname__}")
    assert missing == [], f"add to modelloop.store._trust.TRUSTED_TYPES: {missing}"


def _table(task: str, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "flag": rng.choice(["yes", "no"], n),
            "plan": rng.choice(["a", "b", "c"], n),
            "city": [f"c{i}" for i in rng.integers(0, 40, n)],
            "when": pd.date_range("2021-01-01", periods=n, freq="D").astype(str),
            "note": [" ".join(rng.choice(["good", "slow", "price", "fast", "app"], 5))
                     for _ in range(n)],
        }
    )  # fmt: skip
    frame.loc[::9, "num"] = np.nan
    frame.loc[::11, "plan"] = None
    if task == "binary":
        frame["y"] = rng.choice(["no", "yes"], n)
    elif task == "multiclass":
        frame["y"] = rng.choice(["x", "y", "z"], n)
    else:
        frame["y"] = np.exp(rng.normal(size=n))
    return frame


_SMALL = {"n_estimators": 5, "iterations": 5, "cv": 2, "n_alphas": 5}
# mlp_torch is registered and loaded through the store in tests/models/test_torch.py; a
# multiclass model holds what a binary one does, plus the multinomial loss and link.
_SKIP = {
    "binary": {"mlp_torch"},
    "multiclass": {"mlp_torch", "svm", "knn", "decision_tree", "extra_trees", "catboost"},
    "regression": {"mlp_torch"},
}


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_model_modelloop_makes_loads_without_trust(task: str, tmp_path: Path) -> None:
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.frozen import FrozenEstimator

    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline
    from modelloop.models import (
        FoldBag,
        LogTargetRegressor,
        TemperatureScaled,
        catalog,
        with_threshold,
    )

    frame = _table(task)
    schema = infer_schema(frame, target="y")
    X = frame.drop(columns="y")
    y = frame["y"] if task == "regression" else pd.factorize(frame["y"], sort=True)[0]
    fitted = {}
    for spec in catalog(task):
        if spec.name in _SKIP[task] or spec.family == "finetune":
            continue  # the image network needs an image column (tests/features/test_image.py)
        estimator = spec.make(task, seed=0, n_jobs=1)
        params = estimator.get_params()
        estimator.set_params(**{k: v for k, v in _SMALL.items() if k in params})
        if spec.name == "hist_gradient_boosting":
            estimator.set_params(max_iter=5)
        if task == "regression" and spec.name == "ridge":
            estimator = LogTargetRegressor(estimator)
        elif task == "binary" and spec.name == "logistic_regression":
            estimator = with_threshold(TemperatureScaled(estimator, 1.5), 0.4)
        fitted[spec.name] = make_pipeline(schema, spec.family, estimator, task=task).fit(X, y)
    members = [(n, fitted[n]) for n in ("lightgbm", "random_forest")]
    vote = (
        VotingRegressor(members)
        if task == "regression"
        else VotingClassifier(members, voting="soft")
    )
    bundle = {"pipelines": fitted, "ensemble": vote.fit(X, y),
              "bag": FoldBag([FrozenEstimator(fitted["lightgbm"]), FrozenEstimator(fitted["xgboost"])]).fit(X, y),
              "schema": schema.to_dict()}  # fmt: skip
    with Store(f"sqlite:///{tmp_path}/m.db", tmp_path / "artifacts") as store:
        store.register_model("all", bundle, run_id=None, schema={}, task=task, metrics={})
        _, loaded = store.load_model("all")  # no trust: every type is on the allow list
    for name, pipeline in fitted.items():
        np.testing.assert_allclose(
            np.asarray(loaded["pipelines"][name].predict(X.head(3)), dtype=float),
            np.asarray(pipeline.predict(X.head(3)), dtype=float),
            err_msg=name,
        )


@pytest.mark.parametrize("task", ["clustering", "reduce", "anomaly"])
def test_every_unsupervised_model_loads_without_trust(task: str, tmp_path: Path) -> None:
    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline
    from modelloop.models import unsupervised_catalog

    frame = _table("binary").drop(columns=["y", "note", "city"])
    schema = infer_schema(frame)
    fitted = {
        spec.name: make_pipeline(schema, "linear", spec.make(task, seed=0, n_jobs=1)).fit(frame)
        for spec in unsupervised_catalog(task)
    }
    data = sio.dumps(fitted)
    assert untrusted_types(data=data) == []
    assert set(load_skops(data, what="unsupervised")) == set(fitted)


def test_model_files_saved_with_the_earlier_wrappers_load_and_predict_as_before() -> None:
    """A file written before thresholds were scikit-learn's ``FixedThresholdClassifier``
    and before ``FoldBag.fit`` took data (DecisionThreshold around TemperatureScaled, bags
    of a classifier and of a regressor, a log target) loads without trust and predicts
    exactly what it predicted when it was saved."""
    import json

    from sklearn.model_selection import FixedThresholdClassifier

    from modelloop.models import FoldBag, decision_threshold

    data_dir = Path(__file__).parent / "data"
    data = (data_dir / "legacy_wrappers.skops").read_bytes()
    expected = json.loads((data_dir / "legacy_wrappers.json").read_text())
    assert untrusted_types(data=data) == []
    models = load_skops(data, what="legacy")
    X = np.asarray(expected["X"])
    for name, model in models.items():
        np.testing.assert_array_equal(model.predict(X), expected[name]["predict"], err_msg=name)
        if "predict_proba" in expected[name]:
            np.testing.assert_allclose(model.predict_proba(X), expected[name]["predict_proba"])
    assert isinstance(models["threshold"], FixedThresholdClassifier)
    assert decision_threshold(models["threshold"]) == 0.4
    assert isinstance(models["bag"], FoldBag) and decision_threshold(models["bag"]) == 0.45
    assert models["bag"].classes_.tolist() == ["no", "yes"]
