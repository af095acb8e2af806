"""POST /v1/models/{name}/feedback: delayed labels by request id or key, and bad input."""

from __future__ import annotations

import time
from typing import Any

import pytest


def _predict(client, row: dict[str, Any], n: int = 1, model: str = "titanic") -> list[str]:
    r = client.post(f"/v1/models/{model}/predict", json={"instances": [row] * n})
    assert r.status_code == 200
    return r.json()["request_ids"]


def _wait_logged(store, ids: list[str], model: str = "titanic") -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        logged = {p.request_id for p in store.get_predictions(model)}
        if set(ids) <= logged:
            return
        time.sleep(0.05)
    raise AssertionError("the prediction log did not write the predictions")


def test_feedback_labels_logged_predictions(client, store, passenger) -> None:
    ids = _predict(client, passenger, 2)
    _wait_logged(store, ids)
    body = {"feedback": [{"request_id": ids[0], "label": 1}, {"request_id": ids[1], "label": 0}]}
    r = client.post("/v1/models/titanic/feedback", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["accepted"], answer["labeled"], answer["unknown"]) == (2, 2, [])
    labels = {p.request_id: p.label for p in store.get_predictions("titanic")}
    assert labels[ids[0]] == 1 and labels[ids[1]] == 0


def test_feedback_right_after_predict_waits_for_the_log(client, store, passenger) -> None:
    ids = _predict(client, passenger)  # no wait: the log may not have written it yet
    r = client.post(
        "/v1/models/titanic/feedback", json={"feedback": [{"request_id": ids[0], "label": 1}]}
    )
    assert r.status_code == 200 and r.json()["labeled"] == 1


def test_feedback_reports_unknown_ids_and_rejects_bad_labels(client, store, passenger) -> None:
    ids = _predict(client, passenger)
    _wait_logged(store, ids)
    items = [
        {"request_id": ids[0], "label": 1},
        {"request_id": "not-a-request", "label": 1},
        {"request_id": ids[0], "label": "maybe"},
    ]
    r = client.post("/v1/models/titanic/feedback", json={"feedback": items})
    assert r.status_code == 200
    answer = r.json()
    assert answer["unknown"] == ["not-a-request"] and answer["labeled"] == 1
    assert answer["rejected"][0]["index"] == 2
    assert "not a class of the model" in answer["rejected"][0]["reason"]


def test_feedback_all_rejected_is_422_with_details(client, store, passenger) -> None:
    ids = _predict(client, passenger)
    _wait_logged(store, ids)
    r = client.post(
        "/v1/models/titanic/feedback", json={"feedback": [{"request_id": ids[0], "label": 3}]}
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert "No label was accepted" in error["message"] and "feedback[0]" in error["message"]
    assert error["details"]["rejected"][0]["index"] == 0
    assert store.get_predictions("titanic")[0].label is None  # nothing written


def test_feedback_regression_label_must_be_a_number(client, store) -> None:
    row = {"Pclass": 1, "Sex": "female", "Age": 30, "Embarked": "C"}
    ids = _predict(client, row, model="fares")
    _wait_logged(store, ids, model="fares")
    bad = client.post(
        "/v1/models/fares/feedback", json={"feedback": [{"request_id": ids[0], "label": "x"}]}
    )
    assert bad.status_code == 422 and "must be a number" in bad.text
    good = client.post(
        "/v1/models/fares/feedback", json={"feedback": [{"request_id": ids[0], "label": 71.3}]}
    )
    assert good.status_code == 200 and store.get_predictions("fares")[0].label == 71.3


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"not json", 400, "not valid JSON"),
        (b'{"labels": []}', 422, "must be"),
        (b'{"feedback": []}', 422, "is empty"),
        (b'{"feedback": {"request_id": "a"}}', 422, "must be"),
        (b"[1, 2]", 422, "must be"),
    ],
)
def test_feedback_bad_bodies_are_4xx(client, body: bytes, status: int, message: str) -> None:
    r = client.post(
        "/v1/models/titanic/feedback", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == status and message in r.json()["error"]["message"]


def test_feedback_too_many_items_is_413_and_unknown_model_404(client) -> None:
    many = {"feedback": [{"request_id": f"r{i}", "label": 1} for i in range(51)]}
    assert client.post("/v1/models/titanic/feedback", json=many).status_code == 413
    r = client.post(
        "/v1/models/nope/feedback", json={"feedback": [{"request_id": "a", "label": 1}]}
    )
    assert r.status_code == 404


def test_feedback_by_key_column(serve_settings, store, titanic_frame) -> None:
    """A model registered with an id column logs it, and labels may name rows by it."""
    from fastapi.testclient import TestClient
    from sklearn.linear_model import LogisticRegression

    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline
    from modelloop.serving import create_app

    frame = titanic_frame[["PassengerId", "Pclass", "Sex", "Age", "Survived"]]
    schema = infer_schema(frame, target="Survived", types={"PassengerId": "identifier"})
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame.drop(columns=["Survived"]), frame["Survived"])
    bundle = {
        "pipeline": pipeline,
        "schema": schema.to_dict(),
        "task": "binary",
        "target": "Survived",
        "classes": [0, 1],
    }
    store.register_model(
        "keyed",
        bundle,
        run_id=None,
        schema=schema.to_dict(),
        task="binary",
        metrics={},
        lineage={"id_column": "PassengerId"},
    )
    rows = [
        {"PassengerId": 9001, "Pclass": 3, "Sex": "male", "Age": 30},
        {"PassengerId": 9002, "Pclass": 1, "Sex": "female", "Age": 40},
    ]
    with TestClient(create_app(serve_settings, store)) as client:
        ids = client.post("/v1/models/keyed/predict", json={"instances": rows}).json()[
            "request_ids"
        ]
        _wait_logged(store, ids, model="keyed")
        logged = store.get_predictions("keyed")
        assert [p.inputs["PassengerId"] for p in logged] == ["9001", "9002"]
        items = [
            {"key": 9001, "label": 0},
            {"PassengerId": "9002", "label": 1},
            {"key": 1, "label": 1},
        ]
        r = client.post("/v1/models/keyed/feedback", json={"feedback": items})
    assert r.status_code == 200, r.text
    assert r.json()["labeled"] == 2 and r.json()["unknown"] == ["1"]
    assert [p.label for p in store.get_predictions("keyed")] == [0, 1]


def test_served_rows_log_the_models_weight_column(serve_settings, store, titanic_frame) -> None:
    """A model trained with sample weights logs each row's weight, for weighted monitoring."""
    from fastapi.testclient import TestClient
    from sklearn.linear_model import LogisticRegression

    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline
    from modelloop.serving import create_app

    frame = titanic_frame[["Pclass", "Sex", "Survived"]].assign(w=1.0)
    schema = infer_schema(frame, target="Survived", types={"w": "identifier"})
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame[["Pclass", "Sex"]], frame["Survived"])
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary",
              "target": "Survived", "classes": [0, 1]}  # fmt: skip
    store.register_model(
        "weighted", bundle, run_id=None, schema=schema.to_dict(), task="binary", metrics={},
        lineage={"weight": "w"},
    )  # fmt: skip
    rows = [{"Pclass": 3, "Sex": "male", "w": 2.5}, {"Pclass": 1, "Sex": "female"},
            {"Pclass": 1, "Sex": "female", "w": "heavy"}]  # fmt: skip
    with TestClient(create_app(serve_settings, store)) as client:
        r = client.post("/v1/models/weighted/predict", json={"instances": rows})
        assert r.status_code == 200, r.text
        _wait_logged(store, r.json()["request_ids"], model="weighted")
    logged = store.get_predictions("weighted")
    assert [p.inputs["w"] for p in logged] == [2.5, None, None]
