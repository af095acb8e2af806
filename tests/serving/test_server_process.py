"""End to end: `python -m modelloop serve` as a real process on a loopback port."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from modelloop.config import Settings
from modelloop.store import Store


@pytest.mark.slow
def test_serve_process_answers_and_flushes_log_on_shutdown(
    home: Path, passenger, serve_process
) -> None:
    with serve_process(home) as served:
        base = served.base
        # the seed tutorial's client code, unchanged: POST /predict {"features": [...]}
        columns = [c["name"] for c in httpx.get(f"{base}/v1/models/titanic").json()["inputs"]]
        r = httpx.post(f"{base}/predict", json={"features": [passenger[c] for c in columns]})
        assert r.status_code == 200 and r.json()["prediction"] in (0, 1)
        r = httpx.post(f"{base}/v1/models/titanic/predict", json={"instances": [passenger] * 2})
        assert r.status_code == 200 and r.json()["version"] == 1
        ids = r.json()["request_ids"]
        bad = httpx.post(
            f"{base}/v1/models/titanic/predict",
            content=b"{",
            headers={"Content-Type": "application/json"},
        )
        assert bad.status_code == 400
        assert httpx.get(f"{base}/v2/health/ready").json() == {"ready": True}
    assert "serving titanic version 1" in served.output
    with Store.from_settings(Settings(home=home)) as store:
        logged = {p.request_id for p in store.get_predictions("titanic")}
    assert set(ids) <= logged
