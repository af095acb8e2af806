"""ONNX export: every part converts, and onnxruntime answers what the model answers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelloop.exceptions import ExportError
from modelloop.export import FORMATS, export_model, onnx_convertible, onnx_inputs
from modelloop.models import model_output

from .conftest import fit_pipeline, register

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxmltools")

RTOL = ATOL = 1e-5


def run_onnx(path: Path, schema: Any, rows: pd.DataFrame) -> list[Any]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, onnx_inputs(rows, schema))


def assert_parity(path: Path, model: Any, task: str, schema: Any, rows: pd.DataFrame) -> None:
    """Labels equal and probabilities / values within 1e-5 (relative, or absolute near 0)."""
    got = run_onnx(path, schema, rows)
    want = model_output(task, model, rows)
    if task == "regression":
        np.testing.assert_allclose(
            np.asarray(got[0]).ravel(), want["prediction"], rtol=RTOL, atol=ATOL
        )
        return
    # Labels equal, but for rows where the model's own probabilities tie (within 1e-5):
    # single precision may label those either way.
    from modelloop.export._onnx_export import tied_rows
    from modelloop.models import decision_threshold

    proba = want.filter(like="proba_").to_numpy()
    ties = tied_rows(proba, decision_threshold(model))
    assert ties.mean() < 0.05
    same = np.array([str(a) == str(b) for a, b in zip(got[0], want["prediction"], strict=True)])
    assert (same | ties).all(), f"{int((~(same | ties)).sum())} labels differ"
    np.testing.assert_allclose(got[1], want.filter(like="proba_").to_numpy(), rtol=RTOL, atol=ATOL)


def _estimator(name: str, task: str) -> Any:
    from modelloop.models import get_spec

    spec = get_spec(name, task)
    est = spec.make(task, seed=0, n_jobs=1)
    if name in ("random_forest", "extra_trees"):
        est.set_params(n_estimators=20)
    if name in ("lightgbm", "xgboost"):
        est.set_params(n_estimators=60)
    if name == "hist_gradient_boosting":
        est.set_params(max_iter=40)
    return est, spec.family


def _with_codes(frame: pd.DataFrame) -> pd.DataFrame:
    """A high-cardinality categorical column (40 levels: target encoded) and missing cells."""
    out = frame.copy()
    out["code"] = [f"k{i % 40}" for i in range(len(out))]
    out.loc[out.index[::17], "code"] = None
    return out


@pytest.mark.parametrize(
    "name",
    ["logistic_regression", "lightgbm", "xgboost", "hist_gradient_boosting", "random_forest"],
)
def test_onnx_export_binary_matches_model(store, titanic, tmp_path, name) -> None:
    frame = _with_codes(titanic)
    est, family = _estimator(name, "binary")
    model, schema = fit_pipeline(frame, "Survived", "binary", est, family)
    register(store, "titanic", model, schema, "binary", frame)
    result = export_model(store, "titanic", "onnx", tmp_path / "out")
    assert result.files == ["MANIFEST.sha256", "inputs.json", "model.onnx"]
    assert any("labels equal" in note for note in result.notes)
    rows = frame.drop(columns=["Survived"])
    assert_parity(result.path / "model.onnx", model, "binary", schema, rows)


@pytest.mark.parametrize("name", ["logistic_regression", "lightgbm"])
def test_onnx_export_multiclass_answers_the_class_labels(store, titanic, tmp_path, name) -> None:
    frame = _with_codes(titanic)
    est, family = _estimator(name, "multiclass")
    model, schema = fit_pipeline(frame, "Pclass", "multiclass", est, family)
    register(store, "pclass", model, schema, "multiclass", frame)
    result = export_model(store, "pclass", "onnx", tmp_path / "out")
    rows = frame.drop(columns=["Pclass"])
    assert_parity(result.path / "model.onnx", model, "multiclass", schema, rows)
    labels = run_onnx(result.path / "model.onnx", schema, rows)[0]
    assert set(labels.tolist()) <= {1, 2, 3}  # the classes, not their indices
    info = json.loads((result.path / "inputs.json").read_text())
    assert info["classes"] == [1, 2, 3]
    assert {i["name"]: i["type"] for i in info["inputs"]}["Sex"] == "string"


def test_onnx_export_regression_with_log_target(store, titanic, tmp_path) -> None:
    from sklearn.linear_model import Ridge

    from modelloop.models import LogTargetRegressor

    frame = _with_codes(titanic).dropna(subset=["Fare"])
    model, schema = fit_pipeline(frame, "Fare", "regression", LogTargetRegressor(Ridge()), "linear")
    register(store, "fare", model, schema, "regression", frame)
    result = export_model(store, "fare", "onnx", tmp_path / "out")
    assert_parity(
        result.path / "model.onnx", model, "regression", schema, frame.drop(columns=["Fare"])
    )


def test_onnx_export_keeps_temperature_and_decision_threshold(store, titanic, tmp_path) -> None:
    from modelloop.models import TemperatureScaled, with_threshold

    est, _ = _estimator("lightgbm", "binary")
    wrapped = with_threshold(TemperatureScaled(est, temperature=1.7), 0.3)
    model, schema = fit_pipeline(titanic, "Survived", "binary", wrapped, "tree")
    register(store, "titanic", model, schema, "binary", titanic)
    result = export_model(store, "titanic", "onnx", tmp_path / "out")
    rows = titanic.drop(columns=["Survived"])
    assert_parity(result.path / "model.onnx", model, "binary", schema, rows)
    labels = run_onnx(result.path / "model.onnx", schema, rows)[0]
    proba = run_onnx(result.path / "model.onnx", schema, rows)[1]
    # rows between 0.3 and 0.5 are labelled 1: the threshold, not the most probable class
    between = (proba[:, 1] >= 0.3) & (proba[:, 1] < 0.5)
    assert between.any() and (labels[between] == 1).all()


def test_onnx_export_of_ensembles_and_fold_bags(store, titanic, tmp_path) -> None:
    from sklearn.ensemble import VotingClassifier
    from sklearn.frozen import FrozenEstimator

    from modelloop.models import FoldBag

    frame = _with_codes(titanic)
    X, y = frame.drop(columns=["Survived"]), frame["Survived"]
    lin, schema = fit_pipeline(
        frame, "Survived", "binary", *_estimator("logistic_regression", "binary")
    )
    boost, _ = fit_pipeline(frame, "Survived", "binary", *_estimator("lightgbm", "binary"))
    voting = VotingClassifier([("a", lin), ("b", boost)], voting="soft", weights=[0.3, 0.7])
    voting.fit(X, y)
    register(store, "voting", voting, schema, "binary", frame)
    result = export_model(store, "voting", "onnx", tmp_path / "voting")
    assert_parity(result.path / "model.onnx", voting, "binary", schema, X)

    bag = FoldBag(
        [FrozenEstimator(lin), FrozenEstimator(boost)],
        weights=[1.0, 2.0],
        temperatures=[1.5, None],
        threshold=0.4,
    ).fit(X, y)
    register(store, "bag", bag, schema, "binary", frame)
    result = export_model(store, "bag", "onnx", tmp_path / "bag")
    assert_parity(result.path / "model.onnx", bag, "binary", schema, X)


def test_onnx_export_is_recorded_with_its_manifest(store, titanic, tmp_path) -> None:
    model, schema = fit_pipeline(titanic, "Survived", "binary", *_estimator("lightgbm", "binary"))
    record = register(store, "titanic", model, schema, "binary", titanic)
    result = export_model(store, "titanic@production", "onnx", tmp_path / "out")
    manifest = (result.path / "MANIFEST.sha256").read_bytes()
    assert hashlib.sha256(manifest).hexdigest() == result.sha256
    for line in manifest.decode().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((result.path / name).read_bytes()).hexdigest() == digest
    (saved,) = store.list_exports("titanic")
    assert (saved.format, saved.version, saved.sha256) == ("onnx", record.version, result.sha256)
    assert saved.path == str(result.path) and saved.modelloop_version


def test_onnx_export_names_the_step_that_does_not_convert(store, tmp_path) -> None:
    from modelloop.workflows import demo_data_path

    frame = pd.read_csv(demo_data_path()).drop(columns=["PassengerId"])
    model, schema = fit_pipeline(frame, "Survived", "binary", *_estimator("lightgbm", "binary"))
    register(store, "titanic", model, schema, "binary", frame)
    with pytest.raises(ExportError, match=r"Column 'Name' \(text\) does not convert to ONNX"):
        export_model(store, "titanic", "onnx", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["home"]  # no half-written folder
    assert store.list_exports("titanic") == []


def test_onnx_export_names_a_model_without_converter(store, titanic, tmp_path) -> None:
    est, family = _estimator("catboost", "binary")
    est.set_params(iterations=20)
    model, schema = fit_pipeline(titanic, "Survived", "binary", est, family)
    register(store, "titanic", model, schema, "binary", titanic)
    with pytest.raises(ExportError, match=r"step 'model' \(CatBoost\w*Classifier\) does not convert"):
        export_model(store, "titanic", "onnx", tmp_path / "out")
    assert not onnx_convertible("catboost") and onnx_convertible("lightgbm")
    model, schema = fit_pipeline(titanic, "Survived", "binary", *_estimator("knn", "binary"))
    register(store, "knn", model, schema, "binary", titanic)
    with pytest.raises(ExportError, match="KNeighborsClassifier with distance weights"):
        export_model(store, "knn", "onnx", tmp_path / "out")


def test_export_refuses_unknown_formats_and_full_folders(store, titanic, tmp_path) -> None:
    model, schema = fit_pipeline(titanic, "Survived", "binary", *_estimator("lightgbm", "binary"))
    register(store, "titanic", model, schema, "binary", titanic)
    with pytest.raises(
        ExportError, match="Unknown export format 'pmml'; valid formats: " + ", ".join(FORMATS)
    ):
        export_model(store, "titanic", "pmml", tmp_path / "out")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match=r"exists and is not empty.*--force"):
        export_model(store, "titanic", "onnx", full)
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    export_model(store, "titanic", "onnx", full, force=True)
    assert sorted(p.name for p in full.iterdir()) == [
        "MANIFEST.sha256",
        "inputs.json",
        "model.onnx",
    ]
