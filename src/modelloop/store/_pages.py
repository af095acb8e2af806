"""Paged and summarised reads for screens: the dashboard's run list, model overview, activity.

Pages read only the columns a list shows (never a run's leaderboard or parameters) and
order by indexed columns (``runs.started_at``, ``predictions(model_name, model_version,
created_at)``), so a page costs the same with 10 runs or 10,000. Functions here take a
connection; the :class:`~modelloop.store.Store` methods that call them open it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from modelloop.exceptions import InvalidInputError
from modelloop.store._tables import model_versions, predictions, runs

__all__ = [
    "MAX_PER_PAGE",
    "ActivityPoint",
    "RunPage",
    "RunSummary",
    "latest_version_metrics",
    "page_runs",
    "prediction_activity",
]

MAX_PER_PAGE = 500
_RUN_STATUSES = ("running", "finished", "failed")


@dataclass(frozen=True)
class RunSummary:
    """A run as a list shows it: no leaderboard, parameters or library versions."""

    id: str
    name: str
    status: str
    task: str | None
    metric: str | None
    best_model: str | None
    cv_metrics: dict[str, Any] | None
    test_metrics: dict[str, Any] | None
    started_at: datetime
    finished_at: datetime | None

    @property
    def short_id(self) -> str:
        """The first 8 characters of the id."""
        return self.id[:8]

    @property
    def cv_score(self) -> float | None:
        """The cross-validated score of the run's selection metric, if it finished."""
        if not self.cv_metrics or not self.metric:
            return None
        value = self.cv_metrics.get(self.metric)
        return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class RunPage:
    """One page of runs, newest first, and where it sits among all matching runs."""

    items: list[RunSummary]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the matching runs fill (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


@dataclass(frozen=True)
class ActivityPoint:
    """One logged prediction, reduced to what an activity chart needs."""

    created_at: datetime
    model_version: int
    latency_ms: float | None
    prediction: Any
    label: Any


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidInputError(f"'{name}' must be an integer >= {low}. Got {value!r}.")
    if high is not None and value > high:
        raise InvalidInputError(f"'{name}' must be at most {high}. Got {value!r}.")
    return value


def page_runs(
    conn: sa.Connection,
    *,
    page: int = 1,
    per_page: int = 50,
    name: str | None = None,
    status: str | None = None,
) -> RunPage:
    """One page of runs (newest first), with the number of runs that match.

    A page past the last one is empty (its ``total`` still says how many there are).
    """
    _check_int("page", page, 1)
    _check_int("per_page", per_page, 1, MAX_PER_PAGE)
    if status is not None and status not in _RUN_STATUSES:
        raise InvalidInputError(
            f"Run status must be one of {', '.join(_RUN_STATUSES)}. Got {status!r}."
        )
    where = []
    if name is not None:
        where.append(runs.c.name == name)
    if status is not None:
        where.append(runs.c.status == status)
    total = conn.execute(sa.select(sa.func.count()).select_from(runs).where(*where)).scalar()
    query = (
        sa.select(
            runs.c.id,
            runs.c.name,
            runs.c.status,
            runs.c.task,
            runs.c.metric,
            runs.c.best_model,
            runs.c.cv_metrics,
            runs.c.test_metrics,
            runs.c.started_at,
            runs.c.finished_at,
        )
        .where(*where)
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    items = [
        RunSummary(
            id=row.id,
            name=row.name,
            status=row.status,
            task=row.task,
            metric=row.metric,
            best_model=row.best_model,
            cv_metrics=row.cv_metrics,
            test_metrics=row.test_metrics,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )
        for row in conn.execute(query)
    ]
    return RunPage(items=items, total=int(total or 0), page=page, per_page=per_page)


def latest_version_metrics(conn: sa.Connection) -> dict[str, tuple[int, dict[str, Any]]]:
    """``{model name: (latest version, its metrics)}`` for every model, in one query."""
    latest = (
        sa.select(model_versions.c.name, sa.func.max(model_versions.c.version).label("latest"))
        .group_by(model_versions.c.name)
        .subquery()
    )
    rows = conn.execute(
        sa.select(model_versions.c.name, model_versions.c.version, model_versions.c.metrics).join(
            latest,
            sa.and_(
                latest.c.name == model_versions.c.name,
                latest.c.latest == model_versions.c.version,
            ),
        )
    )
    return {row.name: (int(row.version), row.metrics or {}) for row in rows}


def prediction_activity(
    conn: sa.Connection,
    model_name: str,
    *,
    since: datetime | None = None,
    limit: int = 5000,
) -> list[ActivityPoint]:
    """The most recent ``limit`` logged predictions of a model (since ``since``), oldest first.

    Reads only the time, version, latency, prediction and label columns (not the inputs).
    """
    _check_int("limit", limit, 1)
    query = sa.select(
        predictions.c.created_at,
        predictions.c.model_version,
        predictions.c.latency_ms,
        predictions.c.prediction,
        predictions.c.label,
    ).where(predictions.c.model_name == model_name)
    if since is not None:
        query = query.where(predictions.c.created_at >= since)
    query = query.order_by(predictions.c.created_at.desc(), predictions.c.id.desc()).limit(limit)
    points = [
        ActivityPoint(
            created_at=row.created_at,
            model_version=int(row.model_version),
            latency_ms=row.latency_ms,
            prediction=row.prediction,
            label=row.label,
        )
        for row in conn.execute(query)
    ]
    points.reverse()
    return points
