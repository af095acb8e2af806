"""Hostile model files against the server: `serve --model` refuses each with one line and
exit 2; a hostile file in the store is not served, its reason is logged once and shown in
/health, and every other model is served. No file of the corpus ever runs its code."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

HOSTILE = Path(__file__).resolve().parents[1] / "store" / "hostile"
SERVABLE = sorted(
    p.name
    for p in HOSTILE.iterdir()
    if p.suffix in (".skops", ".pkl", ".joblib", ".onnx") and p.name != "payload.pkl"
)
STORE_SHAPED = sorted(
    p.name for p in HOSTILE.glob("*.skops") if p.name.startswith(("store_", "reduce_", "dict_"))
)


@pytest.mark.parametrize("name", SERVABLE)
def test_serve_model_refuses_hostile_file(
    name: str, hostile_cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import uvicorn

    from modelloop.cli import main

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server started with a hostile model file")

    monkeypatch.setattr(uvicorn, "run", never)
    capsys.readouterr()
    code = main(["serve", "--model", str(HOSTILE / name), "--home", str(hostile_cwd / "h"),
                 "--port", str(_free_port()), "--workers", "1"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error:") and "\n" not in err, err
    assert name in err


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _plant(store, name: str, data: bytes) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    record = store.register_model(name, model, run_id=None, schema={}, task="binary", metrics={})
    (store.artifacts_dir / record.artifact_path).write_bytes(data)
    from modelloop.store._tables import model_versions

    with store._engine.begin() as conn:
        conn.execute(
            model_versions.update()
            .where(model_versions.c.name == name)
            .values(sha256=hashlib.sha256(data).hexdigest())
        )


def test_hostile_models_in_the_store_are_not_served(
    hostile_cwd: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from fastapi.testclient import TestClient
    from sklearn.linear_model import LogisticRegression

    from modelloop.config import Settings
    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline
    from modelloop.serving import create_app
    from modelloop.store import Store

    settings = Settings(home=tmp_path / "home", serve_poll_seconds=0.05)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "y": [0, 1] * 30})
    schema = infer_schema(frame, target="y")
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame[["x"]], frame["y"])
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary",
              "target": "y", "classes": [0, 1]}  # fmt: skip
    evil = [f"evil{i}" for i in range(len(STORE_SHAPED))]
    with Store.from_settings(settings) as store:
        store.register_model("good", bundle, run_id=None, schema=schema.to_dict(),
                             task="binary", metrics={})  # fmt: skip
        for model, name in zip(evil, STORE_SHAPED, strict=True):
            _plant(store, model, (HOSTILE / name).read_bytes())
        caplog.set_level(logging.INFO, logger="modelloop.serving")
        with TestClient(create_app(settings, store)) as client:
            health = client.get("/health").json()
            assert health["status"] == "degraded"
            assert health["models"] == ["good"]
            assert sorted(p["model"] for p in health["problems"]) == sorted(evil)
            assert all("does not trust" in p["reason"] for p in health["problems"])
            ready = client.get("/v2/health/ready")
            assert ready.status_code == 503 and ready.json()["ready"] is False
            for model in evil:
                r = client.post(f"/v1/models/{model}/predict", json={"instances": [{"x": 1.0}]})
                assert r.status_code == 503, r.text
                assert r.json()["error"]["type"] == "model_unavailable"
            r = client.post("/v1/models/good/predict", json={"instances": [{"x": 1.0}]})
            assert r.status_code == 200 and r.json()["version"] == 1
            import time

            time.sleep(0.3)  # several alias polls: each would try the broken files again
            page = client.get("/ui/models").text
            assert all(f'data-model="{m}"' in page for m in evil)
    refused = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR and "cannot be served" in r.getMessage()
    ]
    assert sorted(m.split("'")[1] for m in refused) == sorted(evil)  # once each, not per poll
