"""End to end: `modelloop serve --workers 2` spreads connections over both workers, sums
their metrics, and flushes their prediction logs on shutdown."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import httpx
import pytest

from modelloop.config import Settings
from modelloop.store import Store


def _requests_total(text: str) -> float:
    pattern = r'^modelloop_requests_total\{[^}]*model="titanic"[^}]*\} ([0-9.e+]+)$'
    return sum(float(v) for v in re.findall(pattern, text, flags=re.MULTILINE))


def _listeners(port: int) -> int:
    """Listening TCP sockets on ``port`` (each SO_REUSEPORT socket is its own line)."""
    text = Path("/proc/net/tcp").read_text()
    return sum(
        1
        for line in text.splitlines()[1:]
        if int(line.split()[1].split(":")[1], 16) == port and line.split()[3] == "0A"
    )


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing")
def test_serve_workers_spread_connections_sum_metrics_and_flush_logs(
    home: Path, passenger, serve_process
) -> None:
    psutil = pytest.importorskip("psutil")
    with serve_process(home, "--workers", "2", start_timeout=120, start_new_session=True) as served:
        base = served.base
        port = int(base.rsplit(":", 1)[1])
        deadline = time.monotonic() + 120
        while _listeners(port) < 2:  # each worker listens on its own socket once it has started
            assert time.monotonic() < deadline, "the second worker did not start"
            time.sleep(0.2)
        workers = psutil.Process(served.proc.pid).children()
        clients = [httpx.Client(base_url=base) for _ in range(40)]
        try:
            ids = []
            for client in clients:  # 40 connections, held open: the kernel spreads them
                r = client.post("/v1/models/titanic/predict", json={"instances": [passenger]})
                assert r.status_code == 200
                ids.extend(r.json()["request_ids"])
            per_worker = []
            for w in workers:  # the workers, not multiprocessing's resource tracker
                conns = w.net_connections(kind="tcp")
                if any(c.status == "LISTEN" and c.laddr.port == port for c in conns):
                    per_worker.append(
                        sum(c.status == "ESTABLISHED" and c.laddr.port == port for c in conns)
                    )
        finally:
            for client in clients:
                client.close()
        assert len(per_worker) == 2 and sum(per_worker) == 40 and min(per_worker) >= 8, per_worker
        totals = {_requests_total(httpx.get(f"{base}/metrics").text) for _ in range(6)}
        assert totals == {40.0}
    assert served.output.count("worker") >= 2, served.output
    with Store.from_settings(Settings(home=home)) as store:
        logged = {p.request_id for p in store.get_predictions("titanic")}
    assert set(ids) <= logged  # both workers flushed their logs on the way out
    # ... through the supervisor's spool, which it emptied and removed
    spools = home / "spool" / "predictions"
    assert not any(p.is_file() for p in spools.rglob("*")), list(spools.rglob("*"))
