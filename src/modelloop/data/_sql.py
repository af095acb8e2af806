"""Incremental SQL reads: only the rows whose ``since_column`` is past a watermark."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from modelloop.exceptions import InvalidInputError, UnsupportedSourceError

__all__ = ["decode_watermark", "encode_watermark", "read_sql_since", "watermark_of"]


def encode_watermark(value: Any) -> dict[str, Any] | None:
    """A JSON-safe form of a column's high-water mark (kept with the snapshot).

    Examples
    --------
    >>> encode_watermark(5), encode_watermark("2024-01-02 10:00:00")
    ({'type': 'int', 'value': 5}, {'type': 'str', 'value': '2024-01-02 10:00:00'})
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {"type": "date", "value": value.isoformat()}
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, bool | int):
        return {"type": "int", "value": int(value)}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    return {"type": "str", "value": str(value)}


def decode_watermark(encoded: dict[str, Any] | None) -> Any:
    """The Python value :func:`encode_watermark` stored (what is bound in the query)."""
    if not encoded:
        return None
    kind, value = encoded["type"], encoded["value"]
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    return {"int": int, "float": float}.get(kind, str)(value)


def watermark_of(frame: pd.DataFrame, column: str) -> Any:
    """The largest non-missing value of ``column`` (``None`` when all are missing)."""
    values = frame[column].dropna()
    return None if values.empty else values.max()


def read_sql_since(
    url: str,
    *,
    table: str | None,
    query: str | None,
    since_column: str,
    after: Any = None,
) -> tuple[pd.DataFrame, str, str]:
    """(raw frame, description, name) of the rows with ``since_column > after``.

    Values come back as the database driver gives them (no date parsing), so the watermark
    compares with the column the way the database does. ``after=None`` reads every row.

    Examples
    --------
    >>> frame, desc, name = read_sql_since("sqlite:///shop.db", table="orders", query=None,
    ...                                    since_column="updated_at", after="2024-01-01")  # doctest: +SKIP
    """
    import sqlalchemy as sa

    if (table is None) == (query is None):
        raise InvalidInputError(
            "Incremental reads need exactly one of table= (--table) or query= (--query)."
        )
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise UnsupportedSourceError(
            f"{url.split('://')[0]}:// is not a database URL modelloop can open: {exc}."
        ) from None
    shown = engine.url.render_as_string(hide_password=True)
    database = engine.url.database
    if (
        engine.url.get_backend_name() == "sqlite"
        and database not in (None, "", ":memory:")
        and not Path(str(database)).is_file()
    ):
        engine.dispose()
        raise InvalidInputError(f"{shown}: the database file {database} does not exist.")
    source = (
        sa.table(str(table)) if table is not None else sa.text(str(query)).columns().subquery("q")
    )
    stmt = sa.select(sa.text("*")).select_from(source)
    if after is not None:
        stmt = stmt.where(sa.column(since_column) > sa.bindparam("after", after))
    try:
        with engine.connect() as conn:
            if table is not None and table not in sa.inspect(conn).get_table_names():
                raise InvalidInputError(f"{shown} has no table {table!r}.")
            result = conn.execute(stmt)
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    except sa.exc.SQLAlchemyError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise InvalidInputError(f"{shown} could not be read: {reason}") from None
    finally:
        engine.dispose()
    if since_column not in frame.columns:
        raise InvalidInputError(
            f"since_column {since_column!r} is not a column of {shown} "
            f"({'table ' + str(table) if table else 'query'}). Columns: "
            f"{', '.join(map(repr, frame.columns))}."
        )
    what = f"table {table}" if table is not None else "query"
    return frame, f"{shown} {what}", table or "query"
