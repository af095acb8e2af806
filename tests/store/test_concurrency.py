"""Concurrent writers: threads and processes share one store without losing a row.

Runs on every backend of the suite (SQLite always, PostgreSQL when configured): many
registrations of the same model name at once get distinct, gapless version numbers, and
no writer sees "database is locked".
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression

from modelloop.store import Store

_MODEL = LogisticRegression().fit([[0], [1]], [0, 1])


def _register(store: Store, name: str) -> int:
    record = store.register_model(
        name, _MODEL, run_id=None, schema={"columns": []}, task="binary", metrics={}
    )
    return record.version


def test_store_threads_registering_one_name_get_distinct_versions(store: Store) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = list(pool.map(lambda _: _register(store, "churn"), range(24)))
    assert sorted(versions) == list(range(1, 25))
    assert [v.version for v in store.list_versions("churn")] == list(range(1, 25))


def test_store_threads_writing_runs_and_predictions_lose_nothing(store: Store) -> None:
    def work(i: int) -> None:
        run = store.create_run(
            name="r", dataset_hash=None, target=None, task=None, metric=None, params={"i": i}
        )
        store.finish_run(run.id, status="finished")
        store.log_predictions(
            [
                {"request_id": f"{i}-{j}", "model_name": "m", "model_version": 1, "inputs": {}}
                for j in range(5)
            ]
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(work, range(30)))
    assert len(store.list_runs(limit=1000)) == 30
    assert len(store.get_predictions("m")) == 150


_CHILD = textwrap.dedent(
    """
    import sys
    from sklearn.linear_model import LogisticRegression
    from modelloop.store import Store

    model = LogisticRegression().fit([[0], [1]], [0, 1])
    with Store(sys.argv[1], sys.argv[2]) as store:
        for _ in range(int(sys.argv[3])):
            v = store.register_model(
                "shared", model, run_id=None, schema={"columns": []}, task="binary", metrics={}
            )
            print(v.version)
    """
)


@pytest.mark.slow  # three interpreters importing scikit-learn: ~30 s on 2 loaded cores
def test_store_processes_opening_and_registering_at_once_get_distinct_versions(
    store_url: str, artifacts_dir: Path
) -> None:
    # The store does not exist yet: the processes also race to create its schema.
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, store_url, str(artifacts_dir), "4"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    versions: list[int] = []
    for child in children:
        out, err = child.communicate(timeout=180)
        assert child.returncode == 0, err
        assert "database is locked" not in err
        versions += [int(line) for line in out.split()]
    assert sorted(versions) == list(range(1, 13))
    with Store(store_url, artifacts_dir) as store:
        records = store.list_versions("shared")
        assert len(records) == 12
        for record in records:  # every row has its file, and the file loads
            store.load_model(f"shared:{record.version}")
