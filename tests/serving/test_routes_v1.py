"""The v1 routes, the tutorial route, health, metrics and every kind of bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest


def _instances(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"instances": list(rows)}


def test_predict_model_answers_predictions_probabilities_and_ids(client, passenger) -> None:
    r = client.post("/v1/models/titanic/predict", json=_instances(passenger, passenger))
    assert r.status_code == 200
    body = r.json()
    assert (body["model"], body["version"]) == ("titanic", 1)
    assert len(body["predictions"]) == 2 and body["predictions"][0] in (0, 1)
    assert set(body["probabilities"][0]) == {"0", "1"}
    assert sum(body["probabilities"][0].values()) == pytest.approx(1.0)
    assert len(set(body["request_ids"])) == 2


def test_predict_matches_the_pipeline(client, store, passenger, titanic_frame) -> None:
    from modelloop.workflows import load_model

    rows = titanic_frame.drop(columns=["Survived", "Name", "Ticket", "Cabin"]).head(20)
    records = json.loads(rows.to_json(orient="records"))
    body = client.post("/v1/models/titanic/predict", json={"instances": records}).json()
    expected = load_model("titanic@production", store=store).predict_frame(rows)
    assert body["predictions"] == expected["prediction"].tolist()
    got = [p["1"] for p in body["probabilities"]]
    assert got == pytest.approx(expected["proba_1"].tolist())


def test_predict_version_alias_and_split_shapes(client, passenger) -> None:
    v2 = client.post("/v1/models/titanic/versions/2/predict", json=_instances(passenger))
    assert v2.json()["version"] == 2
    at = client.post("/v1/models/titanic@production/predict", json=_instances(passenger))
    assert at.json()["version"] == 1
    alias = client.post("/v1/models/titanic/aliases/production/predict", json=_instances(passenger))
    assert alias.json()["version"] == 1
    split = {"dataframe_split": {"columns": list(passenger), "data": [list(passenger.values())]}}
    r = client.post("/v1/models/titanic/predict", json=split)
    assert r.status_code == 200
    assert r.json()["predictions"] == at.json()["predictions"]


def test_predict_regression_has_no_probabilities(client) -> None:
    row = {"Pclass": 1, "Sex": "female", "Age": 30, "Embarked": "C"}
    body = client.post("/v1/models/fares/predict", json=_instances(row)).json()
    assert isinstance(body["predictions"][0], float)
    assert "probabilities" not in body


def test_tutorial_predict_takes_features_in_schema_order(client, store, passenger) -> None:
    from modelloop.workflows import load_model

    columns = load_model("titanic@production", store=store).schema.feature_columns()
    features = [passenger[c] for c in columns]
    r = client.post("/predict", json={"features": features})
    assert r.status_code == 200
    body = r.json()
    record = client.post("/predict", json=passenger).json()
    assert body["prediction"] == record["prediction"]
    assert body["probabilities"] == pytest.approx(record["probabilities"])
    many = client.post("/predict", json={"features": [features, features]}).json()
    assert many["prediction"] == [body["prediction"]] * 2
    # one record under "features", as the README shows it
    named = client.post("/predict", json={"features": passenger})
    assert named.status_code == 200, named.text
    assert named.json()["prediction"] == record["prediction"]
    assert named.json()["probabilities"] == pytest.approx(record["probabilities"])


def test_health_models_and_metrics(client, passenger) -> None:
    assert client.get("/health").json() == {
        "status": "ok",
        "models": ["fares", "titanic"],
        "problems": [],
    }
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert models["titanic"]["versions"] == [1, 2]
    assert models["titanic"]["aliases"] == {"production": 1}
    sex = next(c for c in models["titanic"]["inputs"] if c["name"] == "Sex")
    assert sex == {"name": "Sex", "role": "categorical", "categories": ["female", "male"]}
    client.post("/v1/models/titanic/predict", json=_instances(passenger))
    text = client.get("/metrics").text
    assert (
        'modelloop_requests_total{model="titanic",route="v1",status="200",version="1"} 1.0' in text
    )
    assert "modelloop_batch_rows_bucket" in text
    assert "modelloop_request_latency_seconds_bucket" in text


def test_openapi_documents_each_models_row_schema(client) -> None:
    doc = client.get("/openapi.json").json()
    row = doc["components"]["schemas"]["TitanicRowV1"]
    assert "Sex" in row["required"]
    assert row["properties"]["Sex"]["x-categories"] == ["female", "male"]
    assert client.get("/docs").status_code == 200
    # every model route of every model has its own request body, not only the default one
    ref = {"$ref": "#/components/schemas/TitanicRowV1"}
    for path in (
        "/v1/models/titanic/predict",
        "/v1/models/titanic/aliases/production/predict",
        "/v1/models/titanic/versions/1/predict",
    ):
        body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        instances = body["schema"]["oneOf"][0]["properties"]["instances"]
        assert instances["items"]["anyOf"][0] == ref, path
    fares = doc["paths"]["/v1/models/fares/predict"]["post"]["requestBody"]
    fares_shapes = fares["content"]["application/json"]["schema"]["oneOf"]
    fares_ref = fares_shapes[0]["properties"]["instances"]["items"]["anyOf"][0]
    assert fares_ref == {"$ref": "#/components/schemas/FaresRowV1"}
    assert "Embarked" in doc["components"]["schemas"]["FaresRowV1"]["required"]
    assert "/v2/models/fares/infer" in doc["paths"]
    tutorial = doc["paths"]["/predict"]["post"]
    assert "Pclass" in tutorial["description"]


def test_unseen_category_is_served_and_counted(client, passenger) -> None:
    row = {**passenger, "Embarked": "Atlantis"}
    r = client.post("/v1/models/titanic/predict", json=_instances(row))
    assert r.status_code == 200
    text = client.get("/metrics").text
    assert (
        'modelloop_unseen_categories_total{column="Embarked",model="titanic",version="1"} 1.0'
        in text
    )


BAD_BODIES = [
    ("malformed JSON", b'{"instances": [', 400, "not valid JSON"),
    ("nested 1,100 deep", b"[" * 1100 + b"]" * 1100, 400, "levels deep"),
    ("not an object", b"[1, 2]", 422, "must be a JSON object"),
    ("no rows key", b'{"rows": []}', 422, "must have 'instances'"),
    ("empty instances", b'{"instances": []}', 422, "is empty"),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "match"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_bad_body_is_4xx_and_server_keeps_serving(
    client, passenger, case, body, status, match
) -> None:
    r = client.post(
        "/v1/models/titanic/predict", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == status
    assert match in r.json()["error"]["message"]
    assert client.post("/v1/models/titanic/predict", json=_instances(passenger)).status_code == 200


@pytest.mark.parametrize(
    ("change", "status", "match"),
    [
        ({"drop": "Age"}, 422, "Field 'instances[0].Age': Field required"),
        ({"Age": "abc"}, 422, "instances[0].Age': Input should be a valid number"),
        ({"Fare": True}, 422, "instances[0].Fare'"),
    ],
    ids=["missing column", "abc for a number", "bool for a number"],
)
def test_bad_row_names_the_field(client, passenger, change, status, match) -> None:
    row = dict(passenger)
    if "drop" in change:
        row.pop(change["drop"])
    else:
        row.update(change)
    r = client.post("/v1/models/titanic/predict", json=_instances(row))
    assert r.status_code == status
    assert match in r.json()["error"]["message"]
    assert r.json()["error"]["details"][0]["field"].startswith("instances[0]")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_number_is_refused(client, passenger, literal) -> None:
    body = json.dumps(_instances(passenger)).replace('"Age": 22.0', f'"Age": {literal}')
    assert literal in body
    r = client.post(
        "/v1/models/titanic/predict",
        content=body.encode(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert "instances[0].Age': Input should be a finite number" in r.json()["error"]["message"]


def test_too_many_rows_is_413(client, passenger) -> None:
    r = client.post("/v1/models/titanic/predict", json=_instances(*[passenger] * 51))
    assert r.status_code == 413
    assert "at most 50" in r.json()["error"]["message"]


def test_body_too_large_is_413(client, passenger) -> None:
    row = {**passenger, "Name": "x" * 30_000}
    r = client.post("/v1/models/titanic/predict", json=_instances(row))
    assert r.status_code == 413
    assert r.json()["error"]["type"] == "payload_too_large"


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("/v1/models/nope/predict", "No model named 'nope'"),
        ("/v1/models/titanic/versions/9/predict", "has no version 9"),
        ("/v1/models/titanic@staging/predict", "has no alias 'staging'"),
        ("/v1/models/titanic/versions/two/predict", "version"),
    ],
)
def test_unknown_model_version_or_alias_is_404(client, passenger, path, match) -> None:
    r = client.post(path, json=_instances(passenger))
    assert r.status_code in (404, 422)
    assert match in r.json()["error"]["message"]


def test_unknown_route_is_json_404(client) -> None:
    r = client.get("/nowhere")
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "not_found"


def test_tutorial_bad_features_are_422(client) -> None:
    r = client.post("/predict", json={"features": [1, 2]})
    assert r.status_code == 422
    assert "must have 7 values" in r.json()["error"]["message"]
    r = client.post("/predict", json={"features": []})
    assert r.status_code == 422


def test_predict_lane_answers_an_unexpected_error_with_a_json_500(
    serve_settings, store, passenger
) -> None:
    from fastapi.testclient import TestClient

    from modelloop.serving import create_app

    app = create_app(serve_settings, store)
    with TestClient(app, raise_server_exceptions=False) as client:
        served = app.state.modelloop.registry.get("titanic")

        def broken(rows: Any) -> Any:
            raise RuntimeError("model exploded")

        served.predict_rows = broken
        served.batcher = None  # the batcher holds the old function
        for path in ("/predict", "/v1/models/titanic/predict"):
            body = passenger if path == "/predict" else _instances(passenger)
            r = client.post(path, json=body)
            assert r.status_code == 500, path
            assert r.json()["error"]["type"] == "internal_error"
        assert client.get("/health").status_code == 200


def test_predict_lane_runs_inside_middleware_added_to_the_app(
    serve_settings, store, passenger
) -> None:
    from fastapi.testclient import TestClient
    from starlette.middleware.base import BaseHTTPMiddleware

    from modelloop.serving import create_app

    app = create_app(serve_settings, store)

    async def tag(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["x-tag"] = "seen"
        return response

    app.add_middleware(BaseHTTPMiddleware, dispatch=tag)
    with TestClient(app) as client:
        ok = client.post("/predict", json=passenger)
        bad = client.post("/v1/models/nope/predict", json=_instances(passenger))
    assert ok.status_code == 200 and ok.headers["x-tag"] == "seen"
    assert bad.status_code == 404 and bad.headers["x-tag"] == "seen"
    assert "nope" in bad.json()["error"]["message"]


def test_predict_lane_leaves_other_paths_to_the_router(client, passenger) -> None:
    nested = client.post("/v1/models/titanic/x/predict", json=_instances(passenger))
    assert nested.status_code == 404 and nested.json()["error"]["type"] == "not_found"
    assert client.get("/predict").status_code == 405
