"""Exports of model versions: what ``modelloop export`` wrote, recorded beside the version.

Functions here take a connection, so the :class:`~modelloop.store.Store` methods that call
them decide the transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from modelloop.exceptions import InvalidInputError
from modelloop.store._db import json_dict, now
from modelloop.store._tables import model_exports

__all__ = ["ExportRecord", "insert_export", "select_exports"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ExportRecord:
    """One export of a model version: its format, the sha256 of what was written, where."""

    name: str
    version: int
    format: str
    sha256: str
    path: str
    modelloop_version: str
    created_at: datetime
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """The model version it came from, e.g. ``'churn:3'``."""
        return f"{self.name}:{self.version}"


def insert_export(
    conn: sa.Connection,
    *,
    name: str,
    version: int,
    format: str,
    sha256: str,
    path: str,
    modelloop_version: str,
    details: dict[str, Any],
) -> ExportRecord:
    """Insert one export row; the caller checked that the version exists."""
    if not _SHA256.match(sha256):
        raise InvalidInputError(f"An export's sha256 must be 64 hex digits. Got {sha256!r}.")
    values = {
        "name": name,
        "version": int(version),
        "format": str(format)[:32],
        "sha256": sha256,
        "path": str(path),
        "modelloop_version": str(modelloop_version)[:64],
        "details": json_dict(details, "details"),
        "created_at": now(),
    }
    conn.execute(model_exports.insert().values(**values))
    return _record(values)


def select_exports(
    conn: sa.Connection, name: str, version: int | None = None
) -> list[ExportRecord]:
    """The exports of model ``name`` (of one ``version``), oldest first."""
    query = sa.select(model_exports).where(model_exports.c.name == name)
    if version is not None:
        query = query.where(model_exports.c.version == version)
    rows = conn.execute(query.order_by(model_exports.c.created_at, model_exports.c.id))
    return [_record(row._asdict()) for row in rows]


def _record(values: dict[str, Any]) -> ExportRecord:
    return ExportRecord(
        name=values["name"],
        version=int(values["version"]),
        format=values["format"],
        sha256=values["sha256"],
        path=values["path"],
        modelloop_version=values["modelloop_version"],
        created_at=values["created_at"],
        details=dict(values["details"] or {}),
    )
