"""``modelloop ui``: the dashboard alone."""

from __future__ import annotations

from typing import Any

import pytest


def test_ui_serves_the_dashboard_of_the_store(cli, tmp_path, monkeypatch) -> None:
    import uvicorn
    from fastapi.testclient import TestClient

    started: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app, **kw))
    result = cli("ui", "--home", tmp_path / "home", "--port", "8123")
    assert result.code == 0, result.err
    assert "http://127.0.0.1:8123/ui" in result.err
    assert started["port"] == 8123
    with TestClient(started["app"]) as client:
        answer = client.get("/ui/models")
        assert answer.status_code == 200
        assert "No models are registered yet" in answer.text
        assert client.get("/v1/models").status_code == 404  # no prediction routes


def test_ui_with_a_bad_store_url_fails_before_listening(cli, monkeypatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: pytest.fail("must not listen"))
    result = cli("ui", "--store", "nosuchdb://x")
    assert result.code == 2
    assert "error:" in result.err
