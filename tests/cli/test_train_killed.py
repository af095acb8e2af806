"""A `modelloop train` killed with kill -9: its run says interrupted, nothing is left behind."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelloop.cli import main

pytestmark = pytest.mark.slow


def test_a_killed_train_is_interrupted_and_its_files_are_swept(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    home = tmp_path / "home"
    table = data_dir / "files" / "accounts.csv"
    args = ["train", str(table), "--target", "churn", "--models", "logistic_regression",
            "--max-trials", "1", "--cv", "2", "--time-budget", "60", "--home", str(home)]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelloop", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tmp = home / "artifacts" / "tmp"
    deadline = time.monotonic() + 240
    try:  # the kill point: its run is recorded and its search under way
        while not _running(home / "modelloop.db"):
            assert proc.poll() is None, "train ended before its run was recorded"
            assert time.monotonic() < deadline, "train did not record its run"
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    # what it was writing when it died (as a registration does: a model file in a temp name)
    (tmp / f"{proc.pid}.0@{_host()}-0123.skops.partial").write_bytes(b"\0" * 50_000)

    capsys.readouterr()
    assert main(["runs", "list", "--json", "--home", str(home)]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert run["status"] == "interrupted" and "stopped without finishing" in run["error"]

    assert main(["store", "sweep", "--home", str(home)]) == 0  # train does it first, too
    assert "removed 1 orphan" in capsys.readouterr().out
    assert [p.name for p in tmp.iterdir()] == []
    assert [r.status for r in _runs(home)] == ["interrupted"]


def _running(db: Path) -> bool:
    if not db.is_file():
        return False
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return bool(conn.execute("SELECT 1 FROM runs WHERE status = 'running'").fetchall())
    except sqlite3.OperationalError:  # the schema is still being created
        return False


def _host() -> str:
    from modelloop.store._orphans import owner_tag

    return owner_tag().split("@")[1]


def _runs(home: Path) -> list:
    from modelloop.config import Settings
    from modelloop.store import Store

    with Store.from_settings(Settings(home=home)) as store:
        return store.list_runs()
