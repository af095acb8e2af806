"""Folders of images as tables, and the check every image column gets when it is loaded.

A folder becomes a table with one row per image file: the column ``image`` (the file's
absolute path) and, when the images sit in one sub-folder per class
(``photos/<class>/*.jpg``), the column ``label`` (the sub-folder's name). A folder that
holds ``train/`` beside ``val/`` (or ``valid``, ``validation``, ``test``), each laid out by
class, is a split: :func:`image_splits` finds the two.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from modelloop.data._images import IMAGE_EXTENSIONS, open_image
from modelloop.data._schema import Role, Schema
from modelloop.exceptions import EmptyDataError, InvalidInputError

__all__ = [
    "IMAGE_COLUMN",
    "LABEL_COLUMN",
    "check_images",
    "image_splits",
    "read_image_folder",
]

IMAGE_COLUMN = "image"
LABEL_COLUMN = "label"
_TRAIN = ("train", "training")
_TEST = ("val", "valid", "validation", "test")
_LISTED = 5


def _images_in(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def _others_in(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() not in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )


def image_splits(path: str | Path) -> tuple[Path, Path] | None:
    """``(train folder, test folder)`` when ``path`` holds ``train/`` and ``val/`` (or
    ``valid``, ``validation``, ``test``); else ``None``.

    Examples
    --------
    >>> image_splits("/nonexistent") is None
    True
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        return None
    subs = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    train = next((subs[n] for n in _TRAIN if n in subs), None)
    test = next((subs[n] for n in _TEST if n in subs), None)
    return (train, test) if train is not None and test is not None else None


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:_LISTED])
    return shown + (f" and {len(paths) - _LISTED} more" if len(paths) > _LISTED else "")


def read_image_folder(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """A folder of images as a raw table (``image`` paths, ``label`` per class folder).

    Returns the frame and notes (files that were left out). Image files directly in the
    folder give a table without labels (images to predict); with class sub-folders the
    files beside them are left out. A split folder (``train/`` and ``val/``) reads its
    training split.

    Raises
    ------
    EmptyDataError
        No image file (by extension) in the folder or its class folders.
    """
    root = Path(path).expanduser().resolve()
    notes: list[str] = []
    splits = image_splits(root)
    if splits is not None:
        notes.append(f"{root.name}/ holds a split: read {splits[0].name}/ (the training images).")
        root = splits[0]
    classes = [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    classes = [p for p in classes if _images_in(p)]
    others: list[Path] = []
    if classes:
        rows = [(str(f), c.name) for c in classes for f in _images_in(c)]
        for c in classes:
            others += _others_in(c)
        loose = _images_in(root)
        if loose:
            notes.append(
                f"{len(loose)} image file(s) directly in {root.name}/, outside the class "
                f"folders, were left out: {_listing([p.name for p in loose])}."
            )
        frame = pd.DataFrame(rows, columns=[IMAGE_COLUMN, LABEL_COLUMN])
    else:
        files = _images_in(root)
        if not files:
            raise EmptyDataError(
                f"{root} holds no image files ({', '.join(IMAGE_EXTENSIONS)}), neither "
                "directly nor in one sub-folder per class (photos/<class>/*.jpg)."
            )
        frame = pd.DataFrame({IMAGE_COLUMN: [str(f) for f in files]})
    others += _others_in(root)
    if others:
        notes.append(
            f"{len(others)} file(s) without an image extension were left out: "
            f"{_listing([str(p.relative_to(root)) for p in others])}."
        )
    return frame, notes


def check_images(
    frame: pd.DataFrame, schema: Schema, *, base: Path | None, label: str
) -> tuple[pd.DataFrame, list[str]]:
    """Resolve relative paths of image columns against ``base`` and open every image once.

    Rows whose image cannot be used (no such file, not an image, a placeholder) are left
    out; the notes count them and name the first few with the reason.

    Raises
    ------
    EmptyDataError
        No row has a usable image.
    """
    columns = schema.by_role(Role.IMAGE)
    if not columns:
        return frame, []
    frame = frame.copy()
    keep = np.ones(len(frame), dtype=bool)
    problems: list[str] = []
    for name in columns:
        values = frame[name].tolist()
        for i, value in enumerate(values):
            if not isinstance(value, str | bytes) or not keep[i]:
                continue
            if isinstance(value, str) and not value.startswith("data:"):
                path = Path(value).expanduser()
                if not path.is_absolute() and base is not None:
                    path = base / path
                value = values[i] = str(path.resolve())
            try:
                open_image(value, reduce_to=64)
            except InvalidInputError as exc:
                keep[i] = False
                problems.append(str(exc).rstrip("."))
        frame[name] = values
    if not keep.any():
        raise EmptyDataError(
            f"{label}: no row has a usable image ({len(problems)} could not be used; e.g. "
            f"{problems[0]})."
        )
    notes = []
    if problems:
        notes.append(
            f"{len(problems)} image(s) could not be used and their rows were left out: "
            f"{'; '.join(problems[:_LISTED])}"
            f"{f'; and {len(problems) - _LISTED} more' if len(problems) > _LISTED else ''}."
        )
        frame = frame.loc[keep].reset_index(drop=True)
    return frame, notes
