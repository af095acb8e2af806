"""Training runs in the store: started, finished once, found by id or unique id prefix.

A run is ``running`` from :func:`create_run` until :func:`finish_run` closes it as
``finished`` or ``failed``; a run whose process died first is closed as ``interrupted`` by
:func:`mark_interrupted_runs`, which reads the owner markers ``create_run`` leaves in the
artifact folder (:mod:`._orphans`). Reads take a connection; writes take the
:class:`~._engine.StoreEngine` (and the artifact folder, for the markers). Listing and
counting by name, status and metric read indexes (see :mod:`._pages`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from modelloop.exceptions import InvalidInputError, RunNotFoundError, StoreError
from modelloop.store import _db
from modelloop.store._engine import StoreEngine
from modelloop.store._orphans import interrupted_runs, owner_marker
from modelloop.store._pages import count_runs as _count_runs
from modelloop.store._pages import metric_rows, select_runs
from modelloop.store._records import RUN_STATUSES, RunRecord, run_record
from modelloop.store._tables import run_metrics, runs

__all__ = [
    "check_list_args",
    "check_run_filters",
    "check_run_ids",
    "count_runs",
    "create_run",
    "finish_run",
    "get_run",
    "get_runs",
    "list_runs",
    "mark_interrupted_runs",
    "require_run",
    "resolve_run_id",
]

_FINAL_STATUSES = ("finished", "failed")
_MAX_COMPARED = 100
_RUN_PREFIX_MIN = 4
_HEX_RE = re.compile(r"^[0-9a-f]+$")


def create_run(
    db: StoreEngine,
    tmp_dir: Path,
    *,
    name: str,
    dataset_hash: str | None,
    target: str | None,
    task: str | None,
    metric: str | None,
    params: dict[str, Any],
) -> RunRecord:
    """Start a run: status ``'running'``, a fresh id (uuid4 hex), ``started_at`` now.

    Its owner marker goes in ``tmp_dir`` (the artifact folder's ``tmp``) first.
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise InvalidInputError(
            f"A run name must be a non-empty string of at most 256 characters. Got {name!r}."
        )
    run_id = uuid.uuid4().hex
    values = {
        "id": run_id,
        "name": name,
        "dataset_hash": dataset_hash,
        "target": target,
        "task": task,
        "metric": metric,
        "params": _db.json_dict(params, "params"),
        "status": "running",
        "started_at": _db.now(),
    }
    marker = owner_marker(tmp_dir, run_id)
    try:  # says which process runs it, so that a run whose process died can be told
        marker.touch()
    except OSError as exc:
        raise StoreError(f"Cannot write in the artifact folder {marker.parent}: {exc}.") from exc
    try:
        with db.write() as conn:
            conn.execute(runs.insert().values(**values))
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).one()
    except BaseException:
        marker.unlink(missing_ok=True)
        raise
    return run_record(row)


def finish_run(
    db: StoreEngine,
    tmp_dir: Path,
    run_id: str,
    *,
    status: str,
    cv_metrics: dict[str, Any] | None = None,
    test_metrics: dict[str, Any] | None = None,
    leaderboard: list[dict[str, Any]] | None = None,
    best_model: str | None = None,
    timings: dict[str, Any] | None = None,
    library_versions: dict[str, Any] | None = None,
    error: str | None = None,
) -> RunRecord:
    """Close a running run as ``'finished'`` or ``'failed'`` with its results; its owner
    marker in ``tmp_dir`` goes."""
    if status not in _FINAL_STATUSES:
        raise InvalidInputError(
            f"A run finishes with status 'finished' or 'failed'. Got {status!r}."
        )
    if leaderboard is not None and not isinstance(leaderboard, list | tuple):
        raise InvalidInputError(
            f"'leaderboard' must be a list of dicts. Got {type(leaderboard).__name__}."
        )
    values = {
        "status": status,
        "cv_metrics": _db.json_dict(cv_metrics, "cv_metrics", allow_none=True),
        "test_metrics": _db.json_dict(test_metrics, "test_metrics", allow_none=True),
        "leaderboard": _db.jsonable(leaderboard, "leaderboard"),
        "best_model": best_model,
        "timings": _db.json_dict(timings, "timings", allow_none=True),
        "library_versions": _db.json_dict(library_versions, "library_versions", allow_none=True),
        "error": error,
        "finished_at": _db.now(),
    }
    with db.write() as conn:
        full_id = resolve_run_id(conn, run_id)
        row = conn.execute(sa.select(runs.c.status).where(runs.c.id == full_id)).one()
        if row.status != "running":
            raise StoreError(
                f"Run {full_id[:8]} is already '{row.status}'; a run is finished only once."
            )
        conn.execute(runs.update().where(runs.c.id == full_id).values(**values))
        for marker in tmp_dir.glob(f"*-run-{full_id}.owner"):
            marker.unlink(missing_ok=True)
        rows = metric_rows(full_id, "cv", values["cv_metrics"])
        rows += metric_rows(full_id, "test", values["test_metrics"])
        if rows:  # indexed copies: list_runs filters and sorts by metric on them
            conn.execute(run_metrics.insert(), rows)
        finished = conn.execute(sa.select(runs).where(runs.c.id == full_id)).one()
    return run_record(finished)


def mark_interrupted_runs(db: StoreEngine, tmp_dir: Path) -> list[str]:
    """Mark ``interrupted`` every running run whose process is gone (its owner marker in
    ``tmp_dir`` says so); returns their ids."""
    marked = []
    for run_id, marker in interrupted_runs(tmp_dir):
        with db.write() as conn:
            done = conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.status == "running")
                .values(
                    status="interrupted",
                    finished_at=_db.now(),
                    error="The process that ran it stopped without finishing it (killed, "
                    "or out of memory); its files were swept.",
                )
            ).rowcount
        marker.unlink(missing_ok=True)
        if done:
            marked.append(run_id)
    return marked


def get_run(conn: sa.Connection, run_id: str) -> RunRecord:
    """The run with this id, or with this unique id prefix (4 characters or more)."""
    full_id = resolve_run_id(conn, run_id)
    return run_record(conn.execute(sa.select(runs).where(runs.c.id == full_id)).one())


def list_runs(
    conn: sa.Connection,
    *,
    name: str | None,
    status: str | None,
    limit: int,
    offset: int,
    after: str | None,
    metric_filter: tuple[str, str, float] | None,
    sort_metric: str | None,
    metric_scope: str,
    ascending: bool,
) -> list[RunRecord]:
    """Runs in the order and page asked (``Store.list_runs`` documents the arguments)."""
    rows = select_runs(
        conn,
        [runs],
        name=name,
        status=status,
        metric_filter=metric_filter,
        sort_metric=sort_metric,
        metric_scope=metric_scope,
        ascending=bool(ascending),
        after=None if after is None else resolve_run_id(conn, after),
        limit=limit,
        offset=offset,
    )
    return [run_record(row) for row in rows]


def check_list_args(status: str | None, limit: object, offset: object) -> None:
    """``InvalidInputError`` for a status, ``limit`` or ``offset`` that ``list_runs`` refuses."""
    check_run_filters(status)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError(f"'limit' must be an integer >= 1. Got {limit!r}.")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInputError(f"'offset' must be an integer >= 0. Got {offset!r}.")


def count_runs(
    conn: sa.Connection,
    *,
    name: str | None,
    status: str | None,
    metric_filter: tuple[str, str, float] | None,
    metric_scope: str,
) -> int:
    """How many runs match the filters of :func:`list_runs` (counted by the database)."""
    return _count_runs(
        conn, name=name, status=status, metric_filter=metric_filter, metric_scope=metric_scope
    )


def check_run_ids(run_ids: object) -> list[str]:
    """The ids ``get_runs`` reads, normalised; ``InvalidInputError`` for anything else."""
    if isinstance(run_ids, str) or not isinstance(run_ids, Sequence) or not run_ids:
        raise InvalidInputError(f"'run_ids' must be a non-empty list of run ids. Got {run_ids!r}.")
    if len(run_ids) > _MAX_COMPARED:
        raise InvalidInputError(
            f"At most {_MAX_COMPARED} runs are read at once. Got {len(run_ids)} ids."
        )
    return [str(i).strip().lower() for i in run_ids]


def get_runs(conn: sa.Connection, wanted: list[str]) -> list[RunRecord]:
    """Several runs by id (or unique prefix, see :func:`check_run_ids`), in the order asked.

    One query for full ids; ``RunNotFoundError`` names the first id that matches no run.
    """
    found = {row.id: row for row in conn.execute(sa.select(runs).where(runs.c.id.in_(wanted)))}
    for short in [i for i in wanted if i not in found]:  # prefixes, or unknown ids
        full = resolve_run_id(conn, short)
        found[short] = conn.execute(sa.select(runs).where(runs.c.id == full)).one()
    return [run_record(found[i]) for i in wanted]


def check_run_filters(status: str | None) -> None:
    """``InvalidInputError`` unless ``status`` is ``None`` or one of :data:`RUN_STATUSES`."""
    if status is not None and status not in RUN_STATUSES:
        raise InvalidInputError(
            f"Run status must be one of {', '.join(RUN_STATUSES)}. Got {status!r}."
        )


def require_run(conn: sa.Connection, run_id: str, *, model: str) -> None:
    """``RunNotFoundError`` unless ``run_id`` (a full id) is a run of this store."""
    found = conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first()
    if found is None:
        raise RunNotFoundError(
            f"Cannot register model '{model}' for run {run_id!r}: no run with that "
            "id exists in this store. Pass the id of a run created in this store, "
            "or run_id=None."
        )


def resolve_run_id(conn: sa.Connection, run_id: str) -> str:
    """The full id of the run ``run_id`` names: the id itself, or a unique prefix of 4
    characters or more. A prefix that matches several runs lists them; one that matches
    none names the most recent runs."""
    if not isinstance(run_id, str) or not run_id.strip():
        raise InvalidInputError(f"A run id must be a non-empty string. Got {run_id!r}.")
    wanted = run_id.strip().lower()
    if conn.execute(sa.select(runs.c.id).where(runs.c.id == wanted)).first() is not None:
        return wanted
    if len(wanted) < _RUN_PREFIX_MIN:
        raise InvalidInputError(
            f"A run id prefix needs at least {_RUN_PREFIX_MIN} characters. Got {run_id!r}."
        )
    matches: Sequence[Any] = []
    if _HEX_RE.match(wanted):  # ids are hex: no LIKE wildcards can sneak in
        matches = conn.execute(
            sa.select(runs.c.id, runs.c.name, runs.c.started_at)
            .where(runs.c.id.like(f"{wanted}%"))
            .order_by(runs.c.started_at.desc())
            .limit(11)
        ).all()
    if len(matches) == 1:
        return str(matches[0].id)
    if matches:
        shown = ", ".join(
            f"{m.id[: len(wanted) + 4]} ({m.name}, {m.started_at:%Y-%m-%d %H:%M})"
            for m in matches[:10]
        )
        more = " and more" if len(matches) > 10 else ""
        raise InvalidInputError(
            f"Run id prefix {run_id!r} is ambiguous: it matches {shown}{more}. "
            "Give more characters."
        )
    recent = conn.execute(
        sa.select(runs.c.id, runs.c.name).order_by(runs.c.started_at.desc()).limit(3)
    ).all()
    hint = (
        " Most recent runs: " + ", ".join(f"{r.id[:8]} ({r.name})" for r in recent) + "."
        if recent
        else " The store has no runs yet."
    )
    raise RunNotFoundError(f"No run with id or id prefix {run_id!r}.{hint}")
