"""Where an export is written: a fresh folder, filled in a temporary sibling, then renamed.

Nothing half-written is ever left at the output path: every format writes into a temporary
folder next to it, which is moved into place only when the whole export succeeded (and a
folder the user allowed to replace with ``--force`` is removed only then). The folder gets
a ``MANIFEST.sha256`` listing the sha256 of every file in it; the sha256 of the manifest
is the export's sha256 recorded in the store.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelloop.exceptions import ExportError

__all__ = ["MANIFEST", "file_sha256", "output_folder", "write_manifest"]

MANIFEST = "MANIFEST.sha256"
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ExportError(f"The output {out} exists and is a file; give a folder path.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ExportError(
            f"The output folder {out} exists and is not empty; choose another folder or pass "
            "--force to replace it."
        )


@contextmanager
def output_folder(out: str | Path, *, force: bool = False) -> Iterator[Path]:
    """A temporary folder beside ``out`` to write into; moved to ``out`` on success.

    Raises
    ------
    ExportError
        ``out`` is a file, or a folder that is not empty (unless ``force``).
    """
    out = Path(out).expanduser().absolute()
    _check_target(out, force)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
    except OSError as exc:
        raise ExportError(f"Cannot write the export to {out}: {exc}.") from None
    try:
        yield tmp
        _check_target(out, force)  # it may have been filled while we wrote
        if out.exists():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_manifest(folder: Path) -> str:
    """Write ``MANIFEST.sha256`` (``sha256  path`` per file, as ``sha256sum -c`` reads it);
    return its own sha256."""
    lines = [f"{file_sha256(p)}  {p.relative_to(folder).as_posix()}\n" for p in _files(folder)]
    data = "".join(lines).encode()
    (folder / MANIFEST).write_bytes(data)
    return hashlib.sha256(data).hexdigest()
