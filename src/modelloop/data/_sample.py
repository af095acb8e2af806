"""Loading a file larger than memory: stream it with Arrow and keep a seeded reservoir sample.

Each row gets a random key from a generator seeded with ``seed``, drawn in file order; the
sample is the rows with the smallest keys (per class of the target when stratified). That
is a uniform sample without replacement, the same whether the file is streamed in batches
of any size or sampled in memory, and it costs one pass (two when stratified: the first
counts the classes) in memory bounded by the sample. The kept rows stay in file order.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelloop.data._batches import iter_tables
from modelloop.data._dataset import MIN_ROWS_PER_CLASS, SampleInfo
from modelloop.data._sources import csv_layout, file_kind
from modelloop.data._stream_stats import StreamStats
from modelloop.exceptions import InvalidInputError

__all__ = [
    "MEMORY_FRACTION",
    "SizeEstimate",
    "allocate",
    "available_memory",
    "estimate_size",
    "rows_to_keep",
    "sample_file",
    "sample_frame",
]

MEMORY_FRACTION = 0.25  # a loaded frame may take this share of the available memory
STRATA_MAX = 50  # more distinct target values than this: a uniform sample
BATCH_ROWS = 65_536
_MEMORY_FACTOR = 2.0  # the raw table and the cleaned frame are held at once while loading
_CELL_BYTES = 24.0  # per cell beyond its text: Arrow offsets and validity, pandas values, copies
_COMPRESSION_RATIO = 5.0  # a guess for .gz / .bz2 files, whose unpacked size is not stored
_STREAMED = ("csv", "parquet")


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (``MemAvailable``), or ``None``.

    Examples
    --------
    >>> available_memory() is None or available_memory() > 0
    True
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


@dataclass(frozen=True)
class SizeEstimate:
    """What loading a file whole would take: bytes in memory, rows (exact for Parquet)."""

    bytes: float
    rows: float
    row_bytes: float  # in memory, per row, while loading
    exact_rows: bool


def _unpacked_bytes(path: Path, compression: str | None) -> float:
    size = float(path.stat().st_size)
    if compression == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                return float(sum(i.file_size for i in archive.infolist()))
        except (OSError, zipfile.BadZipFile):
            return size * _COMPRESSION_RATIO
    return size * _COMPRESSION_RATIO if compression else size


def estimate_size(
    path: Path, *, delimiter: str | None = None, encoding: str | None = None
) -> SizeEstimate:
    """Estimate the memory that loading a CSV or Parquet file whole would take.

    CSV: rows from the file size and the average line length of its first 64 KiB; Parquet:
    rows and uncompressed bytes from its footer. Each cell adds 24 bytes, and loading holds
    the raw table and the cleaned frame at once (x2).

    Examples
    --------
    >>> estimate_size(Path("big.csv")).bytes > 8e9  # doctest: +SKIP
    True
    """
    kind = file_kind(path)
    if kind.format == "parquet":
        try:
            meta = pq.ParquetFile(path).metadata
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInputError(f"{path.name} is not a readable table: {exc}") from None
        rows = float(meta.num_rows)
        raw = float(sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)))
        per_row = (raw / max(rows, 1.0) + _CELL_BYTES * meta.num_columns) * _MEMORY_FACTOR
        return SizeEstimate(rows * per_row, rows, per_row, True)
    layout = csv_layout(path, kind, delimiter=delimiter, encoding=encoding, label=path.name)
    rows = _unpacked_bytes(path, kind.compression) / max(layout.row_bytes, 1.0)
    per_row = (layout.row_bytes + _CELL_BYTES * len(layout.names)) * _MEMORY_FACTOR
    return SizeEstimate(rows * per_row, rows, per_row, False)


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"  # pragma: no cover


def rows_to_keep(
    path: Path,
    *,
    sample_rows: int | None,
    memory_limit: float | None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> tuple[int, str] | None:
    """``(rows, reason)`` when ``path`` should be streamed and sampled, else ``None``.

    A file is sampled when it has (probably) more than ``sample_rows`` rows, or when
    loading it whole would take more than ``memory_limit`` bytes (default a quarter of the
    available memory); it then keeps as many rows as fit in that limit, at most
    ``sample_rows``. Small files cost one ``stat`` here.
    """
    kind = file_kind(path)
    if kind.format not in _STREAMED:
        return None
    limit = memory_limit
    if limit is None:
        free = available_memory()
        limit = None if free is None else MEMORY_FRACTION * free
    # a CSV byte takes at most 26 in memory (one-letter cells): far below, no sniffing
    small = kind.format == "csv" and _unpacked_bytes(path, kind.compression) * 64 < (limit or 0)
    if sample_rows is None and small:
        return None
    if sample_rows is None and limit is None:
        return None
    est = estimate_size(path, delimiter=delimiter, encoding=encoding)
    keep: int | None = None
    reason = ""
    if limit is not None and est.bytes > limit:
        keep = max(1, int(limit / est.row_bytes))
        share = "" if memory_limit is not None else f" ({MEMORY_FRACTION:.0%} of available memory)"
        reason = (
            f"loading it whole would take about {_size(est.bytes)} of memory, more than the "
            f"limit of {_size(limit)}{share}"
        )
    if sample_rows is not None and (keep is None or sample_rows < keep):
        # an estimated CSV row count is rough: stream unless the file is clearly smaller
        if keep is None and est.rows <= (sample_rows if est.exact_rows else sample_rows / 2):
            return None
        keep, reason = sample_rows, f"sample_rows={sample_rows:,} was asked"
    return None if keep is None else (keep, reason)


def allocate(counts: Mapping[Hashable, int], rows: int) -> dict[Hashable, int]:
    """Rows per class for a stratified sample of ``rows``: in proportion, with a floor.

    Each class gets its share of ``rows`` (largest remainders round up) but at least
    ``min(its rows, 10)``, taken from the largest classes.

    Examples
    --------
    >>> allocate({"a": 990, "b": 10}, 100)
    {'a': 90, 'b': 10}
    >>> allocate({"a": 30, "b": 20}, 100)
    {'a': 30, 'b': 20}
    """
    total = sum(counts.values())
    if total <= rows:
        return dict(counts)
    order = sorted(counts, key=lambda c: (-counts[c], str(c)))
    exact = {c: rows * counts[c] / total for c in order}
    share = {c: math.floor(exact[c]) for c in order}
    short = rows - sum(share.values())
    for c in sorted(order, key=lambda c: (share[c] - exact[c], order.index(c)))[:short]:
        share[c] += 1
    for c in order:
        floor = min(counts[c], MIN_ROWS_PER_CLASS)
        while share[c] < floor:
            donor = max(
                order,
                key=lambda d: (share[d] - min(counts[d], MIN_ROWS_PER_CLASS), -order.index(d)),
            )
            if share[donor] <= min(counts[donor], MIN_ROWS_PER_CLASS):
                break  # every class is at its floor: fewer rows than classes x floor
            share[donor] -= 1
            share[c] += 1
    return share


class _Bottom:
    """The rows with the ``k`` smallest keys offered so far (one class, or all rows)."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.pieces: list[tuple[pa.Table, np.ndarray, np.ndarray]] = []
        self.held = 0
        self.threshold = math.inf

    def offer(self, table: pa.Table, idx: np.ndarray, keys: np.ndarray, start: int) -> None:
        if self.k <= 0 or not len(idx):
            return
        idx = idx[keys[idx] < self.threshold]
        if not len(idx):
            return
        self.pieces.append((table.take(pa.array(idx)), keys[idx], idx + start))
        self.held += len(idx)
        if self.held >= 2 * self.k:
            self._compact()

    def _compact(self) -> None:
        tables, keys, pos = zip(*self.pieces, strict=True)
        all_keys, all_pos = np.concatenate(keys), np.concatenate(pos)
        table = pa.concat_tables(tables)
        if len(all_keys) > self.k:
            chosen = np.argpartition(all_keys, self.k - 1)[: self.k]
            table = table.take(pa.array(chosen))
            all_keys, all_pos = all_keys[chosen], all_pos[chosen]
        if len(all_keys) >= self.k:
            self.threshold = float(all_keys.max())
        self.pieces = [(table, all_keys, all_pos)]
        self.held = len(all_keys)

    def result(self) -> tuple[pa.Table, np.ndarray] | None:
        if not self.pieces:
            return None
        self._compact()
        table, _, pos = self.pieces[0]
        return table, pos


def _plain(values: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(values.type):
        return values.cast(values.type.value_type)
    return values


def _raw_name(names: list[str], column: str | None) -> str | None:
    if column is None:
        return None
    return next((n for n in names if str(n).strip() == column), None)


def _count_classes(
    path: Path, column: str, delimiter: str | None, encoding: str | None
) -> dict[Hashable, int] | None:
    """Rows per value of ``column`` (None for missing), or None past ``STRATA_MAX`` values."""
    counts: dict[Hashable, int] = {}
    for table in iter_tables(
        path, batch_rows=BATCH_ROWS, delimiter=delimiter, encoding=encoding, columns=[column]
    ):
        values = _plain(table.column(0))
        for item in pc.value_counts(values).to_pylist():
            key = item["values"]
            counts[key] = counts.get(key, 0) + int(item["counts"])
        if len(counts) > STRATA_MAX:
            return None
    return counts


def _codes(values: pa.ChunkedArray, classes: list[Hashable]) -> np.ndarray:
    """Per row, the index of its value in ``classes`` (missing: the index of ``None``)."""
    present = [c for c in classes if c is not None]
    codes = pc.index_in(_plain(values), value_set=pa.array(present, type=_plain(values).type))
    missing = classes.index(None) if None in classes else -1
    return pc.fill_null(codes, missing).to_numpy(zero_copy_only=False).astype(np.int64)


def _stratify(
    names: list[str], stratify_by: str | None, counts_of: Mapping[Hashable, int] | None
) -> tuple[str | None, list[Hashable], dict[Hashable, int] | None]:
    raw = _raw_name(names, stratify_by)
    if raw is None or counts_of is None or len(counts_of) < 2:
        return None, [], None
    return raw, sorted(counts_of, key=lambda c: (c is None, str(c))), dict(counts_of)


def sample_file(
    path: Path,
    rows: int,
    *,
    stratify_by: str | None = None,
    seed: int = 0,
    delimiter: str | None = None,
    encoding: str | None = None,
    reason: str = "",
    batch_rows: int = BATCH_ROWS,
) -> tuple[pd.DataFrame, SampleInfo | None]:
    """Stream a CSV or Parquet file and keep a seeded sample of at most ``rows`` rows.

    Returns the raw frame (CSV columns as strings, as :func:`~modelloop.data.load` reads
    them) of the kept rows in file order, and a :class:`SampleInfo` with the exact row
    count and exact per-column statistics of the whole file; ``None`` instead of the info
    when the file has no more than ``rows`` rows (then every row is kept).

    With ``stratify_by`` (a column with at most 50 distinct values, counted in a first
    pass), each class keeps its share of ``rows``, at least ten rows each.

    Examples
    --------
    >>> frame, info = sample_file(Path("big.csv"), 50_000, seed=0)  # doctest: +SKIP
    >>> info.describe()  # doctest: +SKIP
    'a uniform reservoir sample of 50,000 of 20,000,000 rows (seed 0)'
    """
    names = _column_names(path, delimiter, encoding)
    raw_target = _raw_name(names, stratify_by)
    counts = None if raw_target is None else _count_classes(path, raw_target, delimiter, encoding)
    raw_target, classes, counts = _stratify(names, stratify_by, counts)
    capacity = allocate(counts, rows) if counts is not None else None
    reservoirs = [_Bottom(capacity[c]) for c in classes] if capacity else [_Bottom(rows)]
    rng = np.random.default_rng(seed)
    stats = StreamStats()
    schema: pa.Schema | None = None
    for table in iter_tables(path, batch_rows=batch_rows, delimiter=delimiter, encoding=encoding):
        start, n = stats.rows, table.num_rows
        schema = schema or table.schema
        stats.update(table)
        keys = rng.random(n)
        if raw_target is None:
            reservoirs[0].offer(table, np.arange(n), keys, start)
            continue
        codes = _codes(table.column(raw_target), classes)
        for i, reservoir in enumerate(reservoirs):
            reservoir.offer(table, np.flatnonzero(codes == i), keys, start)
    kept = [r for r in (res.result() for res in reservoirs) if r is not None]
    if not kept:
        empty = schema.empty_table() if schema is not None else pa.table({n: [] for n in names})
        return empty.to_pandas(), None
    table = pa.concat_tables([t for t, _ in kept])
    order = np.argsort(np.concatenate([p for _, p in kept]), kind="stable")
    frame = table.take(pa.array(order)).to_pandas()
    if len(frame) >= stats.rows:
        return frame, None
    info = SampleInfo(
        rows_kept=len(frame),
        rows_total=stats.rows,
        seed=seed,
        stratified_by=stratify_by if raw_target is not None else None,
        reason=reason,
        stats=stats,
    )
    return frame, info


def _column_names(path: Path, delimiter: str | None, encoding: str | None) -> list[str]:
    kind = file_kind(path)
    if kind.format == "parquet":
        try:
            return list(pq.ParquetFile(path).schema_arrow.names)
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInputError(f"{path.name} is not a readable table: {exc}") from None
    return list(
        csv_layout(path, kind, delimiter=delimiter, encoding=encoding, label=path.name).names
    )


def sample_frame(
    frame: pd.DataFrame,
    rows: int,
    *,
    stratify_by: str | None = None,
    seed: int = 0,
    reason: str = "",
) -> tuple[pd.DataFrame, SampleInfo | None]:
    """The in-memory twin of :func:`sample_file`: the same rows for the same seed.

    Examples
    --------
    >>> frame = pd.DataFrame({"x": range(10)})
    >>> kept, info = sample_frame(frame, 3, seed=1)
    >>> len(kept), info.rows_total, kept["x"].is_monotonic_increasing
    (3, 10, True)
    """
    n = len(frame)
    if n <= rows:
        return frame, None
    keys = np.random.default_rng(seed).random(n)
    column = stratify_by if stratify_by in frame.columns else None
    counts = None
    if column is not None:
        values = frame[column].astype(object).where(frame[column].notna(), None)
        counts = values.value_counts(dropna=False).to_dict()
        counts = {(None if pd.isna(k) else k): int(v) for k, v in counts.items()}
        if len(counts) > STRATA_MAX or len(counts) < 2:
            column, counts = None, None
    if counts is None:
        chosen = np.sort(np.argpartition(keys, rows - 1)[:rows])
    else:
        capacity = allocate(counts, rows)
        parts = []
        for value, cap in capacity.items():
            mask = values.isna().to_numpy() if value is None else (values == value).to_numpy()
            idx = np.flatnonzero(mask)
            parts.append(idx[np.argsort(keys[idx], kind="stable")[:cap]])
        chosen = np.sort(np.concatenate(parts))
    info = SampleInfo(
        rows_kept=len(chosen), rows_total=n, seed=seed, stratified_by=column, reason=reason
    )
    return frame.iloc[chosen].reset_index(drop=True), info
