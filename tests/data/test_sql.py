"""Incremental SQL reads against SQLite."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime

import pytest

from modelloop.data import decode_watermark, encode_watermark, read_sql_since, watermark_of
from modelloop.exceptions import InvalidInputError


@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "shop.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE orders (id INTEGER, amount REAL, updated_at TEXT)")
    con.executemany(
        "INSERT INTO orders VALUES (?, ?, ?)",
        [
            (1, 9.5, "2024-01-01 10:00:00"),
            (2, 3.0, "2024-01-02 10:00:00"),
            (3, 1.0, "2024-01-03 09:00:00"),
        ],
    )
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def test_read_sql_since_reads_rows_past_the_watermark(shop) -> None:
    frame, desc, name = read_sql_since(shop, table="orders", query=None, since_column="updated_at")
    assert desc.endswith("table orders")
    assert frame["id"].tolist() == [1, 2, 3] and name == "orders"
    mark = watermark_of(frame, "updated_at")
    later, _, _ = read_sql_since(
        shop, table="orders", query=None, since_column="updated_at", after="2024-01-01 10:00:00"
    )
    assert later["id"].tolist() == [2, 3] and mark == "2024-01-03 09:00:00"


def test_read_sql_since_wraps_a_query(shop) -> None:
    frame, _, name = read_sql_since(
        shop,
        table=None,
        query="SELECT id, updated_at FROM orders WHERE amount > 2",
        since_column="id",
        after=1,
    )
    assert frame["id"].tolist() == [2] and name == "query"


def test_read_sql_since_unknown_column_and_table(shop) -> None:
    with pytest.raises(InvalidInputError, match="since_column 'changed' is not a column"):
        read_sql_since(shop, table="orders", query=None, since_column="changed")
    with pytest.raises(InvalidInputError, match="has no table 'nope'"):
        read_sql_since(shop, table="nope", query=None, since_column="id")


@pytest.mark.parametrize("value", [5, 2.5, "x", datetime(2024, 1, 2, 3, 4, 5), date(2024, 1, 2)])
def test_watermark_round_trips(value) -> None:
    assert decode_watermark(encode_watermark(value)) == value
