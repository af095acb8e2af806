"""Fixtures of the store tests: one suite, run against every available backend.

SQLite always runs. PostgreSQL runs when ``MODELLOOP_TEST_POSTGRES_URL`` names a database
the tests may wipe (for example ``postgresql+psycopg://postgres@localhost/modelloop_test``);
its tables are dropped before each test, so never point it at a database you care about.
Without it each PostgreSQL case is skipped, visibly, with the reason; in CI (``CI=true``)
it fails (see the ``postgres_url`` fixture in tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from modelloop.store import Store


def _wipe(url: str) -> None:
    """Drop every table of the database, whatever migration created it."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            metadata = sa.MetaData()
            metadata.reflect(conn)
            metadata.drop_all(conn)
    finally:
        engine.dispose()


# Backends the suite runs against: both, always (a missing PostgreSQL skips, or fails in CI).
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'db' / 'modelloop.db').as_posix()}"
    url = request.getfixturevalue("postgres_url")
    _wipe(url)
    return url


@pytest.fixture
def artifacts_dir(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def store(store_url: str, artifacts_dir: Path) -> Iterator[Store]:
    with Store(store_url, artifacts_dir) as opened:
        yield opened


@pytest.fixture(scope="session")
def xy() -> tuple[np.ndarray, np.ndarray]:
    """A small binary classification problem."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] > 0).astype(int)
    return X, y


@pytest.fixture(scope="session")
def pipeline(xy):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = xy
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)


@pytest.fixture
def register(store: Store):
    """register_model with the keyword arguments a test does not care about filled in."""

    def _register(name: str, model: object, **kwargs):
        defaults = {"run_id": None, "schema": {"columns": []}, "task": "binary", "metrics": {}}
        return store.register_model(name, model, **{**defaults, **kwargs})

    return _register
