"""The prediction log: batched inserts, reads by model and time window, retention pruning.

The server appends rows off its hot path (see ``modelloop.serving``); monitoring reads them
back and fills ``label`` when the truth arrives. Functions here take a connection, so the
:class:`~modelloop.store.Store` methods that call them decide the transaction; except
:func:`prune_in_batches`, which opens one short write transaction per batch so that pruning
millions of rows never holds the database's write lock for long.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from modelloop.exceptions import InvalidInputError
from modelloop.store._db import jsonable, now
from modelloop.store._tables import predictions

__all__ = [
    "PRUNE_BATCH_SIZE",
    "PredictionRecord",
    "insert_predictions",
    "prune_in_batches",
    "prune_predictions",
    "select_predictions",
]

_REQUIRED = ("request_id", "model_name", "model_version", "inputs")
PRUNE_BATCH_SIZE = 10_000
# Between two batches on SQLite: a writer waiting on the busy timeout polls every 25-100 ms,
# so a pause this long lets it in (measured: its longest wait fell from 0.8 s to 0.09 s while
# 300,000 rows went). PostgreSQL needs none: deleting old rows does not block inserts.
_PRUNE_PAUSE_SECONDS = 0.03


@dataclass(frozen=True)
class PredictionRecord:
    """One logged prediction: a single row's inputs and outputs, and which model made it."""

    id: int
    request_id: str
    model_name: str
    model_version: int
    created_at: datetime
    latency_ms: float | None
    inputs: dict[str, Any]
    prediction: Any
    probabilities: dict[str, float] | None
    label: Any = None
    labeled_at: datetime | None = None


class _JSONText(sa.types.TypeDecorator[Any]):
    """A JSON column's bind type for values the caller has already serialised.

    The column stays ``JSON`` (PostgreSQL still sees a ``::JSON`` cast); only the
    per-row ``json.dumps`` in SQLAlchemy's bind processing is skipped.
    """

    impl = sa.JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


def _json_text(value: Any, field: str) -> str | None:
    """``value`` as JSON text: orjson for plain data, :func:`jsonable` for the rest.

    orjson writes NaN and infinities as ``null``, numpy scalars and arrays as numbers
    and lists, and tuples as lists, as :func:`jsonable` does; anything it refuses (a
    pandas value, a key that is not a string) goes through :func:`jsonable`, which
    converts it or raises ``InvalidInputError``.
    """
    if value is None:
        return None
    try:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except TypeError:
        return orjson.dumps(jsonable(value, field), option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _row(entry: Mapping[str, Any]) -> dict[str, Any]:
    lacking = [k for k in _REQUIRED if k not in entry]
    if lacking:
        raise InvalidInputError(
            f"A prediction log entry needs {', '.join(_REQUIRED)}. It lacks {', '.join(lacking)}."
        )
    latency = entry.get("latency_ms")
    inputs = entry["inputs"]
    return {
        "request_id": str(entry["request_id"]),
        "model_name": str(entry["model_name"]),
        "model_version": int(entry["model_version"]),
        "created_at": entry.get("created_at") or now(),
        "latency_ms": None if latency is None else float(latency),
        "j_inputs": _json_text(inputs if type(inputs) is dict else dict(inputs), "inputs"),
        "j_prediction": _json_text(entry.get("prediction"), "prediction"),
        "j_probabilities": _json_text(entry.get("probabilities"), "probabilities"),
    }


# The server writes thousands of rows a second from a thread that shares the GIL with
# request handling: the JSON columns are serialised once, by orjson (about 1 µs a value
# against 10-25 µs for ``jsonable`` plus SQLAlchemy's ``json.dumps``).
_INSERT = predictions.insert().values(
    inputs=sa.bindparam("j_inputs", type_=_JSONText(none_as_null=True)),
    prediction=sa.bindparam("j_prediction", type_=_JSONText(none_as_null=True)),
    probabilities=sa.bindparam("j_probabilities", type_=_JSONText(none_as_null=True)),
)


def insert_predictions(conn: sa.Connection, entries: Iterable[Mapping[str, Any]]) -> int:
    """Insert many log entries in one statement; returns how many."""
    rows = [_row(e) for e in entries]
    if rows:
        conn.execute(_INSERT, rows)
    return len(rows)


def select_predictions(
    conn: sa.Connection,
    *,
    model_name: str | None = None,
    model_version: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    request_id: str | None = None,
    limit: int | None = None,
) -> list[PredictionRecord]:
    """Logged predictions, oldest first, filtered by model, time window ``[since, until)``."""
    query = sa.select(predictions).order_by(predictions.c.created_at, predictions.c.id)
    if model_name is not None:
        query = query.where(predictions.c.model_name == model_name)
    if model_version is not None:
        query = query.where(predictions.c.model_version == model_version)
    if since is not None:
        query = query.where(predictions.c.created_at >= since)
    if until is not None:
        query = query.where(predictions.c.created_at < until)
    if request_id is not None:
        query = query.where(predictions.c.request_id == request_id)
    if limit is not None:
        if limit < 0:
            raise InvalidInputError(f"limit must be >= 0. Got {limit}.")
        query = query.limit(limit)
    return [_record(row) for row in conn.execute(query)]


def prune_predictions(conn: sa.Connection, *, before: datetime, limit: int | None = None) -> int:
    """Delete entries created before ``before`` (at most ``limit`` of them); returns how many.

    With a ``limit`` the rows go by id, found through the ``created_at`` index, in one
    statement that PostgreSQL and SQLite both accept (``DELETE ... WHERE id IN (SELECT id
    ... LIMIT n)``).
    """
    old = predictions.c.created_at < before
    if limit is None:
        statement = predictions.delete().where(old)
    else:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"'limit' must be an integer >= 1. Got {limit!r}.")
        ids = sa.select(predictions.c.id).where(old).limit(limit).scalar_subquery()
        statement = predictions.delete().where(predictions.c.id.in_(ids))
    return int(conn.execute(statement).rowcount or 0)


def prune_in_batches(
    begin: Callable[[], AbstractContextManager[sa.Connection]],
    *,
    before: datetime,
    batch_size: int = PRUNE_BATCH_SIZE,
) -> int:
    """Delete entries created before ``before``, ``batch_size`` rows per transaction.

    ``begin()`` opens one write transaction (``StoreEngine.write``). Each batch commits before
    the next starts, so concurrent writers (the server logging predictions, a training
    job) wait at most one batch instead of the whole prune; rows already deleted stay
    deleted if a later batch fails. Returns how many rows were deleted in all.

    Examples
    --------
    >>> import sqlalchemy as sa
    >>> from datetime import UTC, datetime
    >>> from modelloop.store._tables import metadata
    >>> engine = sa.create_engine("sqlite://")
    >>> metadata.create_all(engine)
    >>> with engine.begin() as conn:
    ...     insert_predictions(conn, [{"request_id": f"r{i}", "model_name": "m",
    ...         "model_version": 1, "inputs": {}, "created_at": datetime(2025, 1, 1, tzinfo=UTC)}
    ...         for i in range(5)])
    5
    >>> prune_in_batches(engine.begin, before=datetime(2026, 1, 1, tzinfo=UTC), batch_size=2)
    5
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"'batch_size' must be an integer >= 1. Got {batch_size!r}.")
    total = 0
    while True:
        with begin() as conn:
            deleted = prune_predictions(conn, before=before, limit=batch_size)
            sqlite = conn.dialect.name == "sqlite"
        total += deleted
        if deleted < batch_size:
            return total
        if sqlite:
            time.sleep(_PRUNE_PAUSE_SECONDS)


def _record(row: sa.Row[Any]) -> PredictionRecord:
    return PredictionRecord(
        id=int(row.id),
        request_id=row.request_id,
        model_name=row.model_name,
        model_version=int(row.model_version),
        created_at=row.created_at,
        latency_ms=row.latency_ms,
        inputs=row.inputs,
        prediction=row.prediction,
        probabilities=row.probabilities,
        label=row.label,
        labeled_at=row.labeled_at,
    )
