"""The cloud platforms' serving contracts: SageMaker, Vertex AI and Azure ML routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from modelloop.config import Settings
from modelloop.exceptions import ConfigurationError
from modelloop.serving import create_app

ROW = {"Pclass": 3, "Sex": "male", "Age": 22.0, "SibSp": 1, "Parch": 0, "Fare": 7.25,
       "Embarked": "S", "PassengerId": 1}  # fmt: skip


@pytest.fixture
def cloud(home: Path):
    def make(**settings: Any) -> TestClient:
        s = Settings(home=home, serve_poll_seconds=0, serve_log_predictions=False,
                     serve_default_model="titanic", **settings)  # fmt: skip
        return TestClient(create_app(s))

    return make


def _features(client: TestClient) -> list[str]:
    return [i["name"] for i in client.get("/v1/models/titanic").json()["inputs"]]


def test_contracts_are_off_unless_the_platform_switches_them_on(cloud) -> None:
    with cloud() as client:
        assert client.post("/invocations", json={"instances": [ROW]}).status_code in (404, 405)
        assert client.get("/ping").status_code == 404
    with pytest.raises(ConfigurationError, match=r"serve_contracts .* takes sagemaker"):
        Settings(serve_contracts="heroku").serving_contracts()
    assert Settings(AZUREML_MODEL_DIR="/var/azureml-app").serving_contracts() == {"azure"}


def test_sagemaker_invocations_take_csv_and_json(cloud) -> None:
    with cloud(serve_contracts="sagemaker") as client:
        assert client.get("/ping").status_code == 200
        features = _features(client)
        expected = client.post("/v1/models/titanic/predict", json={"instances": [ROW, ROW]}).json()
        line = ",".join("" if ROW.get(f) is None else str(ROW[f]) for f in features)
        for body in (f"{line}\n{line}\n", ",".join(features) + f"\n{line}\n{line}"):
            r = client.post("/invocations", content=body, headers={"Content-Type": "text/csv"})
            assert r.status_code == 200, r.text
            assert r.json()["predictions"] == expected["predictions"]
            assert r.json()["probabilities"] == expected["probabilities"]
        r = client.post("/invocations", json=[ROW, ROW], headers={"Accept": "text/csv"})
        assert r.headers["content-type"].startswith("text/csv")
        assert r.text.split() == [str(p) for p in expected["predictions"]]
        r = client.post("/invocations", content="1,2\n", headers={"Content-Type": "text/csv"})
        assert r.status_code == 422 and "must have" in r.json()["error"]["message"]


def test_vertex_routes_follow_the_platform_variables(cloud) -> None:
    route = "/v1/endpoints/42/deployedModels/7:predict"
    with cloud(AIP_HEALTH_ROUTE="/healthz", AIP_PREDICT_ROUTE=route) as client:
        assert client.get("/healthz").status_code == 200
        r = client.post(route, json={"instances": [ROW], "parameters": {}})
        assert r.status_code == 200, r.text
        (pred,) = r.json()["predictions"]
        assert pred["classes"] == ["0", "1"] and pred["label"] in (0, 1)
        assert sum(pred["scores"]) == pytest.approx(1.0)
        assert client.post(route, json={"rows": [ROW]}).status_code == 422


def test_azure_score_and_liveness(cloud) -> None:
    with cloud(AZUREML_MODEL_DIR="/var/azureml-app/model") as client:
        assert client.get("/").status_code == 200
        features = _features(client)
        split = {"columns": features, "index": [0], "data": [[ROW[f] for f in features]]}
        for body in ({"input_data": split}, {"data": [ROW]}, [ROW]):
            r = client.post("/score", json=body)
            assert r.status_code == 200, r.text
            assert isinstance(r.json(), list) and r.json()[0] in (0, 1)


# `modelloop serve` as a process with each platform's variables: tests/export/test_deploy.py
# (the exported image's own command and environment).


def test_cloud_routes_refuse_an_unknown_column_as_predict_does(cloud) -> None:
    """The message says how to get past it (?ignore_extra=true), and that works here too."""
    extra = {**ROW, "referrer": "newsletter"}
    with cloud(serve_contracts="sagemaker,azure") as client:
        for route in ("/invocations", "/score"):
            refused = client.post(route, json={"instances": [extra]})
            assert refused.status_code == 422, refused.text
            assert "?ignore_extra=true" in refused.json()["error"]["message"]
            taken = client.post(f"{route}?ignore_extra=true", json={"instances": [extra]})
            assert taken.status_code == 200, taken.text
