"""Model lineage: the reference data a version was trained on, and where it came from.

``reference_snapshot`` names the data snapshot (``'name@version'``) holding the version's
training rows: monitoring compares production inputs with it and retraining starts from
it. ``lineage`` records the parent version, what triggered the training and the data used.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("reference_snapshot", sa.String(160), nullable=True))
        batch.add_column(sa.Column("lineage", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("lineage")
        batch.drop_column("reference_snapshot")
