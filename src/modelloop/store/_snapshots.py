"""Data snapshots in the store: versioned, immutable Parquet files plus one row each.

A snapshot is written like a model file: Parquet into ``artifacts/tmp``, fsynced, moved to
``artifacts/snapshots/<name>/<version>-<hash16>-<owner tag>.parquet``, and only then is its
row inserted; if the insert fails the file is removed again, so a failure leaves neither
half. A process killed between the move and the commit leaves a file no row references, and
its owner tag (:func:`._orphans.owner_tag`) lets the next sweep remove it at once.
Every read checks the file's sha256 against its row.

Functions here take a connection and the artifact folder; :func:`write_snapshot` takes the
:class:`~._engine.StoreEngine`, to retry on a conflict with a concurrent writer.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from modelloop.exceptions import (
    ArtifactIntegrityError,
    InvalidInputError,
    ModelloopError,
    SnapshotNotFoundError,
    StoreError,
)
from modelloop.store import _db
from modelloop.store._artifacts import _fsync_dir, file_sha256, read_verified
from modelloop.store._engine import StoreEngine
from modelloop.store._orphans import owner_tag
from modelloop.store._tables import data_snapshots

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PendingSnapshot",
    "SnapshotRecord",
    "check_snapshot_name",
    "get_snapshot",
    "insert_snapshot",
    "list_snapshots",
    "parse_snapshot_ref",
    "prepare_snapshot",
    "read_snapshot",
    "write_snapshot",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_REF_RE = re.compile(r"^(?P<name>[^@]+?)(?:@(?P<version>[^@]*))?$")


@dataclass(frozen=True)
class SnapshotRecord:
    """One version of a named data snapshot."""

    name: str
    version: int
    hash: str
    sha256: str
    artifact_path: str
    size_bytes: int
    n_rows: int
    n_cols: int
    columns: list[dict[str, Any]]
    source: str
    meta: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None

    @property
    def ref(self) -> str:
        """``'name@version'``: how ``data:`` sources and the CLI name this snapshot."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "hash": self.hash,
            "sha256": self.sha256,
            "path": self.artifact_path,
            "size_bytes": self.size_bytes,
            "n_rows": self.n_rows,
            "n_cols": self.n_cols,
            "columns": self.columns,
            "source": self.source,
            "meta": self.meta,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


def check_snapshot_name(name: object) -> str:
    """``name`` if it is a valid snapshot name (like a model name), else ``InvalidInputError``."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidInputError(
            "A snapshot name must start with a letter or digit and contain only letters, "
            f"digits, '.', '_' and '-' (at most 128 characters). Got {name!r}; try for "
            "example 'customers'."
        )
    return name


def parse_snapshot_ref(ref: str) -> tuple[str, int | None]:
    """``'customers@3'`` -> ``('customers', 3)``; ``'customers'`` or ``'@latest'`` -> latest.

    Examples
    --------
    >>> parse_snapshot_ref("customers@3"), parse_snapshot_ref("customers@latest")
    (('customers', 3), ('customers', None))
    """
    match = _REF_RE.match(str(ref).strip())
    if match is None:
        raise InvalidInputError(f"A snapshot reference looks like 'customers@3'. Got {ref!r}.")
    name, version = match["name"], match["version"]
    check_snapshot_name(name)
    if version is None or version == "latest":
        return name, None
    if not version.isdigit() or int(version) < 1:
        raise InvalidInputError(
            f"The version in snapshot reference {ref!r} must be a number >= 1 or 'latest'. "
            f"Got {version!r}."
        )
    return name, int(version)


def _record(row: Any) -> SnapshotRecord:
    return SnapshotRecord(
        name=row.name,
        version=int(row.version),
        hash=row.hash,
        sha256=row.sha256,
        artifact_path=row.artifact_path,
        size_bytes=int(row.size_bytes),
        n_rows=int(row.n_rows),
        n_cols=int(row.n_cols),
        columns=list(row.columns or []),
        source=row.source,
        meta=dict(row.meta or {}),
        created_at=row.created_at,
    )


def list_snapshots(conn: sa.Connection, name: str | None = None) -> list[SnapshotRecord]:
    """Every snapshot (of ``name``, when given), by name then version."""
    query = sa.select(data_snapshots).order_by(data_snapshots.c.name, data_snapshots.c.version)
    if name is not None:
        query = query.where(data_snapshots.c.name == name)
    rows = conn.execute(query).all()
    if name is not None and not rows:
        get_snapshot(conn, name)  # raises the helpful not-found error
    return [_record(r) for r in rows]


def get_snapshot(conn: sa.Connection, name: str, version: int | None = None) -> SnapshotRecord:
    """One version of a snapshot (the latest when ``version`` is ``None``)."""
    versions = list(
        conn.execute(
            sa.select(data_snapshots.c.version)
            .where(data_snapshots.c.name == name)
            .order_by(data_snapshots.c.version)
        ).scalars()
    )
    if not versions:
        names = list(
            conn.execute(
                sa.select(data_snapshots.c.name).distinct().order_by(data_snapshots.c.name)
            ).scalars()
        )
        if not names:
            raise SnapshotNotFoundError(
                f"No snapshot named {name!r}: the store has no snapshots yet. Create one "
                f"with 'modelloop ingest SOURCE --name {name}'."
            )
        close = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise SnapshotNotFoundError(
            f"No snapshot named {name!r}.{hint} Snapshots: {', '.join(names[:20])}."
        )
    wanted = versions[-1] if version is None else version
    if wanted not in versions:
        raise SnapshotNotFoundError(
            f"Snapshot '{name}' has no version {wanted}; versions: {', '.join(map(str, versions))}."
        )
    row = conn.execute(
        sa.select(data_snapshots).where(
            data_snapshots.c.name == name, data_snapshots.c.version == wanted
        )
    ).one()
    return _record(row)


def _path(artifacts_dir: Path, record: SnapshotRecord) -> Path:
    base = artifacts_dir.resolve()
    path = (base / record.artifact_path).resolve()
    if not path.is_relative_to(base):
        raise ArtifactIntegrityError(
            f"Snapshot {record.ref} points outside the artifact folder "
            f"({record.artifact_path!r}); refusing to read it."
        )
    return path


def read_snapshot(artifacts_dir: Path, record: SnapshotRecord) -> pd.DataFrame:
    """The frame of a snapshot, after checking its file against the recorded sha256."""
    path = _path(artifacts_dir, record)
    data = read_verified(path, record.sha256, what=f"snapshot {record.ref}")
    import pandas as pd

    return pd.read_parquet(io.BytesIO(data))


@dataclass
class PendingSnapshot:
    """A snapshot written to a temporary file, its row not inserted yet (see
    :func:`insert_snapshot`); ``placed`` lists files moved into place by an attempt."""

    name: str
    tmp_path: Path
    values: dict[str, Any]
    placed: list[Path] = field(default_factory=list)

    def discard(self) -> None:
        """Remove every file of a snapshot whose transaction failed."""
        self.tmp_path.unlink(missing_ok=True)
        for path in self.placed:
            path.unlink(missing_ok=True)
        self.placed.clear()


def prepare_snapshot(
    artifacts_dir: Path,
    name: str,
    frame: pd.DataFrame,
    *,
    hash: str,
    columns: list[dict[str, Any]],
    source: str,
    meta: dict[str, Any] | None = None,
) -> PendingSnapshot:
    """Write ``frame`` to a temporary Parquet file, fsynced; the row comes later."""
    check_snapshot_name(name)
    values = {
        "hash": str(hash),
        "n_rows": len(frame),
        "n_cols": frame.shape[1],
        "columns": _db.jsonable(columns, "columns"),
        "source": str(source),
        "meta": _db.json_dict(meta or {}, "meta"),
    }
    tmp_dir = artifacts_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp_path = tmp_dir / f"{owner_tag()}-{uuid.uuid4().hex}.parquet.partial"
    try:
        frame.to_parquet(tmp_path, index=False)
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        sha256 = file_sha256(tmp_path)
        size = tmp_path.stat().st_size
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StoreError(f"Cannot write snapshot '{name}' in {tmp_dir}: {exc}.") from exc
        if isinstance(exc, ModelloopError) or not isinstance(exc, Exception):
            raise
        raise InvalidInputError(
            f"Snapshot '{name}' cannot be saved as Parquet: {type(exc).__name__}: {exc}."
        ) from exc
    values.update(sha256=sha256, size_bytes=size)
    return PendingSnapshot(name, tmp_path, values)


def insert_snapshot(
    conn: sa.Connection, artifacts_dir: Path, pending: PendingSnapshot
) -> SnapshotRecord:
    """Move a prepared snapshot's file into place and insert its row, in ``conn``'s
    transaction (whoever owns the transaction calls ``pending.discard()`` if it fails)."""
    name, values, tmp_path = pending.name, pending.values, pending.tmp_path
    for placed in pending.placed:  # an earlier attempt's transaction was rolled back
        os.replace(placed, tmp_path)
    pending.placed.clear()
    latest = conn.execute(
        sa.select(sa.func.max(data_snapshots.c.version)).where(data_snapshots.c.name == name)
    ).scalar()
    version = (latest or 0) + 1
    relative = f"snapshots/{name}/{version}-{values['hash'][:16]}-{owner_tag()}.parquet"
    final = artifacts_dir / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():  # left by a crash before its row was committed: not referenced
        final.unlink()
    os.replace(tmp_path, final)
    pending.placed.append(final)
    _fsync_dir(final.parent)
    try:
        conn.execute(
            data_snapshots.insert().values(
                name=name,
                version=version,
                artifact_path=relative,
                created_at=_db.now(),
                **values,
            )
        )
    except BaseException:
        os.replace(final, tmp_path)  # back to temp, for the retry (or the cleanup)
        pending.placed.remove(final)
        raise
    row = conn.execute(
        sa.select(data_snapshots).where(
            data_snapshots.c.name == name, data_snapshots.c.version == version
        )
    ).one()
    return _record(row)


def write_snapshot(
    db: StoreEngine,
    artifacts_dir: Path,
    name: str,
    frame: pd.DataFrame,
    *,
    hash: str,
    columns: list[dict[str, Any]],
    source: str,
    meta: dict[str, Any] | None = None,
) -> SnapshotRecord:
    """Store ``frame`` as the next version of snapshot ``name``; all-or-nothing."""
    pending = prepare_snapshot(
        artifacts_dir, name, frame, hash=hash, columns=columns, source=source, meta=meta
    )
    try:
        return db.retry(
            f"store snapshot '{name}'", lambda conn: insert_snapshot(conn, artifacts_dir, pending)
        )
    except BaseException as exc:
        pending.discard()  # also when the commit itself failed after the insert
        if isinstance(exc, ModelloopError) or not isinstance(exc, Exception):
            raise
        raise StoreError(
            f"Storing snapshot '{name}' failed and nothing was stored: {type(exc).__name__}: {exc}"
        ) from exc
