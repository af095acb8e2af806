"""The server's prediction log: one row per predicted row, with room for a delayed label.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _json() -> sa.JSON:
    return sa.JSON(none_as_null=True)


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("inputs", _json(), nullable=False),
        sa.Column("prediction", _json(), nullable=True),
        sa.Column("probabilities", _json(), nullable=True),
        sa.Column("label", _json(), nullable=True),
        sa.Column("labeled_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
    )
    op.create_index(op.f("ix_predictions_request_id"), "predictions", ["request_id"])
    op.create_index(op.f("ix_predictions_created_at"), "predictions", ["created_at"])
    op.create_index(
        op.f("ix_predictions_model_name_model_version_created_at"),
        "predictions",
        ["model_name", "model_version", "created_at"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_predictions_model_name_model_version_created_at"), table_name="predictions"
    )
    op.drop_index(op.f("ix_predictions_created_at"), table_name="predictions")
    op.drop_index(op.f("ix_predictions_request_id"), table_name="predictions")
    op.drop_table("predictions")
