"""Datasets in the store: one row per content hash, recorded once, read back as records.

Functions here take a connection (or, for a write that may race a concurrent writer, the
:class:`~._engine.StoreEngine` to retry on); they never see the ``Store`` facade.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from modelloop.exceptions import InvalidInputError, NotFoundError
from modelloop.store import _db
from modelloop.store._engine import StoreEngine
from modelloop.store._records import DatasetRecord, dataset_record
from modelloop.store._tables import datasets

__all__ = ["get_dataset", "record_dataset"]


def record_dataset(
    db: StoreEngine,
    *,
    hash: str,
    name: str,
    source: str,
    n_rows: int,
    n_cols: int,
    schema: dict[str, Any],
) -> DatasetRecord:
    """Record a dataset by content hash; the existing record if it is there already."""
    if not isinstance(hash, str) or not hash or len(hash) > 64:
        raise InvalidInputError(
            f"A dataset hash must be a non-empty string of at most 64 characters. Got {hash!r}."
        )
    values = {
        "hash": hash,
        "name": str(name),
        "source": str(source),
        "n_rows": int(n_rows),
        "n_cols": int(n_cols),
        "schema": _db.json_dict(schema, "schema"),
    }

    def body(conn: sa.Connection) -> DatasetRecord:
        row = conn.execute(sa.select(datasets).where(datasets.c.hash == hash)).first()
        if row is None:
            conn.execute(datasets.insert().values(**values, created_at=_db.now()))
            row = conn.execute(sa.select(datasets).where(datasets.c.hash == hash)).one()
        return dataset_record(row)

    return db.retry(f"record dataset {hash!r}", body)


def get_dataset(conn: sa.Connection, hash: str) -> DatasetRecord:
    """The dataset recorded under ``hash``; ``NotFoundError`` if there is none."""
    row = conn.execute(sa.select(datasets).where(datasets.c.hash == hash)).first()
    if row is None:
        raise NotFoundError(f"No dataset with hash {hash!r} is recorded in the store.")
    return dataset_record(row)
