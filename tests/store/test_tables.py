"""The schema: created on open, equal to the table metadata, reversible."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from modelloop.config import Settings
from modelloop.exceptions import ConfigurationError
from modelloop.store import Store
from modelloop.store._db import alembic_config
from modelloop.store._tables import metadata

TABLES = {
    "datasets",
    "runs",
    "run_metrics",
    "registered_models",
    "model_versions",
    "model_aliases",
    "predictions",
    "data_snapshots",
    "trials",
    "model_exports",
}


def test_store_open_creates_schema_and_folders(store: Store) -> None:
    names = set(sa.inspect(store._engine).get_table_names())
    assert names >= TABLES | {"alembic_version"}
    assert (store.artifacts_dir / "models").is_dir()
    assert (store.artifacts_dir / "tmp").is_dir()


def test_store_open_is_at_migration_head(store: Store) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with store._engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head == "0008"


def test_migrations_match_table_metadata(store: Store) -> None:
    with store._engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_migrations_downgrade_to_base_and_back(store: Store) -> None:
    config = alembic_config()
    with store._write_engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert not TABLES & set(sa.inspect(store._engine).get_table_names())
    with store._write_engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    assert set(sa.inspect(store._engine).get_table_names()) >= TABLES


def test_migration_0007_indexes_the_metrics_of_existing_runs(store: Store) -> None:
    run = store.create_run(
        name="r", dataset_hash=None, target=None, task=None, metric=None, params={}
    )
    store.finish_run(run.id, status="finished", cv_metrics={"auc": 0.9, "note": "x"})
    config = alembic_config()
    with store._write_engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
    assert "run_metrics" not in sa.inspect(store._engine).get_table_names()
    with store._write_engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    assert [r.id for r in store.list_runs(metric_filter=("auc", ">", 0.5))] == [run.id]
    assert store.count_runs(metric_filter=("note", ">", 0)) == 0


def test_store_reopen_keeps_data(store_url: str, artifacts_dir: Path) -> None:
    with Store(store_url, artifacts_dir) as first:
        run = first.create_run(
            name="r", dataset_hash=None, target=None, task=None, metric=None, params={}
        )
    with Store(store_url, artifacts_dir) as second:
        assert second.get_run(run.id) == run


def test_store_sqlite_pragmas(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "a") as store:
        with store._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        statements: list[str] = []
        sa.event.listen(
            store._engine, "before_cursor_execute", lambda c, cur, s, *a: statements.append(s)
        )
        with store._write_engine.begin() as conn:
            conn.exec_driver_sql("SELECT 1")
        assert statements[0] == "BEGIN IMMEDIATE"


def test_store_in_memory_sqlite_is_shared_between_threads(tmp_path: Path) -> None:
    import threading

    with Store("sqlite://", tmp_path / "a") as store:
        seen: list[int] = []
        thread = threading.Thread(target=lambda: seen.append(len(store.list_runs())))
        store.create_run(
            name="r", dataset_hash=None, target=None, task=None, metric=None, params={}
        )
        thread.start()
        thread.join()
        assert seen == [1]


def test_store_from_settings_uses_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    with Store.from_settings(settings) as store:
        assert store.url == settings.resolved_store_url()
        assert store.artifacts_dir == (tmp_path / "home" / "artifacts").absolute()
    assert (tmp_path / "home" / "modelloop.db").is_file()


def test_store_bad_url_is_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a SQLAlchemy URL"):
        Store("not a url", tmp_path / "a")


def test_store_datetimes_are_utc(store: Store) -> None:
    run = store.create_run(
        name="r", dataset_hash=None, target=None, task=None, metric=None, params={}
    )
    assert run.started_at.tzinfo is UTC
    assert store.get_run(run.id).started_at == run.started_at
