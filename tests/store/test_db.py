"""Opening a store: new schemas are created, older ones refused until upgraded, bad URLs named."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from modelloop.exceptions import InvalidInputError, StoreError
from modelloop.store import Store
from modelloop.store._db import alembic_config, now


def _downgrade(store: Store, revision: str) -> None:
    config = alembic_config()
    with store._write_engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_store_open_refuses_older_schema_until_upgraded(
    store_url: str, artifacts_dir: Path
) -> None:
    with Store(store_url, artifacts_dir) as store:
        run = store.create_run(
            name="r", dataset_hash=None, target=None, task=None, metric=None, params={}
        )
        _downgrade(store, "0005")
    with pytest.raises(StoreError, match=r"revision '0005'.*needs '0008'.*modelloop store upgrade"):
        Store(store_url, artifacts_dir)
    assert Store.upgrade_schema(store_url) == ("0005", "0008")
    with Store(store_url, artifacts_dir) as store:
        assert store.get_run(run.id).id == run.id  # nothing lost by the migration


def test_store_open_refuses_schema_of_a_newer_modelloop(
    store_url: str, artifacts_dir: Path
) -> None:
    with Store(store_url, artifacts_dir) as store, store._write_engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match=r"'9999'.*newer modelloop\. Upgrade modelloop"):
        Store(store_url, artifacts_dir)


def test_store_upgrade_schema_is_idempotent(store_url: str, artifacts_dir: Path) -> None:
    Store(store_url, artifacts_dir).close()
    assert Store.upgrade_schema(store_url) == ("0008", "0008")


def test_store_unreachable_postgresql_is_one_clear_line(tmp_path: Path) -> None:
    url = "postgresql+psycopg://someone:secret@127.0.0.1:1/nowhere"
    with pytest.raises(
        StoreError, match=r"Cannot connect to the store database at .*:\*\*\*@"
    ) as info:
        Store(url, tmp_path / "a")
    assert "secret" not in str(info.value)
    assert "\n" not in str(info.value)


def test_store_wrong_postgresql_password_is_named(tmp_path: Path, postgres_url: str) -> None:
    url = sa.make_url(postgres_url).set(password="wrong-password")
    with pytest.raises(StoreError, match=r"Cannot connect.*password authentication failed"):
        Store(url.render_as_string(hide_password=False), tmp_path / "a")


def test_store_retention_prunes_old_predictions(store_url: str, artifacts_dir: Path) -> None:
    old = now() - timedelta(days=10)
    entry = {"model_name": "m", "model_version": 1, "inputs": {"x": 1}}
    with Store(store_url, artifacts_dir, prediction_retention_days=7) as store:
        store.log_predictions([{**entry, "request_id": "old", "created_at": old}] * 3)
        store._last_prune = 0.0  # the next log call prunes (at most once a minute)
        store.log_predictions([{**entry, "request_id": "new"}])
        assert [p.request_id for p in store.get_predictions("m")] == ["new"]
        assert store.apply_retention(0.5) == 0
        with pytest.raises(InvalidInputError, match="Retention must be a number of days > 0"):
            store.apply_retention(-1)
