"""Paged reads for screens: run pages, latest metrics per model, prediction activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from modelloop.exceptions import InvalidInputError
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
