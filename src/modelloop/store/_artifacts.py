"""Model files: skops format, versioned, hashed, loaded only with trusted types.

A model file holds one dict ``{"format": "modelloop-model", "format_version": N,
"model": obj}`` written with :func:`skops.io.dump`. Loading a file

1. checks its sha256 against the one recorded in the store, before anything is parsed;
2. refuses a ``format_version`` newer than :data:`MODEL_FORMAT_VERSION`;
3. loads only what the one trust check allows (:mod:`._trust`: the exact classes
   modelloop's pipelines are made of, no functions), unless the store was opened with
   ``trust``; anything else stops the load with an error naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import zipfile
from pathlib import Path
from typing import Any

from modelloop.exceptions import (
    ArtifactIntegrityError,
    InvalidInputError,
    StoreError,
    UntrustedModelError,
)
from modelloop.store._orphans import owner_tag
from modelloop.store._trust import (
    TRUSTED_TYPES,
    load_skops,
    skops_io,
    skops_schema,
    untrusted_types,
)

__all__ = [
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
    "TRUSTED_TYPES",
    "file_sha256",
    "load_model_bytes",
    "place_file",
    "read_verified",
    "untrusted_types",
    "write_model_file",
]

MODEL_FORMAT = "modelloop-model"
MODEL_FORMAT_VERSION = 1

_CHUNK = 1 << 20


def _fsync_dir(path: Path) -> None:
    # Make a rename durable; directories cannot be opened this way on Windows.
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_model_file(
    model: object, tmp_dir: Path, *, what: str, trust: bool = False
) -> tuple[Path, str, int]:
    """Write ``model`` as a modelloop model file in ``tmp_dir``; fsync it.

    Returns the temporary path, the sha256 of the bytes on disk and their size. The
    caller moves the file into place (``os.replace``) and removes it on any failure.
    A model holding types that :func:`load_model_bytes` would refuse is refused here
    already (unless ``trust``), so nothing unloadable ever gets registered. The temporary
    file's name starts with the writer's owner tag (:func:`._orphans.owner_tag`), so that a
    sweep can tell the files of a process that died from those of one still writing.
    """
    sio = skops_io()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp_path = tmp_dir / f"{owner_tag()}-{uuid.uuid4().hex}.skops.partial"
    wrapper = {"format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION, "model": model}
    try:
        try:
            with open(tmp_path, "wb") as fh:
                # Deflated: skops keeps every object's description as JSON (tens of
                # kilobytes per tree of a forest) beside the arrays; compressed, a forest's
                # file is 4-6 times smaller (21.9 MB -> 3.4 MB, spambase's random forest)
                # for about 0.3 s more to write and 0.1 s more to load.
                sio.dump(wrapper, fh, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise StoreError(f"Cannot write the model file of {what} in {tmp_dir}: {exc}.") from exc
        except Exception as exc:
            raise InvalidInputError(
                f"Cannot save {what} in the skops format: {type(exc).__name__}: {exc}. "
                "Register a fitted scikit-learn compatible estimator or Pipeline."
            ) from exc
        refused = [] if trust else untrusted_types(file=tmp_path)
        if refused:
            raise UntrustedModelError(
                f"Cannot register {what}: it holds types modelloop would refuse to load: "
                f"{', '.join(refused)}. Only the classes modelloop's own pipelines are made "
                "of are trusted, and no functions; open the store with trust=True (--trust) "
                "only for models you made yourself."
            )
        sha256 = file_sha256(tmp_path)
        size = tmp_path.stat().st_size
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return tmp_path, sha256, size


def place_file(tmp_path: Path, final_path: Path) -> None:
    """Atomically move a written temp file to its final place, durably."""
    final_path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp_path, final_path)
    _fsync_dir(final_path.parent)


def read_verified(path: Path, expected_sha256: str, *, what: str) -> bytes:
    """The bytes of an artifact, after checking they hash to ``expected_sha256``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactIntegrityError(
            f"Artifact of {what} is missing at {path} (deleted or moved); cannot load it. "
            "Restore the file, or register the model again."
        ) from None
    except OSError as exc:
        raise ArtifactIntegrityError(
            f"Artifact of {what} at {path} cannot be read: {exc}."
        ) from exc
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ArtifactIntegrityError(
            f"Artifact of {what} at {path} does not match its recorded sha256 (file changed "
            "or corrupted); refusing to load it."
        )
    return data


def _peek_format(data: bytes, *, what: str, path: Path) -> tuple[str | None, Any]:
    """Read ``format`` and ``format_version`` from the file's schema without loading it."""
    schema = skops_schema(data, what=f"The model file of {what} at {path}")
    content = schema.get("content") if isinstance(schema, dict) else None
    if not isinstance(content, dict):
        return None, None
    values: list[Any] = []
    for key in ("format", "format_version"):
        node: Any = content.get(key)
        try:
            values.append(json.loads(node["content"]) if node.get("is_json") else None)
        except (AttributeError, KeyError, TypeError, ValueError):
            values.append(None)
    return values[0], values[1]


def _check_format(fmt: Any, version: Any, *, what: str, path: Path) -> None:
    if fmt != MODEL_FORMAT:
        raise StoreError(
            f"Artifact of {what} at {path} is not a modelloop model file (format {fmt!r}, "
            f"expected {MODEL_FORMAT!r}); cannot load it."
        )
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise StoreError(
            f"Artifact of {what} at {path} has an invalid model file format version "
            f"{version!r}; cannot load it."
        )
    if version > MODEL_FORMAT_VERSION:
        raise StoreError(
            f"Artifact of {what} at {path}: model file format version {version} is newer "
            f"than this modelloop supports ({MODEL_FORMAT_VERSION}); upgrade modelloop."
        )


def load_model_bytes(data: bytes, *, what: str, path: Path, trust: bool = False) -> object:
    """Deserialize verified model-file bytes; return the model object.

    ``data`` must already be checked against the recorded sha256 (:func:`read_verified`).
    The trust check (:func:`._trust.load_skops`) runs before anything is built.
    """
    fmt, version = _peek_format(data, what=what, path=path)
    if version is not None:
        # Checked before loading: a newer file may hold types this version cannot build.
        _check_format(fmt, version, what=what, path=path)
    wrapper = load_skops(data, what=f"The model file of {what} at {path}", trust=trust)
    if not isinstance(wrapper, dict):
        raise StoreError(
            f"Artifact of {what} at {path} is not a modelloop model file (it holds a "
            f"{type(wrapper).__name__}, not the expected dict); cannot load it."
        )
    _check_format(wrapper.get("format"), wrapper.get("format_version"), what=what, path=path)
    return wrapper["model"]
