"""The store's tables, as SQLAlchemy Core metadata.

The schema changes only through Alembic revisions in ``migrations/versions``; a test
checks that upgrading to head yields exactly these tables (``compare_metadata`` is empty).
Everything here is portable SQL: JSON through :class:`sqlalchemy.JSON`, datetimes stored
as timezone-aware UTC (see :class:`UTCDateTime`), no dialect-specific types.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "UTCDateTime",
    "data_snapshots",
    "datasets",
    "metadata",
    "model_aliases",
    "model_exports",
    "model_versions",
    "predictions",
    "registered_models",
    "run_metrics",
    "runs",
]

# Explicit constraint names, so that migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A datetime that goes in and comes out timezone-aware in UTC.

    PostgreSQL keeps the offset (``TIMESTAMP WITH TIME ZONE``); SQLite stores the UTC wall
    time, and the missing ``tzinfo`` is put back on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(
                f"The store keeps timezone-aware datetimes only. Got naive {value!r}; "
                "use datetime.now(UTC)."
            )
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json() -> sa.JSON:
    # none_as_null: a Python None is SQL NULL, not the JSON literal 'null'.
    return sa.JSON(none_as_null=True)


datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("n_rows", sa.BigInteger, nullable=False),
    sa.Column("n_cols", sa.Integer, nullable=False),
    sa.Column("schema", _json(), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False, index=True),
    # No foreign key: a run may name a dataset whose record lives in another store.
    sa.Column("dataset_hash", sa.String(64), nullable=True),
    sa.Column("target", sa.Text, nullable=True),
    sa.Column("task", sa.String(32), nullable=True),
    sa.Column("metric", sa.String(64), nullable=True),
    sa.Column("params", _json(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("cv_metrics", _json(), nullable=True),
    sa.Column("test_metrics", _json(), nullable=True),
    sa.Column("leaderboard", _json(), nullable=True),
    sa.Column("best_model", sa.String(256), nullable=True),
    sa.Column("timings", _json(), nullable=True),
    sa.Column("library_versions", _json(), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("started_at", UTCDateTime, nullable=False, index=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    # Listing newest first for one name / one status reads the index in order (0006).
    sa.Index(None, "name", "started_at"),
    sa.Index(None, "status", "started_at"),
)

# The numeric metrics of finished runs, one row each (written by ``finish_run``; 0007), so
# that "runs with cv roc_auc > 0.9, best first" reads an index range instead of decoding
# every run's JSON. ``scope`` is 'cv' (``runs.cv_metrics``) or 'test' (``runs.test_metrics``).
run_metrics = sa.Table(
    "run_metrics",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("scope", sa.String(8), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Index(None, "scope", "key", "value", "run_id"),
)

registered_models = sa.Table(
    "registered_models",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), sa.ForeignKey("registered_models.name"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=True, index=True),
    sa.Column("artifact_path", sa.String(512), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("schema", _json(), nullable=False),
    sa.Column("task", sa.String(32), nullable=True),
    sa.Column("metrics", _json(), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("tags", _json(), nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # 'name@version' of the data snapshot with the training rows (monitoring's reference,
    # retraining's starting point); None for versions registered without their data.
    sa.Column("reference_snapshot", sa.String(160), nullable=True),
    # parent version, trigger ('train', 'retrain', ...), data used; {} when unknown.
    sa.Column("lineage", _json(), nullable=True),
    sa.UniqueConstraint("name", "version"),
)

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("alias", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # An alias always points at a version that exists.
    sa.ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"]),
)

# The server's prediction log (one row per predicted row), read by monitoring. No foreign
# key to model_versions: a log outlives the versions it names, and a model file served with
# `modelloop serve --model` has no version row. ``label`` is filled later by feedback.
predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False, index=True),
    sa.Column("model_name", sa.String(128), nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("inputs", _json(), nullable=False),
    sa.Column("prediction", _json(), nullable=True),
    sa.Column("probabilities", _json(), nullable=True),
    sa.Column("label", _json(), nullable=True),
    sa.Column("labeled_at", UTCDateTime, nullable=True),
    sa.Index(None, "model_name", "model_version", "created_at"),
    # A model's newest predictions, whatever the version, in index order (0007).
    sa.Index(None, "model_name", "created_at", "id"),
)

# Versioned, immutable data snapshots (``modelloop ingest``): one Parquet file each under
# artifacts/snapshots/<name>/. ``hash`` is the content hash of the frame, ``sha256`` the
# file's, checked on every read; ``meta`` keeps the incremental watermark and the rules.
data_snapshots = sa.Table(
    "data_snapshots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("artifact_path", sa.String(512), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("n_rows", sa.BigInteger, nullable=False),
    sa.Column("n_cols", sa.Integer, nullable=False),
    sa.Column("columns", _json(), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("meta", _json(), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("name", "version"),
)

# Every trial of a training run's search (``modelloop runs show RUN`` prints them): the
# configuration, its fold scores, times, inference latency and how it ended.
trials = sa.Table(
    "trials",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("stage", sa.String(32), nullable=False),
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("params", _json(), nullable=False),
    sa.Column("fold_scores", _json(), nullable=False),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("fit_time", sa.Float, nullable=True),
    sa.Column("duration", sa.Float, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("rows_per_s", sa.Float, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "run_id", "number"),
)

# What ``modelloop export`` wrote from a model version (0008): the format, the sha256 of the
# file (of the MANIFEST.sha256 listing every file, for a folder), where it was written and the
# modelloop version that wrote it. ``details`` holds what each format adds (files, notes).
model_exports = sa.Table(
    "model_exports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("modelloop_version", sa.String(64), nullable=False),
    sa.Column("details", _json(), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"]),
    sa.Index(None, "name", "version"),
)
