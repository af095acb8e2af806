"""Request bodies: JSON nested too deep, and the one HTTP contract of every predict route."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

DEEP = b"[" * 1100 + b"]" * 1100
DEEP_WITH_NAN = b'{"instances": [{"Age": NaN, "x": ' + b"[" * 1000 + b"]" * 1000 + b"}]}"
JSON_ROUTES = [
    "/predict",
    "/v1/models/titanic/predict",
    "/v1/models/titanic/versions/1/predict",
    "/v2/models/titanic/infer",
    "/v1/models/titanic/feedback",
]


@pytest.fixture(scope="module")
def client(trained_home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One server for the whole module (its tests change nothing in the store)."""
    from fastapi.testclient import TestClient

    from modelloop.config import Settings
    from modelloop.serving import create_app
    from modelloop.store import Store

    home = tmp_path_factory.mktemp("contract") / "home"
    shutil.copytree(trained_home, home)
    settings = Settings(home=home, serve_poll_seconds=0, serve_log_predictions=False)
    with Store.from_settings(settings) as store, TestClient(create_app(settings, store)) as c:
        yield c


@pytest.mark.parametrize("route", JSON_ROUTES)
@pytest.mark.parametrize("body", [DEEP, DEEP_WITH_NAN], ids=["deep", "deep-with-nan"])
def test_json_nested_too_deep_is_400_with_one_log_line(
    client, route: str, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    r = client.post(route, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "malformed_request"
    assert "levels deep" in r.json()["error"]["message"]
    logged = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert len(logged) == 1 and logged[0].exc_info is None
    assert "nested" in logged[0].getMessage()


PREDICT_ROUTES = [
    "/v1/models/titanic/predict",
    "/v1/models/titanic/versions/1/predict",
    "/v1/models/titanic@production/predict",
    "/v1/models/titanic/aliases/production/predict",
]


@pytest.mark.parametrize("route", [*PREDICT_ROUTES, "/predict", "/v2/models/titanic/infer",
                                   "/v1/models/titanic/feedback"])  # fmt: skip
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_not_sent_as_json_is_415_on_every_route(
    client, route: str, content_type: str | None
) -> None:
    """A web page may post text/plain or a form to any host without asking first: only a
    body declared as JSON is read."""
    headers = {"Content-Type": content_type} if content_type else {}
    r = client.post(route, content=b'{"instances": []}', headers=headers)
    assert r.status_code == 415, r.text
    assert r.json()["error"]["type"] == "unsupported_media_type"
    ok = client.post(
        route,
        content=b'{"instances": []}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code != 415


@pytest.mark.parametrize("route", [*PREDICT_ROUTES, "/predict"])
def test_a_column_the_model_does_not_know_is_refused_unless_ignored(
    client, passenger, route: str
) -> None:
    """The rule of ``modelloop predict`` (which refuses unknown columns unless
    --ignore-extra): 422 naming the column, unless ?ignore_extra=true."""
    row = {**passenger, "Nickname": "Bob"}
    body = row if route == "/predict" else {"instances": [row]}
    r = client.post(route, json=body)
    assert r.status_code == 422, r.text
    assert "'Nickname'" in r.json()["error"]["message"]
    assert "ignore_extra" in r.json()["error"]["message"]
    assert client.post(route, params={"ignore_extra": "true"}, json=body).status_code == 200
    assert client.post(route, params={"ignore_extra": "false"}, json=body).status_code == 422
    # the columns of the model's table that it does not use are not unknown
    known = {**passenger, "PassengerId": 7, "Survived": 1}
    body = known if route == "/predict" else {"instances": [known]}
    assert client.post(route, json=body).status_code == 200
    split = {"dataframe_split": {"columns": [*passenger, "Nickname"],
                                 "data": [[*passenger.values(), "Bob"]]}}  # fmt: skip
    if route != "/predict":
        assert client.post(route, json=split).status_code == 422


def test_v2_input_the_model_does_not_know_is_refused_unless_ignored(client, passenger) -> None:
    inputs = [{"name": k, "shape": [1], "datatype": "FP64" if isinstance(v, float | int)
               else "BYTES", "data": [v]} for k, v in {**passenger, "Nickname": "Bob"}.items()]  # fmt: skip
    r = client.post("/v2/models/titanic/infer", json={"inputs": inputs})
    assert r.status_code == 422 and "'Nickname'" in r.json()["error"]["message"]
    r = client.post("/v2/models/titanic/infer?ignore_extra=1", json={"inputs": inputs})
    assert r.status_code == 200, r.text


def test_cli_refuses_an_unknown_column_as_http_does(
    client, passenger, tmp_path, capsys, trained_home
) -> None:
    import pandas as pd

    from modelloop.cli import main

    rows = tmp_path / "rows.csv"
    pd.DataFrame([{**passenger, "Nickname": "Bob"}]).to_csv(rows, index=False)
    out = tmp_path / "out.csv"
    home = ["--home", str(trained_home)]
    assert main(["predict", "titanic", str(rows), "-o", str(out), *home]) == 2
    assert "'Nickname'" in capsys.readouterr().err
    assert main(["predict", "titanic", str(rows), "-o", str(out), "--ignore-extra", *home]) == 0


@pytest.mark.parametrize("route", PREDICT_ROUTES)
def test_rows_in_two_shapes_at_once_are_refused(client, passenger, route: str) -> None:
    body = {
        "instances": [passenger],
        "dataframe_split": {"columns": list(passenger), "data": [list(passenger.values())]},
    }
    r = client.post(route, json=body)
    assert r.status_code == 422
    assert "exactly one of" in r.json()["error"]["message"]
    r = client.post(route, json={"instances": [passenger], "dataframe_records": [passenger]})
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"datatype": "WHAT"}, "datatype must be one of"),
        ({"datatype": None}, "datatype must be one of"),
        ({"shape": "one"}, "shape must be a list"),
        ({"shape": [-1]}, "shape must be a list"),
        ({"name": 3}, "name must be a string"),
    ],
)
def test_v2_tensor_that_breaks_the_protocol_is_refused(
    client, passenger, change: dict, match: str
) -> None:
    inputs = [{"name": k, "shape": [1], "datatype": "BYTES", "data": [v]}
              for k, v in passenger.items()]  # fmt: skip
    inputs[0] = {**inputs[0], **change}
    r = client.post("/v2/models/titanic/infer", json={"inputs": inputs})
    assert r.status_code == 422, r.text
    assert match in r.json()["error"]["message"]
    del inputs[0]["datatype"]
    r = client.post("/v2/models/titanic/infer", json={"inputs": inputs})
    assert r.status_code == 422 and "lacks 'datatype'" in r.json()["error"]["message"]
