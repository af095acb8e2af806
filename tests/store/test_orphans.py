"""Runs whose process is gone are marked interrupted; the files it left are swept."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from modelloop.store import Store
from modelloop.store._orphans import owner_tag, writer_gone

_DIES = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from modelloop.store import Store
    from modelloop.store._artifacts import place_file, write_model_file
    from modelloop.store._snapshots import insert_snapshot, prepare_snapshot
    home = Path(sys.argv[1])
    store = Store(f"sqlite:///{home}/m.db", home / "artifacts")
    run = store.create_run(name="doomed", dataset_hash=None, target="y", task="binary",
                           metric="roc_auc", params={})
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    tmp = store.artifacts_dir / "tmp"
    write_model_file(model, tmp, what="a model being written")  # left as .partial
    # a model file moved into place, its row not committed (what register_model does)
    path, sha, _ = write_model_file(model, tmp, what="a model")
    place_file(path, store.artifacts_dir / "models" / "doomed" / path.name.replace(".partial", ""))
    prepare_snapshot(store.artifacts_dir, "doomed.reference", pd.DataFrame({"x": [1, 2]}), hash="h",
                     columns=[], source="rows")  # its row not committed either
    # a snapshot moved into place, its row not committed (what a registration does)
    pending = prepare_snapshot(store.artifacts_dir, "doomed.data", pd.DataFrame({"x": [3, 4]}), hash="h2",
                               columns=[], source="rows")
    conn = store._engine.connect()
    conn.begin()
    insert_snapshot(conn, store.artifacts_dir, pending)
    print(run.id, flush=True)
    os._exit(0)  # as if killed: nothing is finished or cleaned up
    """
)


def test_a_run_whose_process_died_is_interrupted_and_its_files_swept(
    tmp_path: Path, capsys
) -> None:
    from modelloop.cli import main

    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _DIES, str(home)], capture_output=True, text=True, check=True
    )
    run_id = done.stdout.strip()
    capsys.readouterr()
    where = ["--store", f"sqlite:///{home}/m.db", "--home", str(home)]
    assert main(["runs", "list", "--json", *where]) == 0  # finds it, says so
    assert '"status": "interrupted"' in capsys.readouterr().out
    with Store(f"sqlite:///{home}/m.db", home / "artifacts") as store:
        mine = home / "artifacts" / "tmp" / f"{owner_tag()}-live.skops.partial"
        mine.write_bytes(b"z")  # a write of a live process (this one): never swept
        untagged = home / "artifacts" / "tmp" / "old-layout.partial"
        untagged.write_bytes(b"z")  # no tag: only once older than the safety age
        interrupted, removed = store.recover()
        assert interrupted == []  # runs list marked it already
        run = store.get_run(run_id)
        assert run.status == "interrupted" and "stopped without finishing" in run.error
        assert sorted(p.suffix for p in removed) == [".parquet", ".partial", ".partial", ".skops"]
        assert all(not p.exists() for p in removed)
        left = sorted(p.name for p in (home / "artifacts").rglob("*") if p.is_file())
        assert left == sorted([mine.name, untagged.name])
        assert store.recover() == ([], [])  # nothing more to do


def test_writer_gone_reads_the_owner_tag() -> None:
    assert writer_gone(f"{owner_tag()}-x.partial") is False
    assert writer_gone("no-tag-here.partial") is None
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    host = owner_tag().split("@")[1]
    assert writer_gone(f"{pid}.1@{host}-x.partial") is True
    assert writer_gone(f"{pid}.1@00000000-x.partial") is None  # another host's file
