"""Datasets that ship with modelloop or scikit-learn: every task type, offline.

Nothing here downloads: the Titanic file is part of the package, the others are the small
tables scikit-learn installs with itself (``sklearn.datasets.load_*``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from modelloop.exceptions import NotFoundError

__all__ = ["BundledDataset", "bundled_dataset", "bundled_datasets", "load_bundled"]


@dataclass(frozen=True)
class BundledDataset:
    """A dataset available offline: its name, task, target column, size and origin."""

    name: str
    task: str
    target: str
    n_rows: int
    n_cols: int
    origin: str
    description: str


_CATALOG = (
    BundledDataset(
        "titanic",
        "binary",
        "Survived",
        891,
        12,
        "modelloop",
        "Titanic passengers: who survived (mixed types, missing values).",
    ),
    BundledDataset(
        "breast_cancer",
        "binary",
        "target",
        569,
        31,
        "scikit-learn",
        "Wisconsin breast cancer: malignant or benign from 30 cell measurements.",
    ),
    BundledDataset(
        "iris",
        "multiclass",
        "species",
        150,
        5,
        "scikit-learn",
        "Iris flowers: species from sepal and petal sizes.",
    ),
    BundledDataset(
        "wine",
        "multiclass",
        "cultivar",
        178,
        14,
        "scikit-learn",
        "Wine: cultivar from 13 chemical measurements.",
    ),
    BundledDataset(
        "digits",
        "multiclass",
        "digit",
        1797,
        65,
        "scikit-learn",
        "Hand-written digits: 8x8 pixel intensities.",
    ),
    BundledDataset(
        "diabetes",
        "regression",
        "progression",
        442,
        11,
        "scikit-learn",
        "Diabetes: disease progression after one year from 10 baseline values.",
    ),
    BundledDataset(
        "linnerud",
        "regression",
        "Weight",
        20,
        4,
        "scikit-learn",
        "Linnerud: body weight from three exercise counts (tiny).",
    ),
)


def bundled_datasets() -> list[BundledDataset]:
    """Every dataset :func:`load_bundled` can return, binary first, then multiclass, regression.

    Examples
    --------
    >>> [d.name for d in bundled_datasets()][:3]
    ['titanic', 'breast_cancer', 'iris']
    """
    return list(_CATALOG)


def bundled_dataset(name: str) -> BundledDataset:
    """The catalog entry of ``name``; :class:`NotFoundError` naming the choices otherwise."""
    for entry in _CATALOG:
        if entry.name == name.strip().lower():
            return entry
    names = [d.name for d in _CATALOG]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise NotFoundError(f"No bundled dataset {name!r}.{hint} Available: {', '.join(names)}.")


def titanic_path() -> Path:
    return Path(str(resources.files("modelloop") / "examples" / "titanic.csv"))


def load_bundled(name: str) -> pd.DataFrame:
    """A bundled dataset as a raw DataFrame with its target column last (titanic: as shipped).

    Examples
    --------
    >>> frame = load_bundled("iris")
    >>> frame.shape, frame["species"].unique().tolist()
    ((150, 5), ['setosa', 'versicolor', 'virginica'])
    """
    entry = bundled_dataset(name)
    if entry.name == "titanic":
        return pd.read_csv(titanic_path(), dtype=str, keep_default_na=False)
    from sklearn import datasets

    loader = getattr(datasets, f"load_{entry.name}")
    bunch = loader(as_frame=True)
    frame = bunch.frame.copy()
    if entry.name == "linnerud":
        frame = bunch.data.join(bunch.target[["Weight"]])
        return frame
    frame = frame.rename(columns={"target": entry.target})
    names = getattr(bunch, "target_names", None)
    if entry.task != "regression" and names is not None and entry.name != "breast_cancer":
        frame[entry.target] = [str(names[int(i)]) for i in frame[entry.target]]
    if entry.name == "breast_cancer":
        frame[entry.target] = frame[entry.target].map({0: "malignant", 1: "benign"}).astype("str")
    return frame
