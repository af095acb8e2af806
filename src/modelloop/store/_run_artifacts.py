"""Files kept beside a run: ``artifacts/runs/<run_id>/``, written once, checked on every read.

A run's files (for example the evaluation data a report is drawn from) are written into a
temporary folder, each file fsynced, with a ``manifest.json`` that records every file's
sha256 and size; the folder is then renamed into place in one step. So a run either has
all its files or none, and :func:`read_run_file` refuses a file whose bytes differ from the
manifest. No database row is involved: the run id is the key, and the functions here take
the store's artifact folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from modelloop.exceptions import ArtifactIntegrityError, InvalidInputError, StoreError
from modelloop.store._artifacts import _fsync_dir
from modelloop.store._orphans import owner_tag

__all__ = ["MANIFEST", "read_run_file", "run_files", "write_run_files"]

MANIFEST = "manifest.json"
_FORMAT = "modelloop-run-files"
_FORMAT_VERSION = 1
_FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _run_dir(artifacts_dir: Path, run_id: str) -> Path:
    return artifacts_dir / "runs" / run_id


def write_run_files(artifacts_dir: Path, run_id: str, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` (name -> bytes) as the files of run ``run_id``; all-or-nothing.

    ``run_id`` must be a full run id of this store. A run's files are written once:
    writing again raises ``StoreError``.
    """
    if not files:
        raise InvalidInputError("write_run_files needs at least one file. Got none.")
    for name, data in files.items():
        if not isinstance(name, str) or not _FILE_RE.match(name) or name == MANIFEST:
            raise InvalidInputError(
                "A run file name holds only letters, digits, '.', '_' and '-' (not "
                f"{MANIFEST!r}). Got {name!r}."
            )
        if not isinstance(data, bytes | bytearray):
            raise InvalidInputError(f"Run file {name!r} must be bytes. Got {type(data).__name__}.")
    final = _run_dir(artifacts_dir, run_id)
    if final.exists():
        raise StoreError(
            f"Run {run_id[:8]} already has files at {final}; a run's files are written once."
        )
    tmp = artifacts_dir / "tmp" / f"{owner_tag()}-run-{uuid.uuid4().hex}.partial"
    try:
        tmp.mkdir(parents=True)
        manifest: dict[str, object] = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "run_id": run_id,
            "files": {},
        }
        entries: dict[str, dict[str, object]] = {}
        for name, data in [*files.items()]:
            _write_synced(tmp / name, bytes(data))
            entries[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        manifest["files"] = entries
        _write_synced(tmp / MANIFEST, json.dumps(manifest, indent=1).encode())
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, final)  # one step: the folder appears complete or not at all
        _fsync_dir(final.parent)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StoreError(f"Cannot write the files of run {run_id[:8]} to {final}: {exc}.") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def run_files(artifacts_dir: Path, run_id: str) -> dict[str, str]:
    """The files of run ``run_id`` as name -> sha256; empty when the run has none."""
    path = _run_dir(artifacts_dir, run_id) / MANIFEST
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
        return {str(name): str(entry["sha256"]) for name, entry in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ArtifactIntegrityError(
            f"The manifest of run {run_id[:8]} at {path} is unreadable or damaged ({exc}); "
            "its files cannot be trusted."
        ) from exc


def read_run_file(artifacts_dir: Path, run_id: str, name: str) -> bytes:
    """The bytes of file ``name`` of run ``run_id``, checked against its recorded sha256."""
    files = run_files(artifacts_dir, run_id)
    if name not in files:
        shown = ", ".join(sorted(files)) or "none"
        raise StoreError(f"Run {run_id[:8]} has no file {name!r}; its files: {shown}.")
    path = _run_dir(artifacts_dir, run_id) / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactIntegrityError(
            f"File {name!r} of run {run_id[:8]} at {path} cannot be read: {exc}."
        ) from exc
    if hashlib.sha256(data).hexdigest() != files[name]:
        raise ArtifactIntegrityError(
            f"File {name!r} of run {run_id[:8]} at {path} does not match its recorded sha256 "
            "(changed or corrupted); refusing to use it."
        )
    return data
