"""End to end: `python -m modelloop serve` as a real process on a loopback port."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from modelloop.config import Settings
from modelloop.store import Store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_process_answers_and_flushes_log_on_shutdown(home: Path, passenger) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelloop", "serve", "--home", str(home), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/health", timeout=2).json().get("status") == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        # the seed tutorial's client code, unchanged: POST /predict {"features": [...]}
        columns = [c["name"] for c in httpx.get(f"{base}/v1/models/titanic").json()["inputs"]]
        r = httpx.post(f"{base}/predict", json={"features": [passenger[c] for c in columns]})
        assert r.status_code == 200 and r.json()["prediction"] in (0, 1)
        r = httpx.post(f"{base}/v1/models/titanic/predict", json={"instances": [passenger] * 2})
        assert r.status_code == 200 and r.json()["version"] == 1
        ids = r.json()["request_ids"]
        assert httpx.post(f"{base}/v1/models/titanic/predict", content=b"{").status_code == 422
        assert httpx.get(f"{base}/v2/health/ready").json() == {"ready": True}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert "serving titanic version 1" in output
    with Store.from_settings(Settings(home=home)) as store:
        logged = {p.request_id for p in store.get_predictions("titanic")}
    assert set(ids) <= logged
