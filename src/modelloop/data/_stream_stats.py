"""Exact column statistics of a file too big for memory, computed batch by batch with Arrow.

Rows, missing cells per column, and count / min / max / mean of the columns whose every
value is a plain number: what a profile can state exactly about the whole file while its
other figures come from a sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from modelloop.data._batches import iter_tables, numbers_or_none

__all__ = ["ColumnStats", "StreamStats", "stream_stats"]


@dataclass
class ColumnStats:
    """Exact figures of one column; ``numeric`` is False once a value was not a number."""

    missing: int = 0
    numeric: bool = True
    count: int = 0  # non-missing numbers
    total: float = 0.0
    min: float | None = None
    max: float | None = None

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.numeric and self.count else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"missing": self.missing}
        if self.numeric and self.count:
            out.update(count=self.count, min=self.min, max=self.max, mean=self.mean)
        return out


def _numbers(values: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array | None:
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return pc.cast(values, pa.float64())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return numbers_or_none(values)
    return None


@dataclass
class StreamStats:
    """Exact row count and per-column :class:`ColumnStats`, updated one batch at a time.

    Examples
    --------
    >>> import pyarrow as pa
    >>> stats = StreamStats()
    >>> stats.update(pa.table({"x": ["1", None, "3"], "c": ["a", None, "b"]}))
    >>> stats.update(pa.table({"x": ["5"], "c": ["a"]}))
    >>> stats.rows, stats.columns["x"].to_dict(), stats.columns["c"].to_dict()
    (4, {'missing': 1, 'count': 3, 'min': 1.0, 'max': 5.0, 'mean': 3.0}, {'missing': 1})
    """

    rows: int = 0
    columns: dict[str, ColumnStats] = field(default_factory=dict)

    def update(self, table: pa.Table) -> None:
        """Add one batch (columns as raw strings or typed Arrow values)."""
        self.rows += table.num_rows
        for name, values in zip(table.column_names, table.columns, strict=True):
            col = self.columns.setdefault(str(name).strip(), ColumnStats())
            col.missing += values.null_count
            if not col.numeric:
                continue
            numbers = _numbers(values)
            if numbers is None:
                col.numeric = False
                continue
            if pa.types.is_floating(values.type):  # NaN in a typed column reads as missing
                nan = pc.fill_null(pc.is_nan(numbers), False)
                col.missing += int(pc.sum(nan).as_py() or 0)
                numbers = pc.filter(numbers, pc.invert(nan))
            present = int(pc.count(numbers).as_py())
            if not present:
                continue
            bounds = pc.min_max(numbers).as_py()
            col.count += present
            col.total += float(pc.sum(numbers).as_py())
            col.min = bounds["min"] if col.min is None else min(col.min, bounds["min"])
            col.max = bounds["max"] if col.max is None else max(col.max, bounds["max"])

    def missing_share(self, column: str) -> float | None:
        """Share of rows in which ``column`` is missing, or None for an unknown column."""
        col = self.columns.get(column)
        return None if col is None or not self.rows else col.missing / self.rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: {'rows': n, 'columns': {name: {'missing', 'count', 'min', ...}}}."""

        def safe(v: Any) -> Any:
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {
            "rows": self.rows,
            "columns": {
                name: {k: safe(v) for k, v in col.to_dict().items()}
                for name, col in self.columns.items()
            },
        }


def stream_stats(
    path: str | Path,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    batch_rows: int = 65_536,
) -> StreamStats:
    """Exact statistics of a CSV or Parquet file in one pass, in memory that does not grow.

    Examples
    --------
    >>> stats = stream_stats("big.csv")  # doctest: +SKIP
    >>> stats.rows, stats.columns["age"].mean  # doctest: +SKIP
    (20000000, 39.2)
    """
    stats = StreamStats()
    for table in iter_tables(
        Path(path).expanduser(), batch_rows=batch_rows, delimiter=delimiter, encoding=encoding
    ):
        stats.update(table)
    return stats
