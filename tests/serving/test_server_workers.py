"""End to end: `modelloop serve --workers 2` answers from both workers and sums their metrics."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _requests_total(text: str) -> float:
    pattern = r'^modelloop_requests_total\{[^}]*model="titanic"[^}]*\} ([0-9.e+]+)$'
    return sum(float(v) for v in re.findall(pattern, text, flags=re.MULTILINE))


@pytest.mark.slow
def test_serve_workers_sum_their_metrics(home: Path, passenger) -> None:
    port = _free_port()
    cmd = [sys.executable, "-m", "modelloop", "serve", "--home", str(home), "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--workers", "2", "--no-log"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/health", timeout=2).json().get("status") == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.3)
        time.sleep(3)  # let the second worker finish loading
        n = 30
        for _ in range(n):  # new connections: the kernel spreads them over both workers
            r = httpx.post(f"{base}/v1/models/titanic/predict", json={"instances": [passenger]})
            assert r.status_code == 200
        totals = {_requests_total(httpx.get(f"{base}/metrics").text) for _ in range(6)}
        assert totals == {float(n)}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert output.count("worker") >= 2, output
