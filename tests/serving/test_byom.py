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
from modelloop.exceptions import ConfigurationError, UnsupportedSourceError
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
    with pytest.raises(ConfigurationError, match="Pass --trust"):
        load_model_file(path)


def test_joblib_model_serves_the_tutorial_route(tmp_path, tutorial_model) -> None:
    path = tmp_path / "model.pkl"
    joblib.dump(tutorial_model, path)
    with _serve(tmp_path, path, serve_trust=True) as client:
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


def test_unknown_model_file_type_is_refused(tmp_path) -> None:
    path = tmp_path / "model.txt"
    path.write_text("x")
    with pytest.raises(UnsupportedSourceError, match=r"must end in \.onnx"):
        load_model_file(path)
