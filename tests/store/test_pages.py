"""Paged reads for screens: run pages, latest metrics per model, prediction activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from modelloop.exceptions import InvalidInputError, RunNotFoundError
from modelloop.store import Store
from modelloop.store._tables import runs


def _bulk_runs(store: Store, n: int, start: datetime) -> None:
    rows = [
        {
            "id": f"{i:032x}",
            "name": "even" if i % 2 == 0 else "odd",
            "params": {},
            "status": "failed" if i % 5 == 0 else "finished",
            "metric": "rmse",
            "cv_metrics": {"rmse": float(i)},
            "started_at": start + timedelta(seconds=i),
        }
        for i in range(n)
    ]
    engine = sa.create_engine(store.url)
    try:
        with engine.begin() as conn:
            conn.execute(runs.insert(), rows)
    finally:
        engine.dispose()


def test_page_runs_pages_newest_first_with_the_total(store: Store) -> None:
    _bulk_runs(store, 120, datetime(2024, 1, 1, tzinfo=UTC))
    first = store.page_runs(per_page=50)
    assert (first.total, first.pages, first.has_previous, first.has_next) == (120, 3, False, True)
    assert [r.id for r in first.items[:2]] == [f"{119:032x}", f"{118:032x}"]
    last = store.page_runs(page=3, per_page=50)
    assert len(last.items) == 20 and not last.has_next
    assert last.items[-1].id == f"{0:032x}"
    assert last.items[-1].cv_score == 0.0
    beyond = store.page_runs(page=4, per_page=50)
    assert beyond.items == [] and beyond.total == 120


def test_page_runs_filters_by_name_and_status(store: Store) -> None:
    _bulk_runs(store, 100, datetime(2024, 1, 1, tzinfo=UTC))
    page = store.page_runs(name="even", status="failed", per_page=500)
    assert page.total == 10  # 0, 10, 20, ... 90
    assert {r.name for r in page.items} == {"even"}
    assert {r.status for r in page.items} == {"failed"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"page": 0}, "'page' must be an integer >= 1"),
        ({"per_page": 501}, "'per_page' must be at most 500"),
        ({"per_page": True}, "'per_page' must be an integer"),
        ({"status": "done"}, "Run status must be one of running, finished, failed"),
    ],
)
def test_page_runs_refuses_bad_arguments(store: Store, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        store.page_runs(**kwargs)


def test_page_runs_orders_by_the_started_at_index(store: Store) -> None:
    if not store.url.startswith("sqlite"):
        pytest.skip("the query plan is checked on SQLite")
    engine = sa.create_engine(store.url)
    try:
        with engine.connect() as conn:
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id FROM runs ORDER BY started_at DESC, id DESC "
                "LIMIT 50 OFFSET 100"
            ).all()
    finally:
        engine.dispose()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "ix_runs_started_at" in detail


def test_latest_version_metrics_gives_each_model_s_newest_version(
    store: Store, register, pipeline
) -> None:
    register("a", pipeline, metrics={"test": {"auc": 0.7}})
    register("a", pipeline, metrics={"test": {"auc": 0.8}})
    register("b", pipeline, metrics={"r2": 0.5})
    assert store.latest_version_metrics() == {
        "a": (2, {"test": {"auc": 0.8}}),
        "b": (1, {"r2": 0.5}),
    }


def test_prediction_activity_reads_the_latest_rows_oldest_first(store: Store) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    store.log_predictions(
        [
            {
                "request_id": f"r{i}",
                "model_name": "m" if i % 2 == 0 else "other",
                "model_version": 1,
                "inputs": {"x": i},
                "prediction": i,
                "latency_ms": float(i),
                "created_at": t0 + timedelta(seconds=i),
            }
            for i in range(20)
        ]
    )
    points = store.prediction_activity("m", limit=3)
    assert [p.prediction for p in points] == [14, 16, 18]
    since = store.prediction_activity("m", since=t0 + timedelta(seconds=15))
    assert [p.prediction for p in since] == [16, 18]
    with pytest.raises(InvalidInputError, match="'limit' must be an integer >= 1"):
        store.prediction_activity("m", limit=0)


# -- runs by metric, keyset pages, counts (Store.list_runs / count_runs) -----------------


@pytest.fixture
def scored(store: Store) -> list[str]:
    """Eight finished runs: name 'a'/'b', cv auc i/10 (test auc 1 - i/10), one without."""
    ids = []
    for i in range(8):
        run = store.create_run(
            name="a" if i % 2 else "b",
            dataset_hash=None,
            target="y",
            task="binary",
            metric="auc",
            params={"i": i},
        )
        cv = {"auc": i / 10, "note": "text", "flag": True, "x" * 65: 1.0}
        if i == 7:
            cv = {"rmse": 1.0}
        store.finish_run(
            run.id,
            status="failed" if i == 3 else "finished",
            cv_metrics=cv,
            test_metrics={"auc": 1 - i / 10},
        )
        ids.append(run.id)
    return ids


def _params(records) -> list[int]:
    return [r.params["i"] for r in records]


def test_list_runs_filters_and_sorts_by_metric(store: Store, scored: list[str]) -> None:
    best = store.list_runs(metric_filter=("auc", ">", 0.25), sort_metric="auc")
    assert _params(best) == [6, 5, 4, 3]
    assert _params(store.list_runs(sort_metric="auc", ascending=True, limit=2)) == [0, 1]
    assert _params(store.list_runs(sort_metric="auc", name="a", status="finished")) == [5, 1]
    newest = store.list_runs(metric_filter=("auc", "<=", 0.2))  # time order: newest first
    assert [r.id for r in newest] == [scored[2], scored[1], scored[0]]
    test_best = store.list_runs(sort_metric="auc", metric_scope="test", limit=2)
    assert _params(test_best) == [0, 1]
    assert _params(store.list_runs(metric_filter=("rmse", "=", 1))) == [7]
    assert store.list_runs(sort_metric="note") == []  # only numbers are indexed
    assert store.list_runs(sort_metric="x" * 65) == []  # and names that fit the column


def test_list_runs_filter_and_sort_on_different_metrics(store: Store, scored: list[str]) -> None:
    store.finish_run(
        store.create_run(
            name="c", dataset_hash=None, target=None, task=None, metric=None, params={"i": 8}
        ).id,
        status="finished",
        cv_metrics={"auc": 0.05, "rmse": 3.0},
    )
    assert _params(store.list_runs(metric_filter=("auc", "<", 0.1), sort_metric="rmse")) == [8]


@pytest.mark.parametrize(
    ("order", "reverse"),
    [({}, False), ({"ascending": True}, True), ({"sort_metric": "auc"}, False)],
)
def test_list_runs_after_walks_the_same_order_page_by_page(
    store: Store, scored: list[str], order: dict, reverse: bool
) -> None:
    whole = [r.id for r in store.list_runs(**order)]
    walked: list[str] = []
    page = store.list_runs(limit=3, **order)
    while page:
        walked += [r.id for r in page]
        page = store.list_runs(limit=3, after=page[-1].id[:12], **order)
    assert walked == whole
    if "sort_metric" not in order:
        assert whole == (scored[::-1] if not reverse else scored)


def test_list_runs_after_needs_a_run_on_the_page_order(store: Store, scored: list[str]) -> None:
    with pytest.raises(InvalidInputError, match="has no cv metric 'auc'"):
        store.list_runs(sort_metric="auc", after=scored[7])
    with pytest.raises(RunNotFoundError):
        store.list_runs(after="ffffffff")


def test_count_runs_counts_what_list_runs_lists(store: Store, scored: list[str]) -> None:
    assert store.count_runs() == 8
    assert store.count_runs(name="a") == 4
    assert store.count_runs(status="failed", metric_filter=("auc", ">=", 0.3)) == 1
    assert store.count_runs(metric_filter=("auc", "!=", 0.5)) == 6
    assert store.count_runs(metric_filter=("auc", "==", 0.5), metric_scope="test") == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric_filter": ("auc", "~", 1)}, "operator of 'metric_filter' must be one of"),
        ({"metric_filter": ("auc", ">")}, r"must be \(metric, operator, number\)"),
        ({"metric_filter": ("auc", ">", "high")}, "must be a finite number. Got 'high'"),
        ({"metric_filter": ("auc", ">", float("nan"))}, "must be a finite number"),
        ({"metric_filter": ("", ">", 1)}, "must be a name"),
        ({"sort_metric": ""}, "'sort_metric' must be a metric name"),
        ({"metric_scope": "train"}, "'metric_scope' must be one of cv, test"),
        ({"status": "done"}, "Run status must be one of"),
    ],
)
def test_list_runs_refuses_bad_metric_arguments(store: Store, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        store.list_runs(**kwargs)
    if "sort_metric" not in kwargs:
        with pytest.raises(InvalidInputError, match=message):
            store.count_runs(**kwargs)


def _plan(store: Store, call) -> str:
    """SQLite's query plan of the last statement ``call`` runs."""
    seen: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    sa.event.listen(store._engine, "before_cursor_execute", keep)
    try:
        call()
    finally:
        sa.event.remove(store._engine, "before_cursor_execute", keep)
    statement, parameters = seen[-1]
    with store._engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    return " ".join(str(row[-1]) for row in rows)


def test_metric_order_and_newest_predictions_read_their_indexes(store: Store) -> None:
    if not store.url.startswith("sqlite"):
        pytest.skip("the query plan is checked on SQLite")
    plan = _plan(store, lambda: store.list_runs(metric_filter=("auc", ">", 0.5), sort_metric="auc"))
    assert "ix_run_metrics_scope_key_value_run_id" in plan and "TEMP B-TREE" not in plan
    plan = _plan(store, lambda: store.prediction_activity("m", limit=100))
    assert "ix_predictions_model_name_created_at_id" in plan and "TEMP B-TREE" not in plan
