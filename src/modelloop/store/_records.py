"""Immutable records returned by the store.

The store never hands out live ORM objects or rows: every read builds a fresh frozen
dataclass (in the spirit of Optuna's ``FrozenTrial``). Dict fields are fresh copies
decoded from JSON, so changing them never changes the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = [
    "RUN_STATUSES",
    "DatasetRecord",
    "ModelSummary",
    "ModelVersionRecord",
    "RunRecord",
    "dataset_record",
    "run_record",
    "version_record",
]

# What a run's ``status`` may be: ``running`` until ``finish_run`` makes it ``finished`` or
# ``failed``; ``interrupted`` when its process died first (see ._orphans).
RUN_STATUSES = ("running", "finished", "failed", "interrupted")


@dataclass(frozen=True)
class DatasetRecord:
    """A dataset seen by the store, identified by the hash of its content."""

    hash: str
    name: str
    source: str
    n_rows: int
    n_cols: int
    schema: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class RunRecord:
    """One training run: what it was asked, and (once finished) what it found.

    ``status`` is one of :data:`RUN_STATUSES`; the result fields are ``None`` until the
    run finishes.
    """

    id: str
    name: str
    dataset_hash: str | None
    target: str | None
    task: str | None
    metric: str | None
    params: dict[str, Any]
    status: str
    cv_metrics: dict[str, Any] | None
    test_metrics: dict[str, Any] | None
    leaderboard: list[dict[str, Any]] | None
    best_model: str | None
    timings: dict[str, Any] | None
    library_versions: dict[str, Any] | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None

    @property
    def short_id(self) -> str:
        """The first 8 characters of the id, enough to name the run on the CLI."""
        return self.id[:8]


@dataclass(frozen=True)
class ModelVersionRecord:
    """One registered version of a model, and where its artifact file is.

    ``artifact_path`` is relative to the store's ``artifacts_dir`` (POSIX separators);
    ``aliases`` are the aliases that point at this version now.
    """

    name: str
    version: int
    run_id: str | None
    artifact_path: str
    sha256: str
    size_bytes: int
    schema: dict[str, Any]
    task: str | None
    metrics: dict[str, Any]
    description: str
    tags: dict[str, Any]
    aliases: tuple[str, ...]
    created_at: datetime
    format_version: int
    reference_snapshot: str | None = None
    lineage: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """The reference that resolves to exactly this version, e.g. ``'churn:3'``."""
        return f"{self.name}:{self.version}"

    def __repr__(self) -> str:
        aliases = f", aliases {list(self.aliases)}" if self.aliases else ""
        return (
            f"ModelVersionRecord({self.ref}, task {self.task}{aliases}, "
            f"created {self.created_at:%Y-%m-%d %H:%M})"
        )

    def _repr_html_(self) -> str:
        """The notebook view: task, aliases, run, test and CV metrics, input columns."""
        from modelloop.data._repr import html_table, html_view

        facts = [f"task {self.task}", f"created {self.created_at:%Y-%m-%d %H:%M}"]
        if self.aliases:
            facts.append("aliases " + ", ".join(self.aliases))
        if self.run_id:
            facts.append(f"run {self.run_id[:12]}")
        sections = []
        metrics = self.metrics or {}
        names = sorted({k for part in ("test", "cv") for k in (metrics.get(part) or {})})
        if names:
            rows = [[n, (metrics.get("test") or {}).get(n), (metrics.get("cv") or {}).get(n)]
                    for n in names]  # fmt: skip
            sections.append(("Metrics", html_table(["metric", "test", "CV"], rows)))
        columns = [c for c in (self.schema or {}).get("columns", []) if isinstance(c, dict)]
        if columns:
            rows = [[c.get("name"), c.get("role"), c.get("dtype")] for c in columns]
            sections.append(("Input columns", html_table(["column", "role", "dtype"], rows)))
        return html_view(f"Model {self.ref}", facts, sections)


@dataclass(frozen=True)
class ModelSummary:
    """One registered model at a glance: its latest version and its aliases."""

    name: str
    latest_version: int
    n_versions: int
    aliases: dict[str, int] = field(default_factory=dict)
    task: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


def dataset_record(row: sa.Row[Any]) -> DatasetRecord:
    """The record of a ``datasets`` row."""
    return DatasetRecord(
        hash=row.hash,
        name=row.name,
        source=row.source,
        n_rows=int(row.n_rows),
        n_cols=int(row.n_cols),
        schema=row.schema,
        created_at=row.created_at,
    )


def run_record(row: sa.Row[Any]) -> RunRecord:
    """The record of a ``runs`` row."""
    return RunRecord(
        id=row.id,
        name=row.name,
        dataset_hash=row.dataset_hash,
        target=row.target,
        task=row.task,
        metric=row.metric,
        params=row.params,
        status=row.status,
        cv_metrics=row.cv_metrics,
        test_metrics=row.test_metrics,
        leaderboard=row.leaderboard,
        best_model=row.best_model,
        timings=row.timings,
        library_versions=row.library_versions,
        error=row.error,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def version_record(row: sa.Row[Any], aliases: tuple[str, ...]) -> ModelVersionRecord:
    """The record of a ``model_versions`` row, with the aliases that point at it."""
    return ModelVersionRecord(
        name=row.name,
        version=int(row.version),
        run_id=row.run_id,
        artifact_path=row.artifact_path,
        sha256=row.sha256,
        size_bytes=int(row.size_bytes),
        schema=row.schema,
        task=row.task,
        metrics=row.metrics,
        description=row.description,
        tags=row.tags,
        aliases=tuple(sorted(aliases)),
        created_at=row.created_at,
        format_version=int(row.format_version),
        reference_snapshot=row.reference_snapshot,
        lineage=dict(row.lineage or {}),
    )
