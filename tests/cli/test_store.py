"""``modelloop store upgrade|prune`` and what other commands say about an old store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command

from modelloop.store import Store
from modelloop.store._db import alembic_config, now


def _old_store(home: Path) -> None:
    """A store whose schema is one revision behind the code."""
    with Store(f"sqlite:///{home / 'modelloop.db'}", home / "artifacts") as store:
        config = alembic_config()
        with store._write_engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0005")


def test_store_upgrade_migrates_an_old_store_and_unblocks_commands(cli, tmp_path: Path) -> None:
    home = tmp_path / "home"
    _old_store(home)
    blocked = cli("runs", "list", "--home", home)
    assert blocked.code == 2
    assert "modelloop store upgrade" in blocked.err
    done = cli("store", "upgrade", "--home", home)
    assert done.code == 0, done.err
    assert "from revision 0005 to 0008" in done.out
    assert cli("runs", "list", "--home", home).code == 0
    again = cli("store", "upgrade", "--home", home)
    assert "up to date (schema revision 0008)" in again.out


def test_store_upgrade_names_an_unreachable_database(cli, tmp_path: Path) -> None:
    url = "postgresql+psycopg://me:hunter2@127.0.0.1:1/none"
    result = cli("store", "upgrade", "--store", url, "--home", tmp_path)
    assert result.code == 2
    assert "Cannot connect to the store database" in result.err
    assert "hunter2" not in result.err


def test_store_prune_deletes_predictions_past_retention(cli, tmp_path: Path) -> None:
    home = tmp_path / "home"
    entry = {"model_name": "m", "model_version": 1, "inputs": {}}
    with Store(f"sqlite:///{home / 'modelloop.db'}", home / "artifacts") as store:
        store.log_predictions(
            [
                {**entry, "request_id": "old", "created_at": now() - timedelta(days=40)},
                {**entry, "request_id": "new"},
            ]
        )
    result = cli("store", "prune", "--older-than-days", "30", "--home", home)
    assert result.code == 0, result.err
    assert "Deleted 1 logged predictions older than 30 days" in result.out
    missing = cli("store", "prune", "--home", home)
    assert missing.code == 2
    assert "--older-than-days" in missing.err


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
@pytest.mark.parametrize("command", [("runs", "list"), ("models", "list"), ("store", "upgrade")])
def test_a_corrupt_store_file_is_one_line_naming_it(
    cli, tmp_path: Path, damage: str, command: tuple[str, ...]
) -> None:
    home = tmp_path / "home"
    db = home / "modelloop.db"
    if damage == "garbage":
        home.mkdir()
        db.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    else:  # a real store cut short, as by a full disk or an interrupted copy
        with Store(f"sqlite:///{db}", home / "artifacts") as store:
            for i in range(50):
                store.create_run(name=f"r{i}", dataset_hash=None, target="y", task="binary",
                                 metric="roc_auc", params={"i": i})  # fmt: skip
        for side in ("-wal", "-shm"):
            Path(f"{db}{side}").unlink(missing_ok=True)
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 3])
    result = cli(*command, "--home", home)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert str(db.resolve()) in lines[0] and "Restore it from a backup" in lines[0]
    assert "sqlalche.me" not in result.err
