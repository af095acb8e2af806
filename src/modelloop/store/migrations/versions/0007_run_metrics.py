"""Run metrics in their own indexed table, and a model's newest predictions in index order.

``run_metrics`` holds one row per numeric metric of a finished run (``scope`` 'cv' or
'test', ``key``, ``value``), indexed ``(scope, key, value, run_id)``: filtering runs by a
metric threshold and sorting them by a metric read an index range instead of decoding the
JSON of every run. Existing runs are copied in. ``predictions(model_name, created_at, id)``
lets "the newest N predictions of a model" (any version) read the index backwards instead
of sorting all of the model's rows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BATCH = 1000


def _metric_rows(run_id: str, scope: str, metrics: Any) -> list[dict[str, Any]]:
    if not isinstance(metrics, dict):
        return []
    return [
        {"run_id": run_id, "scope": scope, "key": str(key), "value": float(value)}
        for key, value in metrics.items()
        if len(str(key)) <= 64
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    ]


def _backfill(table: sa.Table) -> None:
    runs = sa.table(
        "runs",
        sa.column("id", sa.String),
        sa.column("cv_metrics", sa.JSON),
        sa.column("test_metrics", sa.JSON),
    )
    bind = op.get_bind()
    last = ""
    while True:  # keyset batches: memory stays flat however many runs there are
        batch = bind.execute(
            sa.select(runs.c.id, runs.c.cv_metrics, runs.c.test_metrics)
            .where(runs.c.id > last)
            .order_by(runs.c.id)
            .limit(_BATCH)
        ).all()
        if not batch:
            return
        rows = []
        for row in batch:
            rows += _metric_rows(row.id, "cv", row.cv_metrics)
            rows += _metric_rows(row.id, "test", row.test_metrics)
        if rows:
            bind.execute(table.insert(), rows)
        last = batch[-1].id


def upgrade() -> None:
    table = op.create_table(
        "run_metrics",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_metrics_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "scope", "key", name=op.f("pk_run_metrics")),
    )
    op.create_index(
        op.f("ix_run_metrics_scope_key_value_run_id"),
        "run_metrics",
        ["scope", "key", "value", "run_id"],
    )
    op.create_index(
        op.f("ix_predictions_model_name_created_at_id"),
        "predictions",
        ["model_name", "created_at", "id"],
    )
    _backfill(table)


def downgrade() -> None:
    op.drop_index(op.f("ix_predictions_model_name_created_at_id"), table_name="predictions")
    op.drop_index(op.f("ix_run_metrics_scope_key_value_run_id"), table_name="run_metrics")
    op.drop_table("run_metrics")
