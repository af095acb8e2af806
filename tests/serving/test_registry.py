"""Hot swap, promote and rollback; the default model of POST /predict."""

from __future__ import annotations

import threading
import time

import pytest

from modelloop.exceptions import ConfigurationError
from modelloop.serving import ModelRegistry

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
