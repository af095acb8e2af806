"""Bring your own model: joblib (with --trust), skops and ONNX files, served without a store."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression

from modelloop.config import Settings
from modelloop.exceptions import UnsupportedSourceError, UntrustedModelError
from modelloop.serving import create_app, load_model_file

X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]] * 5)
Y = np.array([0, 1, 0, 1] * 5)


@pytest.fixture
def tutorial_model() -> LogisticRegression:
    return LogisticRegression().fit(X, Y)


def _serve(tmp_path: Path, path: Path, **extra: object) -> TestClient:
    settings = Settings(home=tmp_path / "h", serve_model_path=path, **extra)
    return TestClient(create_app(settings))


def test_joblib_model_needs_trust(tmp_path, tutorial_model) -> None:
    path = tmp_path / "model.pkl"
    joblib.dump(tutorial_model, path)
    with pytest.raises(UntrustedModelError, match="Pass --trust"):
        load_model_file(path)


def test_joblib_model_serves_the_tutorial_route(tmp_path, tutorial_model) -> None:
    path = tmp_path / "model.pkl"
    joblib.dump(tutorial_model, path)
    with _serve(tmp_path, path, trust=True) as client:
        r = client.post("/predict", json={"features": [0.95, 0.05]})
        assert r.status_code == 200
        assert r.json()["prediction"] == int(tutorial_model.predict([[0.95, 0.05]])[0])
        assert client.get("/health").json()["models"] == ["model"]
        r = client.post("/v1/models/model/predict", json={"instances": [{"f0": 0.1, "f1": 0.9}]})
        assert r.json()["predictions"] == [0]
        assert client.post("/predict", json={"features": ["a", 1]}).status_code == 422


def test_named_columns_and_schema_file(tmp_path) -> None:
    frame = pd.DataFrame({"age": X[:, 0], "income": X[:, 1]})
    model = LogisticRegression().fit(frame, Y)
    path = tmp_path / "named.joblib"
    joblib.dump(model, path)
    served = load_model_file(path, trust=True)
    assert served.features == ["age", "income"]
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"age": "numeric", "income": "numeric"}))
    served = load_model_file(path, trust=True, schema_file=schema)
    preds, probas = served.predict_rows([{"age": 0.9, "income": 0.1}])
    assert preds == [1] and probas is not None and set(probas[0]) == {"0", "1"}


def test_skops_model_loads_without_trust(tmp_path, tutorial_model) -> None:
    import skops.io as sio

    path = tmp_path / "model.skops"
    sio.dump(tutorial_model, path)
    served = load_model_file(path)
    assert served.predict_rows([{"f0": 0.95, "f1": 0.05}])[0] == [1]


def test_onnx_model_serves(tmp_path, tutorial_model) -> None:
    skl2onnx = pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    from skl2onnx.common.data_types import FloatTensorType

    onx = skl2onnx.convert_sklearn(
        tutorial_model,
        initial_types=[("input", FloatTensorType([None, 2]))],
        options={id(tutorial_model): {"zipmap": False}},
    )
    path = tmp_path / "model.onnx"
    path.write_bytes(onx.SerializeToString())
    with _serve(tmp_path, path) as client:
        r = client.post("/predict", json={"features": [0.95, 0.05]})
        assert r.status_code == 200
        expected = tutorial_model.predict_proba([[0.95, 0.05]])[0, 1]
        assert r.json()["probabilities"]["1"] == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("zipmap", [False, True])
def test_onnx_classifier_answers_its_own_labels(tmp_path, zipmap) -> None:
    skl2onnx = pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    from skl2onnx.common.data_types import FloatTensorType

    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 2))
    labels = np.array([3, 5, 8])[np.argmax(features @ rng.normal(size=(2, 3)), axis=1)]
    model = LogisticRegression().fit(features, labels)
    onx = skl2onnx.convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, 2]))],
        options={id(model): {"zipmap": zipmap}},
    )
    path = tmp_path / "model.onnx"
    path.write_bytes(onx.SerializeToString())
    with _serve(tmp_path, path) as client:
        rows = features[:12].tolist()
        r = client.post("/predict", json={"features": rows})
        assert r.status_code == 200
        assert r.json()["prediction"] == model.predict(features[:12]).tolist()  # 5, not 1
        assert set(r.json()["probabilities"][0]) == {"3", "5", "8"}


def test_exported_onnx_model_serves_with_its_inputs_file(tmp_path) -> None:
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxmltools")
    from modelloop.data import infer_schema
    from modelloop.export import convert_onnx
    from modelloop.features import make_pipeline
    from modelloop.workflows import demo_data_path

    frame = pd.read_csv(demo_data_path())[["Pclass", "Sex", "Age", "Embarked", "Survived"]]
    schema = infer_schema(frame, target="Survived")
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame.drop(columns=["Survived"]), frame["Survived"])
    path = tmp_path / "titanic.onnx"
    path.write_bytes(convert_onnx(pipeline, schema, task="binary").SerializeToString())
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"schema": schema.to_dict(), "inputs": []}))
    rows = frame.drop(columns=["Survived"]).head(20)
    records = json.loads(rows.to_json(orient="records"))
    with _serve(tmp_path, path, serve_schema_file=inputs) as client:
        r = client.post("/v1/models/titanic/predict", json={"instances": records})
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == pipeline.predict(rows).tolist()
        got = [p["1"] for p in r.json()["probabilities"]]
        np.testing.assert_allclose(got, pipeline.predict_proba(rows)[:, 1], atol=1e-5)


def test_unknown_model_file_type_is_refused(tmp_path) -> None:
    path = tmp_path / "model.txt"
    path.write_text("x")
    with pytest.raises(UnsupportedSourceError, match=r"must end in \.onnx"):
        load_model_file(path)
