"""The Python environment an exported model needs: pinned requirements and modelloop itself.

``pinned_requirements`` walks modelloop's runtime requirements (and theirs) through the
installed distributions and pins each to the version installed here; the model libraries
are pinned to the versions the model was trained with, when the training run recorded them.
``build_wheel`` writes a wheel of the installed modelloop package from its files, so that an
export installs the very code that wrote it without a package index that has modelloop.
"""

from __future__ import annotations

import base64
import hashlib
import platform
import re
import zipfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["build_wheel", "modelloop_version", "pinned_requirements", "python_version"]

_DIST = "modelloop"
_SKIP_SUFFIXES = (".pyc", ".pyo")


def modelloop_version() -> str:
    """The installed modelloop version."""
    try:
        return metadata.version(_DIST)
    except metadata.PackageNotFoundError:  # a source tree without install
        return "0.0.0"


def python_version() -> str:
    """This interpreter's version, e.g. ``'3.11.7'``."""
    return platform.python_version()


def _requires(dist: metadata.Distribution, extras: frozenset[str]) -> list[Requirement]:
    env = {key: str(value) for key, value in default_environment().items()}
    found = []
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None:
            found.append(req)
            continue
        if any(req.marker.evaluate({**env, "extra": e}) for e in extras or {""}):
            found.append(req)
    return found


def pinned_requirements(
    trained_with: Mapping[str, str] | None = None, *, extras: tuple[str, ...] = ()
) -> list[str]:
    """``name==version`` for every distribution modelloop needs at run time, sorted.

    ``trained_with`` (a run's ``library_versions``) overrides the installed version of the
    libraries it names, so that the export runs the model with the libraries that fitted it.

    Examples
    --------
    >>> any(line.startswith("scikit-learn==") for line in pinned_requirements())
    True
    """
    pins: dict[str, str] = {}
    overrides = {
        canonicalize_name(k): str(v)
        for k, v in (trained_with or {}).items()
        if k not in ("python", _DIST)
    }
    todo: list[tuple[str, frozenset[str]]] = [(_DIST, frozenset(extras))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = canonicalize_name(dist.metadata["Name"])
        if key != _DIST:
            pins[key] = overrides.get(key, dist.version)
        for req in _requires(dist, wanted):
            todo.append((req.name, frozenset(req.extras)))
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_wheel(folder: Path) -> Path:
    """Write ``modelloop-<version>-py3-none-any.whl`` of the installed package into ``folder``.

    The wheel holds the package's files as installed (code, templates, migrations, the
    bundled data) and the metadata of the installed distribution, so ``pip install`` of it
    gives the same modelloop with the same requirements and the same ``modelloop`` command.
    """
    version = modelloop_version()
    package = Path(__file__).resolve().parents[1]  # the modelloop package folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_DIST}-{version}-py3-none-any.whl"
    info = f"{_DIST}-{version}.dist-info"
    try:
        meta_text = metadata.distribution(_DIST).read_text("METADATA") or ""
    except metadata.PackageNotFoundError:
        meta_text = ""
    if not meta_text:
        meta_text = f"Metadata-Version: 2.1\nName: {_DIST}\nVersion: {version}\n"
    # Only the header: the long description (the README) is not needed to run.
    header = meta_text.split("\n\n", 1)[0]
    header = re.sub(r"^Description-Content-Type:.*\n?", "", header, flags=re.M)
    records: list[str] = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:

        def add(name: str, data: bytes) -> None:
            info_ = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info_.compress_type = zipfile.ZIP_DEFLATED
            info_.external_attr = 0o644 << 16
            zf.writestr(info_, data)
            records.append(f"{name},{_record_hash(data)},{len(data)}")

        for file in sorted(package.rglob("*")):
            if not file.is_file() or "__pycache__" in file.parts:
                continue
            if file.suffix in _SKIP_SUFFIXES:
                continue
            add(f"{_DIST}/{file.relative_to(package).as_posix()}", file.read_bytes())
        add(f"{info}/METADATA", (header.rstrip("\n") + "\n").encode())
        add(
            f"{info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: modelloop export\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n",
        )
        add(f"{info}/entry_points.txt", b"[console_scripts]\nmodelloop = modelloop.cli:run\n")
        record_name = f"{info}/RECORD"
        records.append(f"{record_name},,")
        zf.writestr(
            zipfile.ZipInfo(record_name, date_time=(2020, 1, 1, 0, 0, 0)),
            "\n".join(records) + "\n",
        )
    return path
