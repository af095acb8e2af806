"""The model registry: registered models, their numbered versions, and aliases.

A model version is a skops file under ``artifacts/models/<name>/`` plus one
``model_versions`` row; a version is found by number, by alias (``production``) or as the
latest. :func:`register_model` is all-or-nothing: the file is written and moved into place
first, then the registered model, the version row, its aliases (and its reference data
snapshot, see :mod:`._snapshots`) are inserted in one transaction; if that fails the files
are removed again, so no row ever lacks its file. Reads take a connection; writes take the
:class:`~._engine.StoreEngine` to retry on a conflict with a concurrent writer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from modelloop.exceptions import (
    ArtifactIntegrityError,
    InvalidInputError,
    ModelloopError,
    ModelNotFoundError,
    NotFoundError,
    StoreError,
)
from modelloop.store import _db
from modelloop.store._artifacts import (
    MODEL_FORMAT_VERSION,
    load_model_bytes,
    place_file,
    read_verified,
    write_model_file,
)
from modelloop.store._engine import StoreEngine
from modelloop.store._orphans import owner_tag
from modelloop.store._records import ModelSummary, ModelVersionRecord, version_record
from modelloop.store._refs import check_alias, check_model_name, format_versions, suggest
from modelloop.store._runs import require_run
from modelloop.store._snapshots import (
    PendingSnapshot,
    get_snapshot,
    insert_snapshot,
    parse_snapshot_ref,
    prepare_snapshot,
)
from modelloop.store._tables import data_snapshots, model_aliases, model_versions, registered_models

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "artifact_path",
    "check_version_args",
    "delete_alias",
    "get_model_version",
    "list_models",
    "list_versions",
    "load_model",
    "reference_snapshot",
    "register_model",
    "require_model",
    "require_version",
    "set_alias",
    "verified_file",
]


# -- writes ------------------------------------------------------------------------------


def register_model(
    db: StoreEngine,
    artifacts_dir: Path,
    name: str,
    model: object,
    *,
    trust: bool,
    run_id: str | None,
    schema: dict[str, Any],
    task: str | None,
    metrics: dict[str, Any],
    description: str = "",
    aliases: Sequence[str] = (),
    tags: dict[str, Any] | None = None,
    reference: pd.DataFrame | None = None,
    reference_hash: str | None = None,
    lineage: dict[str, Any] | None = None,
    version: int | None = None,
) -> ModelVersionRecord:
    """Save ``model`` as the next version of ``name``; all-or-nothing (``Store.register_model``
    documents the arguments)."""
    check_model_name(name)
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise InvalidInputError(f"A model version is an integer >= 1. Got {version!r}.")
    if isinstance(aliases, str):
        aliases = (aliases,)
    alias_list = list(dict.fromkeys(check_alias(a) for a in aliases))
    values: dict[str, Any] = {
        "run_id": run_id,
        "schema": _db.json_dict(schema, "schema"),
        "task": task,
        "metrics": _db.json_dict(metrics, "metrics"),
        "description": str(description or ""),
        "tags": _db.json_dict(tags or {}, "tags"),
        "lineage": _db.json_dict(lineage or {}, "lineage"),
        "reference_snapshot": None,
    }
    if run_id is not None:
        with db.read() as conn:
            require_run(conn, run_id, model=name)

    # The reference snapshot (unless one with the same rows exists) is inserted in the
    # version's own transaction: a failed registration leaves no '<name>.reference@N'.
    pending = None
    if reference is not None:
        pending, existing = _reference_snapshot(
            db, artifacts_dir, name, reference, reference_hash, schema
        )
        values["reference_snapshot"] = existing
    what = f"model '{name}'"
    try:
        tmp_path, sha256, size = write_model_file(
            model, artifacts_dir / "tmp", what=what, trust=trust
        )
    except BaseException:
        if pending is not None:
            pending.discard()
        raise
    relative = f"models/{name}/{sha256[:16]}-{owner_tag()}-{uuid.uuid4().hex[:8]}.skops"
    final_path = artifacts_dir / relative
    try:
        place_file(tmp_path, final_path)
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        if pending is not None:
            pending.discard()
        if isinstance(exc, OSError):
            raise StoreError(
                f"Cannot move the model file of {what} to {final_path}: {exc}."
            ) from exc
        raise
    values.update(artifact_path=relative, sha256=sha256, size_bytes=size)

    def body(conn: sa.Connection) -> ModelVersionRecord:
        if pending is not None:
            values["reference_snapshot"] = insert_snapshot(conn, artifacts_dir, pending).ref
        return _insert_version(conn, name, values, alias_list, version)

    try:
        return db.retry(f"register model '{name}'", body)
    except BaseException as exc:
        final_path.unlink(missing_ok=True)
        if pending is not None:
            pending.discard()
        if isinstance(exc, ModelloopError) or not isinstance(exc, Exception):
            raise
        raise StoreError(
            f"Registering model '{name}' failed and nothing was registered: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _reference_snapshot(
    db: StoreEngine,
    artifacts_dir: Path,
    name: str,
    frame: pd.DataFrame,
    content_hash: str | None,
    schema: dict[str, Any],
) -> tuple[PendingSnapshot | None, str | None]:
    """The ``'<name>.reference'`` snapshot of ``frame``: ``(None, ref)`` when a version
    with its content hash exists, else ``(pending, None)``, written to a temporary file
    for the registration's transaction to insert."""
    from modelloop.data import content_hash as hash_of  # pandas and pyarrow: only if needed

    snapshot = f"{name}.reference"
    content_hash = content_hash or hash_of(frame)
    with db.read() as conn:
        row = conn.execute(
            sa.select(data_snapshots.c.version)
            .where(data_snapshots.c.name == snapshot, data_snapshots.c.hash == content_hash)
            .order_by(data_snapshots.c.version.desc())
        ).first()
        if row is not None:
            return None, get_snapshot(conn, snapshot, int(row.version)).ref
    pending = prepare_snapshot(
        artifacts_dir,
        snapshot,
        frame,
        hash=content_hash,
        columns=list(schema.get("columns", [])),
        source=f"training rows of model '{name}'",
        meta={"model": name},
    )
    return pending, None


def _insert_version(
    conn: sa.Connection,
    name: str,
    values: dict[str, Any],
    alias_list: list[str],
    wanted: int | None = None,
) -> ModelVersionRecord:
    stamp = _db.now()
    exists = conn.execute(
        sa.select(registered_models.c.name).where(registered_models.c.name == name)
    ).first()
    if exists is None:
        conn.execute(
            registered_models.insert().values(name=name, created_at=stamp, updated_at=stamp)
        )
    else:
        conn.execute(
            registered_models.update()
            .where(registered_models.c.name == name)
            .values(updated_at=stamp)
        )
    latest = conn.execute(
        sa.select(sa.func.max(model_versions.c.version)).where(model_versions.c.name == name)
    ).scalar()
    version = (latest or 0) + 1
    if wanted is not None:
        if wanted < version:
            raise InvalidInputError(
                f"Cannot register model '{name}' as version {wanted}: version "
                f"{latest} exists. Give a version above {latest}, or none."
            )
        version = wanted
    conn.execute(
        model_versions.insert().values(
            name=name,
            version=version,
            format_version=MODEL_FORMAT_VERSION,
            created_at=stamp,
            **values,
        )
    )
    _write_aliases(conn, name, alias_list, version)
    return _version_record(conn, name, version)


def _write_aliases(conn: sa.Connection, name: str, alias_list: Sequence[str], version: int) -> None:
    stamp = _db.now()
    for alias in alias_list:
        # Delete + insert: a portable upsert inside the caller's transaction.
        conn.execute(
            model_aliases.delete().where(
                model_aliases.c.name == name, model_aliases.c.alias == alias
            )
        )
        conn.execute(
            model_aliases.insert().values(name=name, alias=alias, version=version, updated_at=stamp)
        )
    if alias_list:
        conn.execute(
            registered_models.update()
            .where(registered_models.c.name == name)
            .values(updated_at=stamp)
        )


def set_alias(db: StoreEngine, name: str, alias: str, version: int) -> None:
    """Point ``name@alias`` at ``version``, moving the alias if it exists."""
    check_alias(alias)
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInputError(f"A model version is an integer. Got {version!r}.")

    def body(conn: sa.Connection) -> None:
        require_model(conn, name)
        require_version(conn, name, version)
        _write_aliases(conn, name, [alias], version)

    db.retry(f"set alias '{alias}' of model '{name}'", body)


def delete_alias(db: StoreEngine, name: str, alias: str) -> None:
    """Remove ``name@alias``; the version it pointed at stays."""
    with db.write() as conn:
        require_model(conn, name)
        deleted = conn.execute(
            model_aliases.delete().where(
                model_aliases.c.name == name, model_aliases.c.alias == alias
            )
        ).rowcount
        if not deleted:
            raise ModelNotFoundError(_no_alias_message(conn, name, alias))
        conn.execute(
            registered_models.update()
            .where(registered_models.c.name == name)
            .values(updated_at=_db.now())
        )


# -- reads -------------------------------------------------------------------------------


def check_version_args(name: str, version: int | None, alias: str | None) -> None:
    """``InvalidInputError`` for a version and an alias together, or a version that is not
    an integer."""
    if version is not None and alias is not None:
        raise InvalidInputError(
            f"Give a version or an alias of model '{name}', not both. "
            f"Got version={version!r} and alias={alias!r}."
        )
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise InvalidInputError(f"A model version is an integer. Got {version!r}.")


def get_model_version(
    conn: sa.Connection, name: str, version: int | None = None, alias: str | None = None
) -> ModelVersionRecord:
    """One version of a model: by number, by alias, or the latest when neither is given
    (the arguments checked by :func:`check_version_args`)."""
    require_model(conn, name)
    if alias is not None:
        version = conn.execute(
            sa.select(model_aliases.c.version).where(
                model_aliases.c.name == name, model_aliases.c.alias == alias
            )
        ).scalar()
        if version is None:
            raise ModelNotFoundError(_no_alias_message(conn, name, alias))
    elif version is None:
        version = conn.execute(
            sa.select(sa.func.max(model_versions.c.version)).where(model_versions.c.name == name)
        ).scalar()
        if version is None:  # a registered model always has a version
            raise ModelNotFoundError(f"Model '{name}' has no versions.")
    else:
        require_version(conn, name, version)
    return _version_record(conn, name, version)


def list_models(conn: sa.Connection) -> list[ModelSummary]:
    """Every registered model with its latest version and aliases, by name."""
    models = conn.execute(sa.select(registered_models).order_by(registered_models.c.name)).all()
    stats = {
        row.name: row
        for row in conn.execute(
            sa.select(
                model_versions.c.name,
                sa.func.max(model_versions.c.version).label("latest"),
                sa.func.count().label("n"),
            ).group_by(model_versions.c.name)
        )
    }
    latest = (
        sa.select(model_versions.c.name, sa.func.max(model_versions.c.version).label("latest"))
        .group_by(model_versions.c.name)
        .subquery()
    )
    tasks = {
        row.name: row.task
        for row in conn.execute(
            sa.select(model_versions.c.name, model_versions.c.task).join(
                latest,
                sa.and_(
                    latest.c.name == model_versions.c.name,
                    latest.c.latest == model_versions.c.version,
                ),
            )
        )
    }
    aliases: dict[str, dict[str, int]] = {}
    for row in conn.execute(
        sa.select(model_aliases).order_by(model_aliases.c.name, model_aliases.c.alias)
    ):
        aliases.setdefault(row.name, {})[row.alias] = row.version
    return [
        ModelSummary(
            name=m.name,
            latest_version=int(stats[m.name].latest) if m.name in stats else 0,
            n_versions=int(stats[m.name].n) if m.name in stats else 0,
            aliases=aliases.get(m.name, {}),
            task=tasks.get(m.name),
            created_at=m.created_at,
            updated_at=m.updated_at,
        )
        for m in models
    ]


def list_versions(conn: sa.Connection, name: str) -> list[ModelVersionRecord]:
    """Every version of ``name``, oldest first."""
    require_model(conn, name)
    rows = conn.execute(
        sa.select(model_versions)
        .where(model_versions.c.name == name)
        .order_by(model_versions.c.version)
    ).all()
    by_version = _aliases_by_version(conn, name)
    return [version_record(row, by_version.get(row.version, ())) for row in rows]


def reference_snapshot(record: ModelVersionRecord) -> tuple[str, int | None]:
    """``(snapshot name, version)`` of the training rows a version was registered with;
    ``NotFoundError`` when it was registered without them."""
    if not record.reference_snapshot:
        raise NotFoundError(
            f"Model version {record.ref} has no reference data: it was registered "
            "without its training rows. Retrain and register it with modelloop "
            "(train --register) to keep them."
        )
    return parse_snapshot_ref(record.reference_snapshot)


# -- model files -------------------------------------------------------------------------


def artifact_path(artifacts_dir: Path, record: ModelVersionRecord) -> Path:
    """Where the model file of a version lives (checked to be inside ``artifacts_dir``)."""
    base = artifacts_dir.resolve()
    path = (base / record.artifact_path).resolve()
    if not path.is_relative_to(base):
        raise ArtifactIntegrityError(
            f"Artifact of model '{record.name}' version {record.version} points outside "
            f"the artifact folder ({record.artifact_path!r}); refusing to load it."
        )
    return path


def verified_file(artifacts_dir: Path, record: ModelVersionRecord) -> tuple[Path, bytes]:
    """The path and bytes of a version's model file, checked against its sha256."""
    path = artifact_path(artifacts_dir, record)
    what = f"model '{record.name}' version {record.version}"
    return path, read_verified(path, record.sha256, what=what)


def load_model(artifacts_dir: Path, record: ModelVersionRecord, *, trust: bool) -> object:
    """The deserialized model of a version: sha256 checked, then the one trust check."""
    path, data = verified_file(artifacts_dir, record)
    what = f"model '{record.name}' version {record.version}"
    return load_model_bytes(data, what=what, path=path, trust=trust)


# -- helpers -----------------------------------------------------------------------------


def require_model(conn: sa.Connection, name: str) -> None:
    """``ModelNotFoundError`` (with the closest name) unless ``name`` is registered."""
    found = conn.execute(
        sa.select(registered_models.c.name).where(registered_models.c.name == name)
    ).first()
    if found is not None:
        return
    names = list(
        conn.execute(
            sa.select(registered_models.c.name).order_by(registered_models.c.name)
        ).scalars()
    )
    if not names:
        raise ModelNotFoundError(
            f"No model named {name!r}: no models are registered yet. Train and register one first."
        )
    close = suggest(str(name), names)
    hint = f" Did you mean '{close}'?" if close else ""
    shown = ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")
    raise ModelNotFoundError(f"No model named {name!r}.{hint} Registered: {shown}.")


def require_version(conn: sa.Connection, name: str, version: int) -> None:
    """``ModelNotFoundError`` (listing the versions) unless ``name`` has ``version``."""
    versions = list(
        conn.execute(
            sa.select(model_versions.c.version)
            .where(model_versions.c.name == name)
            .order_by(model_versions.c.version)
        ).scalars()
    )
    if version not in versions:
        raise ModelNotFoundError(
            f"Model '{name}' has no version {version}; versions: {format_versions(versions)}."
        )


def _no_alias_message(conn: sa.Connection, name: str, alias: str) -> str:
    existing = _aliases(conn, name)
    if not existing:
        return (
            f"Model '{name}' has no alias '{alias}'; it has no aliases yet. Set one with "
            f"set_alias('{name}', '{alias}', <version>)."
        )
    close = suggest(alias, existing)
    hint = f" Did you mean '{close}'?" if close else ""
    shown = ", ".join(f"{a} -> {v}" for a, v in existing.items())
    return f"Model '{name}' has no alias '{alias}'.{hint} Aliases: {shown}."


def _aliases(conn: sa.Connection, name: str) -> dict[str, int]:
    rows = conn.execute(
        sa.select(model_aliases.c.alias, model_aliases.c.version)
        .where(model_aliases.c.name == name)
        .order_by(model_aliases.c.alias)
    )
    return {row.alias: row.version for row in rows}


def _aliases_by_version(conn: sa.Connection, name: str) -> dict[int, tuple[str, ...]]:
    by_version: dict[int, tuple[str, ...]] = {}
    for alias, version in _aliases(conn, name).items():
        by_version[version] = (*by_version.get(version, ()), alias)
    return by_version


def _version_record(conn: sa.Connection, name: str, version: int) -> ModelVersionRecord:
    row = conn.execute(
        sa.select(model_versions).where(
            model_versions.c.name == name, model_versions.c.version == version
        )
    ).one()
    return version_record(row, _aliases_by_version(conn, name).get(version, ()))
