"""Paged, filtered and summarised reads of runs and predictions, that stay fast at scale.

The dashboard's run list, model overview and activity read only the columns a list shows
(never a run's leaderboard or parameters). Every listing orders by indexed columns:
``runs.started_at`` (with ``(name, started_at)`` and ``(status, started_at)``),
``run_metrics(scope, key, value, run_id)`` for metric thresholds and metric order, and
``predictions(model_name, created_at, id)`` for a model's newest predictions; so a page
costs about the same with 100 runs or 100,000. :func:`select_runs` pages by keyset
(``after`` a run) as well as by offset: a keyset page deep in the list reads only its own
rows. Functions here take a connection; the :class:`~modelloop.store.Store` methods that
call them open it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from modelloop.exceptions import InvalidInputError
from modelloop.store._records import RUN_STATUSES
from modelloop.store._tables import model_versions, predictions, run_metrics, runs

__all__ = [
    "MAX_PER_PAGE",
    "METRIC_OPERATORS",
    "METRIC_SCOPES",
    "ActivityPoint",
    "RunPage",
    "RunSummary",
    "count_runs",
    "latest_version_metrics",
    "metric_rows",
    "page_runs",
    "prediction_activity",
    "select_runs",
]

MAX_PER_PAGE = 500
METRIC_SCOPES = ("cv", "test")
METRIC_OPERATORS = (">", ">=", "<", "<=", "=", "!=")


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
    if status is not None and status not in RUN_STATUSES:
        raise InvalidInputError(
            f"Run status must be one of {', '.join(RUN_STATUSES)}. Got {status!r}."
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


# -- runs by name, status and metric (Store.list_runs / count_runs) ----------------------


def metric_rows(run_id: str, scope: str, metrics: Mapping[str, Any] | None) -> list[dict]:
    """The ``run_metrics`` rows of a run's metrics: finite numbers (not bools), names <= 64.

    Examples
    --------
    >>> metric_rows("ab12", "cv", {"roc_auc": 0.91, "note": "x", "nan": float("nan")})
    [{'run_id': 'ab12', 'scope': 'cv', 'key': 'roc_auc', 'value': 0.91}]
    """
    if not metrics:
        return []
    return [
        {"run_id": run_id, "scope": scope, "key": str(key), "value": float(value)}
        for key, value in metrics.items()
        if len(str(key)) <= 64
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    ]


def _check_metric_args(
    metric_filter: Sequence[Any] | None, sort_metric: str | None, scope: str
) -> tuple[str, str, float] | None:
    if scope not in METRIC_SCOPES:
        raise InvalidInputError(
            f"'metric_scope' must be one of {', '.join(METRIC_SCOPES)}. Got {scope!r}."
        )
    if sort_metric is not None and (not isinstance(sort_metric, str) or not sort_metric):
        raise InvalidInputError(
            f"'sort_metric' must be a metric name such as 'roc_auc'. Got {sort_metric!r}."
        )
    if metric_filter is None:
        return None
    try:
        key, op, value = metric_filter
    except (TypeError, ValueError):
        raise InvalidInputError(
            "'metric_filter' must be (metric, operator, number), e.g. ('roc_auc', '>', 0.9). "
            f"Got {metric_filter!r}."
        ) from None
    if not isinstance(key, str) or not key:
        raise InvalidInputError(f"The metric of 'metric_filter' must be a name. Got {key!r}.")
    op = "=" if op == "==" else op
    if op not in METRIC_OPERATORS:
        raise InvalidInputError(
            f"The operator of 'metric_filter' must be one of {' '.join(METRIC_OPERATORS)}. "
            f"Got {op!r}."
        )
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(float(value))
    ):
        raise InvalidInputError(
            f"The value of 'metric_filter' must be a finite number. Got {value!r}."
        )
    return key, op, float(value)


def _compare(column: sa.ColumnElement[Any], op: str, value: float) -> sa.ColumnElement[bool]:
    return {
        ">": column > value,
        ">=": column >= value,
        "<": column < value,
        "<=": column <= value,
        "=": column == value,
        "!=": column != value,
    }[op]


def _metric_join(
    query: sa.Select[Any], scope: str, key: str, name: str
) -> tuple[sa.Select[Any], Any]:
    alias = run_metrics.alias(name)
    joined = query.join(
        alias,
        sa.and_(alias.c.run_id == runs.c.id, alias.c.scope == scope, alias.c.key == key),
    )
    return joined, alias


def select_runs(
    conn: sa.Connection,
    columns: Sequence[Any],
    *,
    name: str | None = None,
    status: str | None = None,
    metric_filter: Sequence[Any] | None = None,
    sort_metric: str | None = None,
    metric_scope: str = "cv",
    ascending: bool = False,
    after: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[sa.Row[Any]]:
    """Rows of ``columns`` of the runs that match, in order: one page.

    Newest first by default; by ``sort_metric`` (of ``metric_scope``) when given, best
    first meaning highest first unless ``ascending``: runs without that metric are left
    out. ``metric_filter`` is ``(metric, operator, number)``. ``after`` (a full run id)
    starts the page after that run in this same order (keyset pagination: a deep page
    costs what the first does); ``offset`` skips rows as well.
    """
    checked = _check_metric_args(metric_filter, sort_metric, metric_scope)
    query = sa.select(*columns).select_from(runs)
    if name is not None:
        query = query.where(runs.c.name == name)
    if status is not None:
        query = query.where(runs.c.status == status)
    order: Any = None
    if sort_metric is not None:
        query, order = _metric_join(query, metric_scope, sort_metric, "sort_metric")
    if checked is not None:
        key, op, value = checked
        target = order
        if order is None or key != sort_metric:
            query, target = _metric_join(query, metric_scope, key, "filter_metric")
        query = query.where(_compare(target.c.value, op, value))
    first, second = (
        (runs.c.started_at, runs.c.id) if order is None else (order.c.value, order.c.run_id)
    )
    if after is not None:
        if order is None:
            mark = conn.execute(sa.select(runs.c.started_at).where(runs.c.id == after)).scalar()
        else:
            mark = conn.execute(
                sa.select(run_metrics.c.value).where(
                    run_metrics.c.run_id == after,
                    run_metrics.c.scope == metric_scope,
                    run_metrics.c.key == sort_metric,
                )
            ).scalar()
        if mark is None:
            raise InvalidInputError(
                f"Run {after[:8]} cannot mark where the page starts: "
                + (
                    "no such run."
                    if order is None
                    else f"it has no {metric_scope} metric {sort_metric!r}."
                )
                + " Pass the id of the last run of the previous page."
            )
        if ascending:  # (first, second) > (mark, after), written so an index range serves it
            query = query.where(first >= mark, sa.or_(first > mark, second > after))
        else:
            query = query.where(first <= mark, sa.or_(first < mark, second < after))
    if ascending:
        query = query.order_by(first.asc(), second.asc())
    else:
        query = query.order_by(first.desc(), second.desc())
    return list(conn.execute(query.limit(limit).offset(offset)))


def count_runs(
    conn: sa.Connection,
    *,
    name: str | None = None,
    status: str | None = None,
    metric_filter: Sequence[Any] | None = None,
    metric_scope: str = "cv",
) -> int:
    """How many runs match (the filters of :func:`select_runs`), counted in the database."""
    checked = _check_metric_args(metric_filter, None, metric_scope)
    where = []
    if name is not None:
        where.append(runs.c.name == name)
    if status is not None:
        where.append(runs.c.status == status)
    if checked is None:
        query = sa.select(sa.func.count()).select_from(runs).where(*where)
    else:
        key, op, value = checked
        query = sa.select(sa.func.count()).select_from(run_metrics)
        if where:  # the join only when the runs table is needed
            query = query.join(runs, runs.c.id == run_metrics.c.run_id).where(*where)
        query = query.where(
            run_metrics.c.scope == metric_scope,
            run_metrics.c.key == key,
            _compare(run_metrics.c.value, op, value),
        )
    return int(conn.execute(query).scalar() or 0)
