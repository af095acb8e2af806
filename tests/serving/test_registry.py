"""Hot swap, promote and rollback; the default model of POST /predict."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from modelloop.exceptions import ConfigurationError
from modelloop.serving import ModelRegistry, create_app

KEY = {"X-API-Key": "secret"}


def test_hot_swap_under_load_fails_no_request(client, store, passenger) -> None:
    body = {"instances": [passenger]}
    versions: list[int] = []
    failures: list[object] = []
    stop = threading.Event()

    def load() -> None:
        for _ in range(2000):  # bounded
            if stop.is_set():
                return
            r = client.post("/v1/models/titanic/predict", json=body)
            if r.status_code != 200:
                failures.append(r.text)
            else:
                versions.append(r.json()["version"])

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 10
        while len(versions) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        store.set_alias("titanic", "production", 2)  # like `modelloop models alias`
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (not versions or versions[-1] != 2):
            time.sleep(0.05)
        n_after = len(versions)
        while len(versions) < n_after + 10 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert failures == []
    assert versions[0] == 1 and versions[-1] == 2
    first_two = versions.index(2)
    assert set(versions[first_two + 10 :]) <= {2}


def test_promote_and_rollback_through_the_admin_api(client, store, passenger) -> None:
    body = {"instances": [passenger]}
    r = client.post("/v1/models/titanic/aliases/production", json={"version": 2}, headers=KEY)
    assert r.status_code == 200
    assert r.json()["changes"] == ["titanic: 1 -> 2"]
    assert client.post("/v1/models/titanic/predict", json=body).json()["version"] == 2
    assert store.get_model_version("titanic", alias="production").version == 2
    r = client.post("/v1/models/titanic/rollback", headers=KEY)
    assert r.status_code == 200
    assert (r.json()["from_version"], r.json()["version"]) == (2, 1)
    assert client.post("/v1/models/titanic/predict", json=body).json()["version"] == 1
    r = client.post("/v1/models/titanic/aliases/production", json={"version": 7}, headers=KEY)
    assert r.status_code == 404
    r = client.post("/v1/models/titanic/aliases/production", json={"version": "x"}, headers=KEY)
    assert r.status_code == 422


def test_rollback_without_earlier_version_is_422(client, store) -> None:
    store.set_alias("fares", "production", 1)
    client.post("/v1/admin/reload", headers=KEY)
    r = client.post("/v1/models/fares/rollback", headers=KEY)
    assert r.status_code == 422
    assert "no earlier version" in r.json()["error"]["message"]


def test_default_model_rules(store) -> None:
    registry = ModelRegistry(store)
    registry.load_all()
    assert registry.default_name() == "titanic"  # the only one with 'production'
    store.set_alias("fares", "production", 1)
    registry.refresh()
    with pytest.raises(ConfigurationError, match="--default-model"):
        registry.default_name()
    configured = ModelRegistry(store, default_model="fares")
    configured.load_all()
    assert configured.default_name() == "fares"


def test_limit_threads_leaves_a_fitted_catboost_model_as_it_is() -> None:
    import numpy as np
    from catboost import CatBoostClassifier
    from sklearn.pipeline import Pipeline

    from modelloop.serving._registry import limit_threads

    X = np.random.default_rng(0).random((20, 2))
    model = CatBoostClassifier(iterations=2, verbose=0, thread_count=2).fit(X, [0, 1] * 10)
    pipeline = Pipeline([("model", model)])
    limit_threads(pipeline, 1)  # CatBoost refuses set_params once fitted: no error, no change
    assert model.get_params()["thread_count"] == 2


def _corrupt(store: Any, name: str, version: int) -> Path:
    """Change a byte of a version's model file: its sha256 no longer matches the store."""
    path = store.artifact_path(store.get_model_version(name, version))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def test_a_broken_model_file_does_not_stop_the_others(
    serve_settings, store, passenger, caplog: pytest.LogCaptureFixture
) -> None:
    _corrupt(store, "fares", 1)
    caplog.set_level(logging.INFO, logger="modelloop.serving")
    with TestClient(create_app(serve_settings, store)) as client:
        health = client.get("/health").json()
        assert health["status"] == "degraded" and health["models"] == ["titanic"]
        (problem,) = health["problems"]
        assert (problem["model"], problem["version"]) == ("fares", 1)
        assert "does not match its recorded sha256" in problem["reason"]
        ready = client.get("/v2/health/ready")
        assert ready.status_code == 503 and ready.json()["problems"] == health["problems"]
        r = client.post("/v1/models/fares/predict", json={"instances": [{"Pclass": 1}]})
        assert r.status_code == 503 and r.json()["error"]["type"] == "model_unavailable"
        assert client.post("/predict", json=passenger).status_code == 200  # titanic
        time.sleep(1.0)  # five alias polls
        assert 'data-model="fares"' in client.get("/ui/models").text
        assert "sha256" in client.get("/ui/models/fares").text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "fares" in errors[0].getMessage()  # once, not every poll
    assert errors[0].exc_info is None


def test_an_alias_moved_to_a_broken_version_keeps_the_old_one_and_rollback_works(
    client, store, passenger
) -> None:
    body = {"instances": [passenger]}
    _corrupt(store, "titanic", 2)
    r = client.post("/v1/models/titanic/aliases/production", json={"version": 2}, headers=KEY)
    assert r.status_code == 200, r.text
    assert client.post("/v1/models/titanic/predict", json=body).json()["version"] == 1
    health = client.get("/health").json()
    assert health["status"] == "degraded"
    assert health["problems"][0]["serving_version"] == 1
    assert client.post("/v1/models/titanic/versions/2/predict", json=body).status_code == 503
    r = client.post("/v1/admin/reload", headers=KEY)  # answers, and says what is broken
    assert r.status_code == 200 and r.json()["problems"][0]["version"] == 2
    r = client.post("/v1/models/titanic/rollback", headers=KEY)
    assert r.status_code == 200, r.text
    assert (r.json()["from_version"], r.json()["version"]) == (2, 1)
    assert store.get_model_version("titanic", alias="production").version == 1
    assert client.get("/health").json()["status"] == "ok"


def test_a_repaired_file_is_served_after_reload(serve_settings, store) -> None:
    path = _corrupt(store, "fares", 1)
    with TestClient(create_app(serve_settings.with_overrides(serve_poll_seconds=0), store)) as c:
        assert c.post("/v1/admin/reload", headers=KEY).json()["problems"][0]["model"] == "fares"
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF  # restored, as from a backup
        path.write_bytes(bytes(data))
        r = c.post("/v1/admin/reload", headers=KEY)
        assert r.json()["problems"] == [] and "fares" in r.json()["models"]
        assert c.get("/health").json()["status"] == "ok"
