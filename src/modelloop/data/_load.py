"""load(): any supported source -> a cleaned, typed :class:`Dataset` with its schema."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeAlias

import pandas as pd

from modelloop.data._dataset import Dataset, make_dataset
from modelloop.data._infer import infer
from modelloop.data._names import column_not_found
from modelloop.data._schema import Role
from modelloop.data._sources import (
    SUPPORTED,
    file_kind,
    is_url,
    read_file,
    read_sql,
    tidy_columns,
)
from modelloop.exceptions import (
    ConfigurationError,
    EmptyDataError,
    InvalidInputError,
    UnsupportedSourceError,
)

__all__ = ["load"]

Source: TypeAlias = str | Path | pd.DataFrame


def _read(
    source: Source,
    *,
    sheet: str | int | None,
    table: str | None,
    query: str | None,
    delimiter: str | None,
    encoding: str | None,
    nrows: int | None,
) -> tuple[pd.DataFrame, str, str, str]:
    """(raw frame, description, name, label for messages)."""
    if isinstance(source, pd.DataFrame):
        return source.copy(), "DataFrame", "dataframe", "the DataFrame"
    if isinstance(source, str) and is_url(source):
        if source.split("://")[0].lower() in ("http", "https", "ftp", "s3", "gs"):
            raise UnsupportedSourceError(
                f"{source} is a remote file; download it first and pass the local path. "
                f"Supported: {SUPPORTED}."
            )
        frame, desc, name = read_sql(source, table=table, query=query)
        return frame, desc, name, desc
    if not isinstance(source, str | Path):
        raise UnsupportedSourceError(
            f"load() reads a path, a SQLAlchemy URL or a pandas DataFrame. "
            f"Got {type(source).__name__} instead."
        )
    path = Path(source).expanduser()
    label = path.name
    if not path.exists():
        raise InvalidInputError(f"{path} does not exist. Check the path.")
    if path.is_dir():
        raise InvalidInputError(f"{path} is a folder; pass the path of one file in it.")
    kind = file_kind(path)
    if delimiter is not None and len(delimiter) != 1:
        raise ConfigurationError(f"delimiter must be one character. Got {delimiter!r} instead.")
    frame = read_file(
        path, sheet=sheet, delimiter=delimiter, encoding=encoding, nrows=nrows, label=label
    )
    return frame, str(path), kind.stem, label


def load(
    source: Source,
    *,
    target: str | None = None,
    name: str | None = None,
    sheet: str | int | None = None,
    table: str | None = None,
    query: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    drop: Iterable[str] = (),
    types: Mapping[str, str | Role] | None = None,
    nrows: int | None = None,
) -> Dataset:
    """Load a table, infer its schema and clean it.

    Parameters
    ----------
    source : str, Path or DataFrame
        A file (.csv .tsv .txt .dat, also gzip/bz2/zip-compressed; .parquet .pq; .json
        records or columns; .jsonl .ndjson; .xlsx .xls), a SQLAlchemy URL such as
        ``'sqlite:///shop.db'`` together with ``table=`` or ``query=``, or a DataFrame
        (copied).
    target : str, optional
        The column to predict; it must exist.
    name : str, optional
        The dataset's name; default the file stem, table name or 'dataframe'.
    sheet : str or int, optional
        The Excel sheet (name or 0-based index); default the first.
    table, query : str, optional
        For SQL sources: a table to read whole, or a SELECT to run.
    delimiter, encoding : str, optional
        For delimited text; sniffed from the first 64 KiB when not given.
    drop : iterable of str
        Columns to leave out before inference.
    types : dict, optional
        Column -> role ('numeric', 'categorical', 'boolean', 'datetime', 'text',
        'identifier', 'constant') overriding inference.
    nrows : int, optional
        Read at most this many rows.

    Returns
    -------
    Dataset
        The cleaned frame (missing markers as NA, numbers float64, booleans 0/1, dates
        datetime64[ns], categories as ``str``; identifier and constant columns kept), its
        schema and content hash.

    Raises
    ------
    InvalidInputError
        The file does not exist or is not a readable table, has duplicate column names, or
        a column mixes numbers and words ambiguously.
    UnsupportedSourceError
        An extension or URL scheme modelloop cannot read.
    EmptyDataError
        No rows or no columns.
    ColumnNotFoundError
        ``target``, a ``drop`` or a ``types`` column is not in the data.

    Examples
    --------
    >>> import pandas as pd
    >>> ds = load(pd.DataFrame({"age": ["22", "NA", "40"], "smoker": ["yes", "no", "no"]}))
    >>> ds.frame["age"].tolist(), ds.frame["smoker"].tolist()
    ([22.0, nan, 40.0], [1.0, 0.0, 0.0])
    """
    if nrows is not None and nrows < 1:
        raise ConfigurationError(f"nrows must be a positive integer. Got {nrows!r} instead.")
    frame, desc, default_name, label = _read(
        source,
        sheet=sheet,
        table=table,
        query=query,
        delimiter=delimiter,
        encoding=encoding,
        nrows=nrows,
    )
    frame = tidy_columns(frame, label)
    drop = list(drop)
    for col in drop:
        if col not in frame.columns:
            raise column_not_found(col, list(frame.columns), label)
    if target is not None and target in drop:
        raise ConfigurationError(f"Column '{target}' is the target; it cannot also be dropped.")
    if drop:
        frame = frame.drop(columns=drop)
    if frame.shape[1] == 0:
        rows = "no rows and " if len(frame) == 0 else ""
        raise EmptyDataError(f"{label} has {rows}no columns.")
    if len(frame) == 0:
        raise EmptyDataError(f"{label} has a header but no rows.")
    if nrows is not None:
        frame = frame.iloc[:nrows]
    schema, cleaned = infer(frame, target=target, types=types, source=label)
    return make_dataset(cleaned, schema, source=desc, name=name or default_name)
