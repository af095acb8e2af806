"""Search trials of a run: written once when the search ends, read by ``runs show``.

Functions here take a connection, so the :class:`~modelloop.store.Store` methods that call
them decide the transaction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from modelloop.exceptions import InvalidInputError
from modelloop.store._db import jsonable, now
from modelloop.store._tables import trials

__all__ = ["TrialRecord", "insert_trials", "select_trials"]

_STATUSES = ("ok", "pruned", "failed", "skipped", "excluded")


@dataclass(frozen=True)
class TrialRecord:
    """One evaluated configuration: what it was, how it scored per fold, how it ended."""

    run_id: str
    number: int
    name: str
    stage: str
    model: str
    params: dict[str, Any]
    fold_scores: list[float]
    score: float | None
    fit_time: float | None
    duration: float | None
    status: str
    reason: str
    latency_ms: float | None
    rows_per_s: float | None
    created_at: datetime


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def insert_trials(conn: sa.Connection, run_id: str, entries: Iterable[Mapping[str, Any]]) -> int:
    """Insert the trials of run ``run_id``; returns how many were written."""
    rows = []
    created = now()
    for i, entry in enumerate(entries, start=1):
        status = str(entry.get("status", ""))
        if status not in _STATUSES:
            raise InvalidInputError(
                f"A trial's status must be one of {', '.join(_STATUSES)}. Got {status!r}."
            )
        rows.append(
            {
                "run_id": run_id,
                "number": int(entry.get("number") or i),
                "name": str(entry.get("name") or entry.get("model") or "")[:256],
                "stage": str(entry.get("stage") or "")[:32],
                "model": str(entry.get("model") or "")[:64],
                "params": jsonable(dict(entry.get("params") or {}), "params"),
                "fold_scores": [_number(s) for s in entry.get("fold_scores") or ()],
                "score": _number(entry.get("score")),
                "fit_time": _number(entry.get("fit_time")),
                "duration": _number(entry.get("duration")),
                "status": status,
                "reason": str(entry.get("reason") or ""),
                "latency_ms": _number(entry.get("latency_ms")),
                "rows_per_s": _number(entry.get("rows_per_s")),
                "created_at": created,
            }
        )
    if rows:
        conn.execute(trials.insert(), rows)
    return len(rows)


def select_trials(conn: sa.Connection, run_id: str) -> list[TrialRecord]:
    """The trials of run ``run_id`` (a full id), in the order they ran."""
    query = sa.select(trials).where(trials.c.run_id == run_id).order_by(trials.c.number)
    return [
        TrialRecord(
            run_id=row.run_id,
            number=int(row.number),
            name=row.name,
            stage=row.stage,
            model=row.model,
            params=dict(row.params or {}),
            fold_scores=list(row.fold_scores or []),
            score=row.score,
            fit_time=row.fit_time,
            duration=row.duration,
            status=row.status,
            reason=row.reason,
            latency_ms=row.latency_ms,
            rows_per_s=row.rows_per_s,
            created_at=row.created_at,
        )
        for row in conn.execute(query)
    ]
