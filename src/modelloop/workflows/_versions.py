"""Library versions recorded with every run and model (lineage)."""

from __future__ import annotations

import platform
from importlib import metadata

_LIBRARIES = (
    "modelloop",
    "scikit-learn",
    "pandas",
    "numpy",
    "pyarrow",
    "lightgbm",
    "xgboost",
    "catboost",
    "skops",
)


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries a model depends on."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
