"""The prediction log: batched inserts, reads by model and time window, retention pruning.

The server appends rows off its hot path (see ``modelloop.serving``); monitoring reads them
back and fills ``label`` when the truth arrives. Functions here take a connection, so the
:class:`~modelloop.store.Store` methods that call them decide the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from modelloop.exceptions import InvalidInputError
from modelloop.store._db import jsonable, now
from modelloop.store._tables import predictions

__all__ = [
    "PredictionRecord",
    "insert_predictions",
    "prune_predictions",
    "select_predictions",
]

_REQUIRED = ("request_id", "model_name", "model_version", "inputs")


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


def _row(entry: Mapping[str, Any]) -> dict[str, Any]:
    lacking = [k for k in _REQUIRED if k not in entry]
    if lacking:
        raise InvalidInputError(
            f"A prediction log entry needs {', '.join(_REQUIRED)}. It lacks {', '.join(lacking)}."
        )
    created = entry.get("created_at") or now()
    return {
        "request_id": str(entry["request_id"]),
        "model_name": str(entry["model_name"]),
        "model_version": int(entry["model_version"]),
        "created_at": created,
        "latency_ms": None if entry.get("latency_ms") is None else float(entry["latency_ms"]),
        "inputs": jsonable(dict(entry["inputs"]), "inputs"),
        "prediction": jsonable(entry.get("prediction"), "prediction"),
        "probabilities": jsonable(entry.get("probabilities"), "probabilities"),
    }


def insert_predictions(conn: sa.Connection, entries: Iterable[Mapping[str, Any]]) -> int:
    """Insert many log entries in one statement; returns how many."""
    rows = [_row(e) for e in entries]
    if rows:
        conn.execute(predictions.insert(), rows)
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


def prune_predictions(conn: sa.Connection, *, before: datetime) -> int:
    """Delete entries created before ``before``; returns how many were deleted."""
    result = conn.execute(predictions.delete().where(predictions.c.created_at < before))
    return int(result.rowcount or 0)


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
