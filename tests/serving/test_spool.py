"""The multi-worker prediction log: workers' spool files, the supervisor's ingest."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from modelloop.config import Settings
from modelloop.serving._spool import (
    SpoolIngester,
    SpoolWriter,
    ingest,
    recover_spools,
    spool_dir,
)
from modelloop.store import Store


def _entries(n: int, start: int = 0) -> list[dict]:
    when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    return [
        {
            "request_id": f"r{i}",
            "model_name": "titanic",
            "model_version": 2,
            "created_at": when,
            "latency_ms": 0.75,
            "inputs": {"age": np.float64(22.5), "fare": None, "sex": "male"},
            "prediction": np.int64(1),
            "probabilities": {"0": np.float32(0.25), "1": 0.75},
        }
        for i in range(start, start + n)
    ]


@pytest.fixture
def store(tmp_path: Path):
    with Store.from_settings(Settings(home=tmp_path / "home")) as opened:
        yield opened


def test_spool_files_reach_the_store_unchanged_and_are_deleted(tmp_path, store) -> None:
    spool = tmp_path / "spool"
    write = SpoolWriter(spool)
    assert write(_entries(3)) == 3 and write(_entries(2, start=3)) == 2
    assert write([]) == 0
    assert len(list(spool.glob("*.jsonl"))) == 2
    assert ingest(spool, store.log_predictions) == 5
    assert list(spool.iterdir()) == []
    rows = store.get_predictions("titanic")
    assert [p.request_id for p in rows] == [f"r{i}" for i in range(5)]  # in order
    first = rows[0]
    assert first.created_at == datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert first.inputs == {"age": 22.5, "fare": None, "sex": "male"}
    assert first.prediction == 1 and first.probabilities == {"0": 0.25, "1": 0.75}
    assert first.model_version == 2 and first.latency_ms == 0.75


def test_spool_writer_drops_and_counts_beyond_max_files(tmp_path) -> None:
    dropped: list[int] = []
    write = SpoolWriter(tmp_path, max_files=2, on_drop=dropped.append)
    assert write(_entries(1)) == 1 and write(_entries(1)) == 1
    assert write(_entries(4)) == 0
    assert dropped == [4] and len(list(tmp_path.glob("*.jsonl"))) == 2


def test_ingest_keeps_a_file_for_later_when_the_store_fails(tmp_path) -> None:
    SpoolWriter(tmp_path)(_entries(2))

    def broken(entries):
        raise RuntimeError("database is locked")

    with pytest.raises(RuntimeError, match="locked"):
        ingest(tmp_path, broken)
    assert len(list(tmp_path.glob("*.jsonl"))) == 1  # back in the queue, not lost
    got: list[dict] = []
    assert ingest(tmp_path, got.extend) == 2 and [e["request_id"] for e in got] == ["r0", "r1"]


def test_ingest_sets_an_unreadable_file_aside(tmp_path) -> None:
    (tmp_path / "0001-1-1.jsonl").write_bytes(b'{"request_id": "r0"}\n{not json\n')
    SpoolWriter(tmp_path)(_entries(1))
    got: list[dict] = []
    assert ingest(tmp_path, got.extend) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["0001-1-1.bad"]


def test_ingester_thread_writes_what_arrives_and_the_rest_on_close(tmp_path, store) -> None:
    spool = tmp_path / "spool"
    ingester = SpoolIngester(spool, store.log_predictions, interval_s=0.05)
    write = SpoolWriter(spool)
    write(_entries(3))
    write(_entries(3, start=3))
    ingester.close()
    assert ingester.written == 6 and len(store.get_predictions("titanic")) == 6


def test_recover_spools_writes_what_a_dead_server_left(tmp_path, store) -> None:
    home = tmp_path / "home"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    url = "sqlite:///somewhere/store.db"
    left = spool_dir(home, url, int(dead.stdout))
    write = SpoolWriter(left)
    write(_entries(2))
    write(_entries(1, start=2))
    claimed = sorted(left.glob("*.jsonl"))[0]
    claimed.rename(claimed.with_suffix(".ingesting"))  # it died while writing this one
    (left / ".half.tmp").write_bytes(b'{"request_id": ')
    running = spool_dir(home, url)  # this process: a live server's spool is not touched
    SpoolWriter(running)(_entries(1, start=9))
    other = spool_dir(home, "postgresql+psycopg://elsewhere/db", int(dead.stdout))
    SpoolWriter(other)(_entries(1, start=7))  # another store's: not written to this one
    assert recover_spools(home, url, store.log_predictions) == 3
    assert not left.exists()
    assert len(list(running.glob("*.jsonl"))) == 1 and len(list(other.glob("*.jsonl"))) == 1
    assert sorted(p.request_id for p in store.get_predictions("titanic")) == ["r0", "r1", "r2"]
