"""``modelloop serve`` before it listens: a port in use, a store whose files are missing."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelloop.cli import main


def _store_with_two_models(home: Path) -> Any:
    from sklearn.linear_model import LogisticRegression

    from modelloop.config import Settings
    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline
    from modelloop.store import Store

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=40), "y": [0, 1] * 20})
    schema = infer_schema(frame, target="y")
    store = Store.from_settings(Settings(home=home))
    for name in ("alpha", "beta"):
        pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
        pipeline.fit(frame[["x"]], frame["y"])
        bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary",
                  "target": "y", "classes": [0, 1]}  # fmt: skip
        store.register_model(name, bundle, run_id=None, schema=schema.to_dict(), task="binary",
                             metrics={}, aliases=["production"])  # fmt: skip
    return store


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """uvicorn.run replaced: the app it would serve is kept, and nothing listens."""
    import uvicorn

    apps: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: apps.append(app))
    return apps


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_with_a_deleted_model_file_serves_the_rest(
    tmp_path: Path, started: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from fastapi.testclient import TestClient

    home = tmp_path / "home"
    with _store_with_two_models(home) as store:
        store.artifact_path(store.get_model_version("beta", 1)).unlink()
    code = main(
        ["serve", "--home", str(home), "--port", str(_free_port()), "--no-log", "--workers", "1"]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "'beta' version 1" in warnings[0] and "missing" in warnings[0]
    (app,) = started
    with TestClient(app) as client:
        health = client.get("/health").json()
        assert health["status"] == "degraded" and health["models"] == ["alpha"]
        ok = client.post("/v1/models/alpha/predict", json={"instances": [{"x": 0.3}]})
        assert ok.status_code == 200


def test_serve_with_every_model_file_deleted_is_one_line_and_exit_2(
    tmp_path: Path, started: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    with _store_with_two_models(home) as store:
        for name in ("alpha", "beta"):
            store.artifact_path(store.get_model_version(name, 1)).unlink()
    code = main(["serve", "--home", str(home), "--port", str(_free_port()), "--workers", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: No model can be served") and "\n" not in err, err
    assert started == []


def test_serve_on_a_port_in_use_is_one_line_before_anything_else(
    tmp_path: Path, started: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--home", str(tmp_path / "h"), "--port", str(port), "--workers", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == err.splitlines()[0] and f"Cannot listen on 127.0.0.1:{port}" in err
    assert "serving on" not in err and started == []
