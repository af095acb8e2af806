"""Model exports: what was exported from a model version, in which format, and where.

``modelloop export`` writes a model version in a format another tool consumes (ONNX, an
MLflow model, a container build context, Kubernetes manifests, a Kubeflow pipeline) and
records it here: the version, the format, the sha256 of what was written (of its manifest,
for a folder), where it went and the modelloop version that wrote it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_exports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("modelloop_version", sa.String(64), nullable=False),
        sa.Column("details", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["name", "version"],
            ["model_versions.name", "model_versions.version"],
            name=op.f("fk_model_exports_name_version_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_exports")),
    )
    op.create_index(op.f("ix_model_exports_name_version"), "model_exports", ["name", "version"])


def downgrade() -> None:
    op.drop_index(op.f("ix_model_exports_name_version"), table_name="model_exports")
    op.drop_table("model_exports")
