"""Dataset: a cleaned frame, its schema, and a content hash for lineage."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd

from modelloop.data._schema import Schema
from modelloop.exceptions import TargetError

__all__ = ["Dataset", "content_hash", "make_dataset"]


def content_hash(frame: pd.DataFrame) -> str:
    """sha256 of column names, dtypes and values; row-index labels do not count."""
    h = hashlib.sha256()
    h.update(f"{len(frame)}\0".encode())
    for name in frame.columns:
        col = frame[name]
        h.update(f"{name}\0{col.dtype}\0".encode())
        h.update(pd.util.hash_pandas_object(col, index=False).to_numpy().tobytes())
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded table: the cleaned ``frame``, its ``schema`` and where it came from.

    Identifier and constant columns stay in ``frame`` (predictions can carry ids); the
    schema marks them, so :meth:`features` leaves them out.

    Examples
    --------
    >>> import pandas as pd
    >>> from modelloop.data import load
    >>> ds = load(pd.DataFrame({"x": [1.0, 2.0, 3.5], "y": ["a", "b", "a"]}), target="y")
    >>> ds.n_rows, ds.features().columns.tolist(), ds.target_series().tolist()
    (3, ['x'], ['a', 'b', 'a'])
    """

    frame: pd.DataFrame
    schema: Schema
    hash: str
    source: str
    name: str

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @property
    def n_cols(self) -> int:
        return self.frame.shape[1]

    def features(self) -> pd.DataFrame:
        """The feature columns (no target, identifier or constant columns)."""
        return self.frame[self.schema.feature_columns()]

    def target_series(self) -> pd.Series:
        """The target column; :class:`TargetError` when the dataset has no target."""
        if self.schema.target is None:
            raise TargetError(
                f"{self.name} has no target column. Pass target= (--target) when loading it."
            )
        return self.frame[self.schema.target]

    @property
    def X(self) -> pd.DataFrame:  # the scikit-learn name
        return self.features()

    @property
    def y(self) -> pd.Series:
        return self.target_series()


def make_dataset(frame: pd.DataFrame, schema: Schema, *, source: str, name: str) -> Dataset:
    """A :class:`Dataset` with its hash computed from ``frame``."""
    return Dataset(frame=frame, schema=schema, hash=content_hash(frame), source=source, name=name)
