"""ingest(): snapshots from files, SQLite and PostgreSQL (incremental), rules, data: sources in train."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
import sqlalchemy as sa

from modelloop.exceptions import RuleViolationError, SnapshotNotFoundError
from modelloop.store import Store
from modelloop.workflows import ingest, load_source, read_data_ref, train


@pytest.fixture
def store(settings):
    with Store.from_settings(settings) as st:
        yield st


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "customers.csv"
    rows = [
        {
            "id": i,
            "age": 20 + i % 40,
            "plan": ["basic", "pro"][i % 2],
            "churn": ["no", "yes"][(i // 3) % 2],
        }
        for i in range(120)
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


_SHOP_BACKENDS = ["sqlite", "postgresql"]  # PostgreSQL: skipped without it, failed in CI


@pytest.fixture(params=_SHOP_BACKENDS)
def shop(request, tmp_path):
    """A source database with a ``customers`` table: SQLite always, PostgreSQL when configured.

    On PostgreSQL ``updated_at`` is a real ``timestamp`` column, so the watermark is
    compared as a timestamp, not as text.
    """
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
        stamp = sa.Text()
    else:
        url = request.getfixturevalue("postgres_url")
        stamp = sa.DateTime()
    engine = sa.create_engine(url)
    table = sa.Table(
        "customers",
        sa.MetaData(),
        sa.Column("id", sa.Integer),
        sa.Column("spend", sa.Float),
        sa.Column("updated_at", stamp),
    )
    convert = (lambda v: v) if request.param == "sqlite" else pd.Timestamp
    with engine.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)

    def execute(statement) -> None:
        with engine.begin() as conn:
            conn.execute(statement)

    execute(
        table.insert().values(
            [
                {"id": 1, "spend": 10.0, "updated_at": convert("2024-01-01")},
                {"id": 2, "spend": 20.0, "updated_at": convert("2024-01-02")},
            ]
        )
    )
    yield SimpleNamespace(url=url, table=table, convert=convert, execute=execute)
    with engine.begin() as conn:
        table.drop(conn, checkfirst=True)
    engine.dispose()


def _files(store: Store) -> list[str]:
    return sorted(p.name for p in (store.artifacts_dir / "snapshots").rglob("*") if p.is_file())


def test_ingest_file_creates_versioned_snapshot(csv, store) -> None:
    result = ingest(csv, name="customers", store=store)
    snap = result.snapshot
    assert result.created and snap.ref == "customers@1" and snap.n_rows == 120
    assert snap.artifact_path.startswith(f"snapshots/customers/1-{snap.hash[:16]}-")
    assert snap.artifact_path.endswith(".parquet")
    assert [c["name"] for c in snap.columns] == ["id", "age", "plan", "churn"]
    assert snap.source.endswith("customers.csv")
    frame, record = read_data_ref("data:customers", store=store)
    assert record == snap and len(frame) == 120


def test_ingest_same_content_makes_no_new_version(csv, store) -> None:
    ingest(csv, name="customers", store=store)
    again = ingest(csv, name="customers", store=store)
    assert not again.created and again.snapshot.version == 1
    assert len(store.list_snapshots("customers")) == 1


def test_ingest_changed_content_makes_next_version(csv, store) -> None:
    ingest(csv, name="customers", store=store)
    frame = pd.read_csv(csv)
    frame.loc[0, "age"] = 99
    frame.to_csv(csv, index=False)
    second = ingest(csv, name="customers", store=store)
    assert second.created and second.snapshot.version == 2 and second.previous.version == 1
    assert store.get_snapshot("customers", 1).hash != second.snapshot.hash


def test_ingest_rules_violation_writes_nothing(csv, store) -> None:
    rules = {"columns": {"age": {"max": 30}}}
    with pytest.raises(RuleViolationError, match=r"column 'age' must be in \[-inf, 30\]"):
        ingest(csv, name="customers", rules=rules, store=store)
    assert store.list_snapshots() == [] and _files(store) == []
    assert not any((store.artifacts_dir / "tmp").iterdir())


def test_ingest_incremental_database_reads_only_new_rows(shop, store) -> None:
    options = {"table": "customers", "since_column": "updated_at", "key": "id", "store": store}
    first = ingest(shop.url, name="cust", **options)
    assert first.n_read == 2
    assert str(first.snapshot.meta["watermark"]["value"]).startswith("2024-01-02")
    t = shop.table
    shop.execute(t.insert().values(id=3, spend=30.0, updated_at=shop.convert("2024-01-03")))
    shop.execute(
        t.update().where(t.c.id == 2).values(spend=25.0, updated_at=shop.convert("2024-01-04"))
    )
    second = ingest(shop.url, name="cust", **options)
    assert second.created and second.n_read == 2 and second.snapshot.version == 2
    frame = store.read_snapshot(second.snapshot).sort_values("id")
    assert frame["id"].tolist() == [1, 2, 3] and frame["spend"].tolist() == [10.0, 25.0, 30.0]
    third = ingest(shop.url, name="cust", **options)
    assert not third.created and third.n_read == 0


def test_load_source_data_ref_and_missing_snapshot(csv, store) -> None:
    ingest(csv, name="customers", store=store)
    ds = load_source("data:customers@1", target="churn", store=store)
    assert ds.name == "customers" and ds.source.startswith("data:customers@1 (content ")
    with pytest.raises(
        SnapshotNotFoundError, match=r"Snapshot 'customers' has no version 7; versions: 1"
    ):
        load_source("data:customers@7", store=store)
    with pytest.raises(
        SnapshotNotFoundError, match=r"No snapshot named 'custmers'. Did you mean 'customers'\?"
    ):
        load_source("data:custmers", store=store)


def test_train_from_snapshot_records_lineage_and_checks_stored_rules(csv, settings, store) -> None:
    ingest(
        csv,
        name="customers",
        rules={"columns": {"plan": {"allowed": ["basic", "pro"]}}},
        store=store,
    )
    result = train(
        "data:customers@1",
        target="churn",
        models=["logistic_regression"],
        cv=2,
        max_trials=1,  # the snapshot's lineage is tested, not the budget: one quick trial
        settings=settings,
        store=store,
    )
    assert store.get_dataset(result.dataset.hash).source.startswith("data:customers@1")
    assert result.name == "customers"


def test_train_rules_refuse_bad_raw_rows_before_the_store_is_touched(csv, settings, store) -> None:
    with pytest.raises(RuleViolationError, match=r"column 'plan' must be one of 'basic'"):
        train(
            csv,
            target="churn",
            rules={"columns": {"plan": {"allowed": ["basic"]}}},
            settings=settings,
            store=store,
        )
    assert store.list_runs() == []
