"""Dataset: a cleaned frame, its schema, and a content hash for lineage."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from modelloop.data._images import value_digest
from modelloop.data._schema import Role, Schema
from modelloop.exceptions import TargetError

if TYPE_CHECKING:
    from modelloop.data._stream_stats import StreamStats

__all__ = ["MIN_ROWS_PER_CLASS", "Dataset", "SampleInfo", "content_hash", "make_dataset"]

MIN_ROWS_PER_CLASS = 10  # a stratified sample keeps at least this many rows of each class


def content_hash(frame: pd.DataFrame, image_columns: Sequence[str] = ()) -> str:
    """sha256 of column names, dtypes and values; row-index labels do not count.

    An image column counts by the content of its images (a path by its file's bytes), so
    the same pictures in another folder hash alike and a changed picture does not.
    """
    h = hashlib.sha256()
    h.update(f"{len(frame)}\0".encode())
    for name in frame.columns:
        col = frame[name]
        h.update(f"{name}\0{col.dtype}\0".encode())
        if name in image_columns:
            digests = [value_digest(v) or "" for v in col.tolist()]
            h.update("\0".join(digests).encode())
            continue
        h.update(pd.util.hash_pandas_object(col, index=False).to_numpy().tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class SampleInfo:
    """How a file too big to load whole was sampled: rows kept of rows in the file, and how.

    ``stats`` holds exact figures over every row of the file (row count, missing cells,
    min / max / mean of plain-number columns), computed while the file was streamed.

    Examples
    --------
    >>> info = SampleInfo(rows_kept=5_000, rows_total=200_000, seed=0)
    >>> info.method
    'uniform reservoir sample, seed 0'
    >>> info.describe()
    'a uniform reservoir sample of 5,000 of 200,000 rows (seed 0)'
    """

    rows_kept: int
    rows_total: int
    seed: int
    stratified_by: str | None = None
    reason: str = ""
    stats: StreamStats | None = field(default=None, repr=False, compare=False)

    @property
    def method(self) -> str:
        if self.stratified_by is None:
            return f"uniform reservoir sample, seed {self.seed}"
        return (
            f"reservoir sample stratified by '{self.stratified_by}' (classes in proportion, "
            f"at least {MIN_ROWS_PER_CLASS} rows each), seed {self.seed}"
        )

    def describe(self) -> str:
        """One phrase: what was kept, of how many rows, and how."""
        kind = "uniform" if self.stratified_by is None else f"'{self.stratified_by}'-stratified"
        return (
            f"a {kind} reservoir sample of {self.rows_kept:,} of {self.rows_total:,} rows "
            f"(seed {self.seed})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, without the per-column statistics."""
        return {
            "rows_kept": self.rows_kept,
            "rows_total": self.rows_total,
            "method": self.method,
            "seed": self.seed,
            "stratified_by": self.stratified_by,
            "reason": self.reason,
        }


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded table: the cleaned ``frame``, its ``schema`` and where it came from.

    Identifier and constant columns stay in ``frame`` (predictions can carry ids); the
    schema marks them, so :meth:`features` leaves them out. ``sample`` is set when ``frame``
    holds a sample of a larger file (see :class:`SampleInfo`), ``None`` when it holds every row.

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
    sample: SampleInfo | None = None

    def __repr__(self) -> str:
        target = f", target {self.schema.target!r}" if self.schema.target else ""
        sample = " (a sample)" if self.sample is not None else ""
        return (
            f"Dataset({self.name!r}: {self.n_rows:,} rows × {self.n_cols} columns{sample}"
            f"{target}, hash {self.hash[:12]})"
        )

    def _repr_html_(self) -> str:
        """The notebook view: size, target, and each column's role, missing values, note."""
        from modelloop.data._repr import html_table, html_view

        facts = [f"{self.n_rows:,} rows × {self.n_cols} columns", f"hash {self.hash[:12]}"]
        if self.schema.target:
            facts.insert(1, f"target {self.schema.target}")
        if self.sample is not None:
            facts.append(self.sample.describe())
        rows = [
            [c.name, c.role.value, c.dtype, c.n_missing, c.n_unique, c.note]
            for c in self.schema.columns
        ]
        columns = html_table(["column", "role", "dtype", "missing", "distinct", "note"], rows,
                             limit=50)  # fmt: skip
        return html_view(f"Dataset {self.name}", facts, [("Columns", columns)])

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


def make_dataset(
    frame: pd.DataFrame,
    schema: Schema,
    *,
    source: str,
    name: str,
    sample: SampleInfo | None = None,
) -> Dataset:
    """A :class:`Dataset` with its hash computed from ``frame``."""
    return Dataset(
        frame=frame,
        schema=schema,
        hash=content_hash(frame, schema.by_role(Role.IMAGE)),
        source=source,
        name=name,
        sample=sample,
    )
