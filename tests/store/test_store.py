"""Datasets and runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from modelloop.exceptions import InvalidInputError, NotFoundError, RunNotFoundError, StoreError
from modelloop.store import RunRecord, Store


def _run(store: Store, name: str = "exp", **kwargs) -> RunRecord:
    values = {
        "dataset_hash": None,
        "target": "y",
        "task": "binary",
        "metric": "roc_auc",
        "params": {"time_budget": 60},
    }
    return store.create_run(name=name, **{**values, **kwargs})


def test_record_dataset_is_idempotent_on_hash(store: Store) -> None:
    first = store.record_dataset(
        hash="a" * 64,
        name="iris",
        source="iris.csv",
        n_rows=150,
        n_cols=5,
        schema={"columns": [{"name": "x"}]},
    )
    again = store.record_dataset(
        hash="a" * 64, name="other", source="other.csv", n_rows=1, n_cols=1, schema={}
    )
    assert again == first
    assert again.name == "iris"
    assert store.get_dataset("a" * 64) == first


def test_get_dataset_unknown_hash(store: Store) -> None:
    with pytest.raises(NotFoundError, match="No dataset with hash 'nope'"):
        store.get_dataset("nope")


def test_record_dataset_rejects_non_json_schema(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="'schema' must hold JSON data"):
        store.record_dataset(
            hash="b", name="d", source="s", n_rows=1, n_cols=1, schema={"x": object()}
        )


def test_run_lifecycle(store: Store) -> None:
    run = _run(store)
    assert run.status == "running"
    assert len(run.id) == 32
    assert run.finished_at is None
    done = store.finish_run(
        run.id,
        status="finished",
        cv_metrics={"roc_auc": np.float64(0.9), "n": np.int64(5), "bad": float("nan")},
        test_metrics={"roc_auc": 0.88},
        leaderboard=[{"model": "lgbm", "score": 0.9}, {"model": "lr", "score": 0.8}],
        best_model="lgbm",
        timings={"total": 1.5},
        library_versions={"sklearn": "1.9"},
    )
    assert done.status == "finished"
    assert done.cv_metrics == {"roc_auc": 0.9, "n": 5, "bad": None}
    assert done.leaderboard[0]["model"] == "lgbm"
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert store.get_run(run.id) == done


def test_run_records_are_frozen_copies(store: Store) -> None:
    run = _run(store)
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.status = "finished"  # type: ignore[misc]
    run.params["time_budget"] = 1
    assert store.get_run(run.id).params == {"time_budget": 60}


def test_finish_run_failed_with_error(store: Store) -> None:
    run = _run(store)
    failed = store.finish_run(run.id, status="failed", error="TrainingError: nothing fitted")
    assert failed.status == "failed"
    assert failed.error == "TrainingError: nothing fitted"


def test_finish_run_only_once(store: Store) -> None:
    run = _run(store)
    store.finish_run(run.id, status="finished")
    with pytest.raises(StoreError, match="already 'finished'"):
        store.finish_run(run.id, status="failed")


def test_finish_run_rejects_bad_status(store: Store) -> None:
    run = _run(store)
    with pytest.raises(InvalidInputError, match=r"'finished' or 'failed'\. Got 'done'"):
        store.finish_run(run.id, status="done")


def test_get_run_by_unique_prefix(store: Store) -> None:
    run = _run(store)
    assert store.get_run(run.id[:6]) == run
    assert store.get_run(run.id[:4].upper()) == run


def test_get_run_ambiguous_prefix_lists_candidates(store: Store, monkeypatch) -> None:
    ids = iter(["abcd1111" + "0" * 24, "abcd2222" + "0" * 24])

    class FakeUUID:
        def __init__(self) -> None:
            self.hex = next(ids)

    monkeypatch.setattr("modelloop.store._runs.uuid.uuid4", FakeUUID)
    _run(store, "first")
    _run(store, "second")
    with pytest.raises(
        InvalidInputError, match=r"ambiguous: it matches abcd2222 \(second, .*\), abcd1111 \(first"
    ):
        store.get_run("abcd")
    assert store.get_run("abcd2").name == "second"


def test_get_run_not_found_shows_recent(store: Store) -> None:
    with pytest.raises(RunNotFoundError, match="The store has no runs yet"):
        store.get_run("deadbeef")
    run = _run(store, "exp1")
    with pytest.raises(RunNotFoundError, match=rf"No run .*'ffff'.*{run.id[:8]} \(exp1\)"):
        store.get_run("ffff" if not run.id.startswith("ffff") else "eeee")


def test_get_run_prefix_too_short(store: Store) -> None:
    _run(store)
    with pytest.raises(InvalidInputError, match=r"at least 4 characters\. Got 'abc'"):
        store.get_run("abc")


def test_get_run_prefix_with_wildcards_is_not_found(store: Store) -> None:
    _run(store)
    with pytest.raises(RunNotFoundError):
        store.get_run("%%%%")


def test_list_runs_newest_first_and_filters(store: Store) -> None:
    a = _run(store, "a")
    b = _run(store, "b")
    c = _run(store, "a")
    store.finish_run(c.id, status="failed")
    assert [r.id for r in store.list_runs()] == [c.id, b.id, a.id]
    assert [r.id for r in store.list_runs(name="a")] == [c.id, a.id]
    assert [r.id for r in store.list_runs(status="running")] == [b.id, a.id]
    assert [r.id for r in store.list_runs(limit=1, offset=1)] == [b.id]


def test_list_runs_rejects_bad_arguments(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="status must be one of"):
        store.list_runs(status="done")
    with pytest.raises(InvalidInputError, match="'limit' must be an integer >= 1"):
        store.list_runs(limit=0)


def test_get_runs_reads_several_in_the_order_asked(store: Store) -> None:
    a, b, c = _run(store, "a"), _run(store, "b"), _run(store, "c")
    got = store.get_runs([c.id, a.id[:6], b.id.upper()])
    assert [r.id for r in got] == [c.id, a.id, b.id]
    assert got[0] == store.get_run(c.id)
    with pytest.raises(RunNotFoundError, match="No run with id or id prefix 'ffffffff'"):
        store.get_runs([a.id, "ffffffff"])
    with pytest.raises(InvalidInputError, match="non-empty list of run ids"):
        store.get_runs(a.id)
    with pytest.raises(InvalidInputError, match="At most 100 runs"):
        store.get_runs([a.id] * 101)


def test_create_run_rejects_empty_name(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="run name must be a non-empty string"):
        _run(store, " ")
