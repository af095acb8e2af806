"""End to end: `modelloop serve --workers 2` answers from both workers and sums their metrics."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest


def _requests_total(text: str) -> float:
    pattern = r'^modelloop_requests_total\{[^}]*model="titanic"[^}]*\} ([0-9.e+]+)$'
    return sum(float(v) for v in re.findall(pattern, text, flags=re.MULTILINE))


@pytest.mark.slow
def test_serve_workers_sum_their_metrics(home: Path, passenger, serve_process) -> None:
    flags = ("--workers", "2", "--no-log")
    with serve_process(home, *flags, start_timeout=120, start_new_session=True) as served:
        base = served.base
        time.sleep(3)  # let the second worker finish loading
        n = 30
        for _ in range(n):  # new connections: the kernel spreads them over both workers
            r = httpx.post(f"{base}/v1/models/titanic/predict", json={"instances": [passenger]})
            assert r.status_code == 200
        totals = {_requests_total(httpx.get(f"{base}/metrics").text) for _ in range(6)}
        assert totals == {float(n)}
    assert served.output.count("worker") >= 2, served.output
