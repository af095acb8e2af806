"""iter_batches(): stream a large file as raw frames in constant memory."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from modelloop.data._schema import Role, Schema
from modelloop.data._sources import (
    arrow_options,
    arrow_source,
    check_unique,
    csv_layout,
    file_kind,
    is_url,
    iter_json_lines,
    read_file,
)
from modelloop.data._values import MISSING_MARKERS
from modelloop.exceptions import ConfigurationError, InvalidInputError, UnsupportedSourceError

__all__ = ["iter_batches", "iter_tables", "numbers_or_none", "sniff_format"]

_MIN_BLOCK = 1 << 16
_MAX_BLOCK = 1 << 26


def sniff_format(path: str | Path) -> str:
    """The format of a file from its name: 'csv', 'parquet', 'json', 'jsonl' or 'excel'.

    Examples
    --------
    >>> sniff_format("scores.csv.gz"), sniff_format("rows.ndjson")
    ('csv', 'jsonl')
    """
    return file_kind(Path(path)).format


def _slices(batches: Iterator[pa.RecordBatch], batch_rows: int) -> Iterator[pa.Table]:
    """Regroup record batches of any size into tables of exactly ``batch_rows`` rows."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        held += batch.num_rows
        while held >= batch_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, batch_rows)
            rest = table.slice(batch_rows)
            pending = rest.to_batches()
            held = rest.num_rows
    if held:
        yield pa.Table.from_batches(pending)


_MARKERS = pa.array(sorted(MISSING_MARKERS), type=pa.string())


def numbers_or_none(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray | None:
    """Text cells as float64 when every one is a plain number or a missing marker, else None.

    The cast is the one :func:`~modelloop.data.conform` ends with, so the numbers are the
    same bit for bit; a column with anything else (padded text, 'forty', 'NAN') gives
    ``None`` and stays text for ``conform`` to parse or to report as it always has.

    Examples
    --------
    >>> import pyarrow as pa
    >>> numbers_or_none(pa.array(["1.5", "NA", None])).to_pylist()
    [1.5, None, None]
    >>> numbers_or_none(pa.array(["1.5", " 2"])) is None
    True
    """
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return None
    values = pc.if_else(pc.is_in(values, value_set=_MARKERS.cast(values.type)), None, values)
    try:
        numbers = pc.cast(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if pc.any(pc.is_nan(numbers)).as_py():  # 'NAN', '-nan' are not missing markers
        return None
    return numbers


def _typed(table: pa.Table, numeric: Collection[str]) -> pa.Table:
    for name in numeric:
        i = table.schema.get_field_index(name)
        if i < 0:
            continue
        numbers = numbers_or_none(table.column(i))
        if numbers is not None:
            table = table.set_column(i, name, numbers)
    return table


def _numeric_features(schema: Schema | None, raw: Collection[str]) -> list[str]:
    if schema is None:
        return []
    return [
        c.name
        for c in schema.columns
        if c.role is Role.NUMERIC and c.name != schema.target and c.name not in raw
    ]


def _csv_tables(
    path: Path,
    batch_rows: int,
    delimiter: str | None,
    encoding: str | None,
    columns: Collection[str] | None = None,
) -> Iterator[pa.Table]:
    kind = file_kind(path)
    label = path.name
    layout = csv_layout(path, kind, delimiter=delimiter, encoding=encoding, label=label)
    check_unique(list(layout.names), label)
    block = int(min(max(layout.row_bytes * batch_rows, _MIN_BLOCK), _MAX_BLOCK))
    read, parse, convert = arrow_options(layout, block_size=block)
    if columns is not None:
        convert.include_columns = list(columns)
    try:
        reader = pacsv.open_csv(
            arrow_source(path, kind),
            read_options=read,
            parse_options=parse,
            convert_options=convert,
        )
        yield from _slices(iter(reader), batch_rows)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(
            f"{label} is not a readable table: {first}. Pass delimiter= / encoding= "
            "(--delimiter / --encoding) if they were sniffed wrong."
        ) from None


def _csv_batches(
    path: Path,
    batch_rows: int,
    delimiter: str | None,
    encoding: str | None,
    numeric: Collection[str] = (),
) -> Iterator[pd.DataFrame]:
    for table in _csv_tables(path, batch_rows, delimiter, encoding):
        yield _typed(table, numeric).to_pandas()


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInputError(f"{path.name} is not a readable table: {exc}") from None


def iter_tables(
    path: Path,
    *,
    batch_rows: int = 65_536,
    delimiter: str | None = None,
    encoding: str | None = None,
    columns: Collection[str] | None = None,
) -> Iterator[pa.Table]:
    """Stream a CSV or Parquet file as Arrow tables of at most ``batch_rows`` rows.

    CSV columns come as strings (null for missing markers), exactly what reading the whole
    file gives; Parquet columns keep their types. ``columns`` reads only those (raw names).

    Examples
    --------
    >>> sum(t.num_rows for t in iter_tables(Path("big.csv")))  # doctest: +SKIP
    20000000
    """
    kind = file_kind(path)
    if kind.format == "csv":
        yield from _csv_tables(path, batch_rows, delimiter, encoding, columns)
    elif kind.format == "parquet":
        parquet = _parquet_file(path)
        wanted = None if columns is None else list(columns)
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted):
            yield pa.Table.from_batches([batch])
    else:
        raise UnsupportedSourceError(
            f"{path.name} is {kind.format}; only CSV and Parquet files are streamed as tables."
        )


def _jsonl_batches(path: Path, batch_rows: int) -> Iterator[pd.DataFrame]:
    kind = file_kind(path)
    columns: list[str] = []
    records: list[dict] = []

    def flush() -> pd.DataFrame:
        for record in records:
            for key in record:
                if key not in seen:
                    seen.add(key)
                    columns.append(key)
        frame = pd.DataFrame.from_records(records, columns=columns)
        return frame.astype(object)  # one dtype whatever a batch happens to hold

    seen: set[str] = set()
    for _, record in iter_json_lines(path, kind, path.name):
        records.append(record)
        if len(records) == batch_rows:
            yield flush()
            records = []
    if records:
        yield flush()


def iter_batches(
    path: str | Path,
    *,
    batch_rows: int = 100_000,
    delimiter: str | None = None,
    encoding: str | None = None,
    schema: Schema | None = None,
    raw: Collection[str] = (),
) -> Iterator[pd.DataFrame]:
    """Stream a file as raw frames of at most ``batch_rows`` rows.

    CSV/TSV (also .gz, .bz2, .zip), Parquet and JSON Lines are read incrementally, in
    memory that does not grow with the file. CSV columns come as strings (NaN for missing
    markers) and JSON Lines columns as object, so every batch has the same dtypes; give
    each batch to :func:`~modelloop.data.conform` to type it. Other formats (Excel, JSON
    arrays) are read whole and sliced.

    With ``schema``, the CSV columns it calls numeric features (except those in ``raw``)
    come as float64 already, parsed by Arrow as ``conform`` would (missing markers become
    NaN), so ``conform`` has nothing left to parse. A batch in which such a column holds
    anything but plain numbers keeps it as strings: ``conform`` then parses or reports it
    exactly as without ``schema``.

    Examples
    --------
    >>> from modelloop.data import conform
    >>> for raw in iter_batches("big.csv", batch_rows=50_000):  # doctest: +SKIP
    ...     X = conform(raw, model_schema, source="big.csv")
    """
    if batch_rows < 1:
        raise ConfigurationError(f"batch_rows must be a positive integer. Got {batch_rows!r}.")
    if isinstance(path, str) and is_url(path):
        raise UnsupportedSourceError(
            f"{path} is not a file; streaming reads files only. Use load() for SQL sources."
        )
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidInputError(f"{path} does not exist. Check the path.")
    kind = file_kind(path)
    if kind.format == "csv":
        numeric = _numeric_features(schema, raw)
        yield from _csv_batches(path, batch_rows, delimiter, encoding, numeric)
    elif kind.format == "parquet":
        for batch in _parquet_file(path).iter_batches(batch_size=batch_rows):
            yield batch.to_pandas()
    elif kind.format == "jsonl":
        yield from _jsonl_batches(path, batch_rows)
    else:
        frame = read_file(
            path, sheet=None, delimiter=delimiter, encoding=encoding, nrows=None, label=path.name
        )
        for start in range(0, len(frame), batch_rows):
            yield frame.iloc[start : start + batch_rows].reset_index(drop=True)
