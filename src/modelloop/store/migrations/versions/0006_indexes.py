"""Indexes that keep listing runs and reading the prediction log fast at 100,000s of rows.

Runs are listed newest first, optionally for one name or one status: composite indexes
``(name, started_at)`` and ``(status, started_at)`` let the database read the page it needs
in index order instead of sorting the whole table. Prediction-log retention deletes by
``created_at`` (already indexed); feedback looks rows up by ``request_id`` (indexed).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_name_started_at", "runs", ["name", "started_at"], unique=False)
    op.create_index("ix_runs_status_started_at", "runs", ["status", "started_at"], unique=False)
    op.create_index("ix_trials_run_id_number", "trials", ["run_id", "number"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_trials_run_id_number", table_name="trials")
    op.drop_index("ix_runs_status_started_at", table_name="runs")
    op.drop_index("ix_runs_name_started_at", table_name="runs")
