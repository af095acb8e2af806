"""The Open Inference Protocol (KServe V2) routes."""

from __future__ import annotations

import pytest


def test_v2_health_and_metadata(client) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    meta = client.get("/v2/models/titanic").json()
    assert meta["name"] == "titanic" and meta["versions"] == ["1"]
    assert {"name": "Sex", "datatype": "BYTES", "shape": [-1]} in meta["inputs"]
    assert client.get("/v2/models/titanic/ready").json() == {"name": "titanic", "ready": True}
    assert client.get("/v2/models/nope/ready").status_code == 404


def test_v2_infer_by_column_matches_v1(client, passenger) -> None:
    columns = client.get("/v2/models/titanic").json()["inputs"]
    inputs = [
        {
            "name": c["name"],
            "shape": [2],
            "datatype": c["datatype"],
            "data": [passenger[c["name"]]] * 2,
        }
        for c in columns
    ]
    r = client.post("/v2/models/titanic/infer", json={"id": "abc", "inputs": inputs})
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == "abc" and body["model_version"] == "1"
    predict, proba = body["outputs"]
    assert predict["shape"] == [2] and proba["shape"] == [2, 2]
    v1 = client.post("/v1/models/titanic/predict", json={"instances": [passenger]}).json()
    assert predict["data"][0] == v1["predictions"][0]
    assert proba["data"][1] == pytest.approx(v1["probabilities"][0]["1"])


def test_v2_infer_one_tensor_in_column_order(client, passenger) -> None:
    names = [c["name"] for c in client.get("/v2/models/titanic").json()["inputs"]]
    data = [passenger[n] for n in names]
    body = {"inputs": [{"name": "x", "shape": [1, len(names)], "datatype": "BYTES", "data": data}]}
    r = client.post("/v2/models/titanic/infer", json=body)
    assert r.status_code == 200
    bad = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "BYTES", "data": data[:3]}]}
    r = client.post("/v2/models/titanic/infer", json=bad)
    assert r.status_code == 422
    assert "takes [n, 7]" in r.json()["error"]["message"]


def test_v2_infer_bad_requests_are_4xx(client) -> None:
    assert client.post("/v2/models/titanic/infer", json={"inputs": []}).status_code == 422
    age = {"name": "Age", "shape": [1], "datatype": "FP64", "data": [1]}
    r = client.post("/v2/models/titanic/infer", json={"inputs": [age]})
    assert r.status_code == 422
    assert "lacks input(s)" in r.json()["error"]["message"]
    assert client.post("/v2/models/nope/infer", json={"inputs": []}).status_code == 404
