"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# One trial at a time: the suite's models are small, and a second worker process per search
# costs more start-up than it saves (the tests of parallel trials ask for two themselves).
# Set before any Settings is made; subprocesses (the CLI, servers) inherit it.
os.environ.setdefault("MODELLOOP_N_JOBS", "1")

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
DATA_DIR = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The folder of real public datasets beside the checkout (../shared/datasets)."""
    if not (SHARED_DATASETS / "MANIFEST.md").is_file():
        pytest.skip(f"real datasets not found at {SHARED_DATASETS} (../shared is absent)")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """tests/data: small files the suite always has."""
    return DATA_DIR


@pytest.fixture
def settings(tmp_path: Path):
    """Settings whose store lives in a fresh temporary folder."""
    from modelloop.config import Settings

    return Settings(home=tmp_path / "home")


HOSTILE_DIR = Path(__file__).resolve().parent / "store" / "hostile"
HOSTILE_MARKER = "HOSTILE_MARKER"


@pytest.fixture
def hostile_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh working directory holding the pickle some hostile files reach for.

    A hostile file that ran would create ``HOSTILE_MARKER`` here; tests check it never does.
    """
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "payload.pkl").write_bytes((HOSTILE_DIR / "payload.pkl").read_bytes())
    monkeypatch.chdir(cwd)
    yield cwd
    assert not (cwd / HOSTILE_MARKER).exists(), "a hostile model file ran its code"


def _in_ci() -> bool:
    import os

    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def service_missing():
    """``service_missing(reason)``: a test needs a service (PostgreSQL, Chromium) that is not
    there. In CI (``CI=true``) that fails the test, so a green run cannot hold zero runs of
    it; elsewhere the test is skipped, with the reason shown in the summary."""

    def missing(reason: str) -> None:
        if _in_ci():
            pytest.fail(f"{reason} (CI=true: a missing service is a failure, not a skip)")
        pytest.skip(reason)

    return missing


@pytest.fixture
def postgres_url(service_missing) -> str:
    """The PostgreSQL database the tests may wipe (``MODELLOOP_TEST_POSTGRES_URL``)."""
    import os

    url = os.environ.get("MODELLOOP_TEST_POSTGRES_URL", "").strip()
    if not url:
        service_missing(
            "no PostgreSQL: MODELLOOP_TEST_POSTGRES_URL is not set (make test starts one with "
            "scripts/postgres-up.sh)"
        )
    return url
