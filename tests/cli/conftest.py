"""Helpers to run the CLI in-process and inspect the store it wrote."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelloop.cli import main


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """Run ``modelloop ARGS`` in this process; returns exit code, stdout and stderr."""

    def run(*args: str) -> CliResult:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def snapshot():
    """``snapshot(home)``: the store's table row counts and artifact files, for comparison."""
    return store_snapshot


def store_snapshot(home: Path) -> dict[str, object]:
    """Row counts of the store's tables and its artifact files: equal snapshots, same store."""
    db = home / "modelloop.db"
    if not db.exists():
        return {
            "db": None,
            "files": sorted(p.name for p in home.rglob("*") if p.is_file())
            if home.exists()
            else [],
        }
    con = sqlite3.connect(db)
    try:
        counts = {
            t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    finally:
        con.close()
    files = sorted(str(p.relative_to(home)) for p in (home / "artifacts").rglob("*") if p.is_file())
    return {"db": counts, "files": files}
