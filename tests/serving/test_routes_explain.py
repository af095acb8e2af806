"""POST /v1/models/{name}/explain and the v2 'explain' parameter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

TARGET = "Survived"


def _register(store: Any, name: str, frame: pd.DataFrame, target: str, task: str, est: Any,
              family: str, *, reference: bool = True) -> None:  # fmt: skip
    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline

    schema = infer_schema(frame, target=target)
    pipeline = make_pipeline(schema, family, est, task=task).fit(
        frame.drop(columns=[target]), frame[target]
    )
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": task, "target": target,
              "classes": pipeline.classes_.tolist()}  # fmt: skip
    store.register_model(
        name, bundle, run_id=None, schema=schema.to_dict(), task=task, metrics={"test": {}},
        aliases=("production",), reference=frame if reference else None,
    )  # fmt: skip


@pytest.fixture(scope="module")
def explain_home(tmp_path_factory: pytest.TempPathFactory, titanic_frame: pd.DataFrame) -> Path:
    """'titanic' (LightGBM), 'linear' (logistic, with its training rows), 'bare' (logistic
    without them) and 'classes' (three classes of Pclass)."""
    import lightgbm
    from sklearn.linear_model import LogisticRegression

    from modelloop.config import Settings
    from modelloop.store import Store

    home = tmp_path_factory.mktemp("explain") / "home"
    frame = titanic_frame.drop(columns=["Name", "Ticket", "Cabin", "PassengerId"])
    with Store.from_settings(Settings(home=home)) as store:
        gbm = lightgbm.LGBMClassifier(n_estimators=30, verbose=-1, n_jobs=1)
        _register(store, "titanic", frame, TARGET, "binary", gbm, "tree")
        _register(store, "linear", frame, TARGET, "binary", LogisticRegression(), "linear")
        _register(store, "bare", frame, TARGET, "binary", LogisticRegression(), "linear",
                  reference=False)  # fmt: skip
        gbm3 = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1, n_jobs=1)
        _register(store, "classes", frame, "Pclass", "multiclass", gbm3, "tree")
    return home


@pytest.fixture(scope="module")
def app_client(explain_home: Path) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from modelloop.config import Settings
    from modelloop.serving import create_app
    from modelloop.store import Store

    settings = Settings(home=explain_home, serve_poll_seconds=0)
    with Store.from_settings(settings) as store, TestClient(create_app(settings, store)) as c:
        yield c


def _rows(titanic_frame: pd.DataFrame, n: int, drop: str = TARGET) -> list[dict[str, Any]]:
    frame = titanic_frame.drop(columns=["Name", "Ticket", "Cabin", "PassengerId", drop]).head(n)
    return json.loads(frame.to_json(orient="records"))


def test_explain_route_answers_contributions_adding_up_to_the_probability(
    app_client, titanic_frame
) -> None:
    rows = _rows(titanic_frame, 4)
    rows[1]["Age"] = None  # a row with a missing value is explained like any other
    answer = app_client.post("/v1/models/titanic/explain", json={"instances": rows})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["output"] == "probability" and body["method"] == "tree_shap"
    assert "LGBMClassifier: TreeSHAP" in body["detail"]
    assert len(body["explanations"]) == 4 and len(body["request_ids"]) == 4
    for proba, e in zip(body["probabilities"], body["explanations"], strict=True):
        assert e["explained_class"] == 1
        total = e["base_value"] + sum(e["contributions"].values())
        assert abs(total - e["output_value"]) < 1e-9
        assert abs(e["output_value"] - proba["1"]) < 1e-6
        assert set(e["contributions"]) == {"Pclass", "Sex", "Age", "SibSp", "Parch", "Fare",
                                           "Embarked"}  # fmt: skip


def test_explain_route_takes_output_class_and_top(app_client, titanic_frame) -> None:
    rows = _rows(titanic_frame, 3)
    answer = app_client.post(
        "/v1/models/linear/explain?output=log-odds&class=0&top=2", json={"instances": rows}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["output"] == "log-odds" and body["method"] == "linear"
    for proba, e in zip(body["probabilities"], body["explanations"], strict=True):
        assert e["explained_class"] == 0 and len(e["contributions"]) == 2
        assert abs(1 / (1 + np.exp(-e["output_value"])) - proba["0"]) < 1e-6


def test_explain_route_refuses_with_one_line_naming_the_model(app_client, titanic_frame) -> None:
    rows = _rows(titanic_frame, 2, drop="Pclass")
    answer = app_client.post("/v1/models/classes/explain?output=log-odds", json={"instances": rows})
    assert answer.status_code == 400
    message = answer.json()["error"]["message"]
    assert message == (
        "Model 'classes:1' (multiclass) cannot be explained as log-odds: log-odds are "
        "defined for binary models. Available: probability."
    )
    bare = app_client.post("/v1/models/bare/explain", json={"instances": _rows(titanic_frame, 1)})
    assert bare.status_code == 400
    assert "Model 'bare:1' cannot be explained" in bare.json()["error"]["message"]
    assert "needs reference rows" in bare.json()["error"]["message"]
    missing = app_client.post(
        "/v1/models/titanic/explain?class=7", json={"instances": _rows(titanic_frame, 1)}
    )
    assert missing.status_code == 400
    assert "has no class '7' to explain. Classes: 0, 1." in missing.json()["error"]["message"]


def test_explain_takes_a_column_the_model_does_not_know_as_predict_does(
    app_client, titanic_frame
) -> None:
    """Refused (422 naming it) unless ?ignore_extra=true, on the explain route and on v2
    with the explain parameter, as on every predict route."""
    rows = _rows(titanic_frame, 2)
    for row in rows:
        row["referrer"] = "newsletter"
    refused = app_client.post("/v1/models/titanic/explain", json={"instances": rows})
    assert refused.status_code == 422, refused.text
    assert "'referrer'" in refused.json()["error"]["message"]
    taken = app_client.post(
        "/v1/models/titanic/explain?ignore_extra=true", json={"instances": rows}
    )
    assert taken.status_code == 200, taken.text
    assert "referrer" not in taken.json()["explanations"][0]["contributions"]
    columns = list(rows[0])
    inputs = [{"name": c, "shape": [2], "datatype": "BYTES", "data": [r[c] for r in rows]}
              for c in columns]  # fmt: skip
    body = {"inputs": inputs, "parameters": {"explain": True}}
    assert app_client.post("/v2/models/titanic/infer", json=body).status_code == 422
    v2 = app_client.post("/v2/models/titanic/infer?ignore_extra=true", json=body)
    assert v2.status_code == 200, v2.text


def test_v2_infer_explains_with_the_explain_parameter(app_client, titanic_frame) -> None:
    rows = _rows(titanic_frame, 3, drop="Pclass")
    columns = list(rows[0])
    inputs = [
        {"name": c, "shape": [3], "datatype": "BYTES", "data": [r[c] for r in rows]}
        for c in columns
    ]
    answer = app_client.post(
        "/v2/models/classes/infer", json={"inputs": inputs, "parameters": {"explain": True}}
    )
    assert answer.status_code == 200, answer.text
    outputs = {o["name"]: o for o in answer.json()["outputs"]}
    contributions = outputs["contributions"]
    assert contributions["shape"] == [3, len(columns)]
    assert contributions["parameters"]["columns"] == columns
    assert contributions["parameters"]["output"] == "probability"
    values = np.asarray(contributions["data"]).reshape(3, -1)
    totals = np.asarray(outputs["base_value"]["data"]) + values.sum(axis=1)
    np.testing.assert_allclose(totals, outputs["output_value"]["data"], atol=1e-9)
    proba = np.asarray(outputs["predict_proba"]["data"]).reshape(3, -1)
    classes = outputs["predict_proba"]["parameters"]["classes"]
    explained = outputs["explained_class"]["data"]
    picked = [proba[i, classes.index(str(c))] for i, c in enumerate(explained)]
    np.testing.assert_allclose(outputs["output_value"]["data"], picked, atol=1e-6)
    plain = app_client.post("/v2/models/classes/infer", json={"inputs": inputs})
    assert {o["name"] for o in plain.json()["outputs"]} == {"predict", "predict_proba"}
    bad = app_client.post(
        "/v2/models/classes/infer",
        json={"inputs": inputs, "parameters": {"explain": True, "explain_output": "value"}},
    )
    assert bad.status_code == 400 and "Available: probability" in bad.text


def test_openapi_documents_the_explanation_answer(app_client) -> None:
    doc = app_client.get("/openapi.json").json()
    route = doc["paths"]["/v1/models/{name}/explain"]["post"]
    schema = route["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"output", "method", "explanations"} <= set(schema["properties"])
    assert {p["name"] for p in route["parameters"]} >= {"output", "class", "top"}
    per_model = doc["paths"]["/v1/models/titanic/explain"]["post"]
    assert {p["name"] for p in per_model["parameters"]} == {"output", "class", "top"}
    infer = doc["paths"]["/v2/models/{name}/infer"]["post"]
    props = infer["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert "explain" in props["parameters"]["properties"]
    assert "contributions" in infer["responses"]["200"]["description"]
