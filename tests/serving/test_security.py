"""API keys on admin and (optionally) prediction routes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from modelloop.serving import create_app


def test_admin_route_needs_the_key(client) -> None:
    r = client.post("/v1/admin/reload")
    assert r.status_code == 401
    assert "X-API-Key" in r.json()["error"]["message"]
    r = client.post("/v1/admin/reload", headers={"X-API-Key": "wrong"})
    assert r.status_code == 403
    assert r.json()["error"]["type"] == "forbidden"
    r = client.post("/v1/admin/reload", headers={"Authorization": "Bearer secret"})
    assert r.status_code == 200
    assert r.json()["models"] == ["fares", "titanic"]


def test_admin_routes_disabled_without_a_configured_key(serve_settings, store) -> None:
    settings = serve_settings.with_overrides(api_key="")
    with TestClient(create_app(settings, store)) as client:
        r = client.post("/v1/admin/reload", headers={"X-API-Key": "anything"})
        assert r.status_code == 403
        assert "MODELLOOP_API_KEY" in r.json()["error"]["message"]


def test_prediction_routes_can_require_the_key(serve_settings, store, passenger) -> None:
    settings = serve_settings.with_overrides(serve_require_key=True)
    with TestClient(create_app(settings, store)) as client:
        body = {"instances": [passenger]}
        assert client.post("/v1/models/titanic/predict", json=body).status_code == 401
        r = client.post("/v1/models/titanic/predict", json=body, headers={"X-API-Key": "bad"})
        assert r.status_code == 403
        r = client.post("/v1/models/titanic/predict", json=body, headers={"X-API-Key": "secret"})
        assert r.status_code == 200
        assert client.get("/health").status_code == 200  # health stays open
