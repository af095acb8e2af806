"""load(): any supported source -> a cleaned, typed :class:`Dataset` with its schema."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeAlias

import pandas as pd

from modelloop.data._dataset import Dataset, make_dataset
from modelloop.data._html import read_html_table
from modelloop.data._http import HttpOptions, fetch, is_http_url, read_json_api, redact_url
from modelloop.data._image_folder import check_images, image_splits, read_image_folder
from modelloop.data._infer import infer
from modelloop.data._names import column_not_found
from modelloop.data._sample import rows_to_keep, sample_file, sample_frame
from modelloop.data._schema import Role, Schema
from modelloop.data._sources import (
    SUPPORTED,
    file_kind,
    is_url,
    read_file,
    read_sql,
    tidied_name,
    tidy_columns,
)
from modelloop.exceptions import (
    ConfigurationError,
    EmptyDataError,
    InvalidInputError,
    UnsupportedSourceError,
)

__all__ = ["load", "read_table"]

Source: TypeAlias = str | Path | pd.DataFrame


def _read(
    source: Source,
    *,
    sheet: str | int | None,
    table: str | int | None,
    query: str | None,
    delimiter: str | None,
    encoding: str | None,
    nrows: int | None,
    records: str | None = None,
    selector: str | None = None,
    http: HttpOptions | None = None,
) -> tuple[pd.DataFrame, str, str, str]:
    """(raw frame, description, name, label for messages)."""
    if isinstance(source, pd.DataFrame):
        return source.copy(), "DataFrame", "dataframe", "the DataFrame"
    if isinstance(source, str) and is_http_url(source):
        return _read_http(source, table=table, records=records, selector=selector, http=http)
    if isinstance(source, str | Path) and Path(source).suffix.lower() in _HTML:
        path = Path(source).expanduser()
        if not path.is_file():
            raise InvalidInputError(f"{path} does not exist. Check the path.")
        index = _html_index(table)
        frame = read_html_table(path.read_bytes(), table=index, selector=selector, label=path.name)
        return frame, str(path), path.stem, path.name
    if isinstance(source, str) and is_url(source):
        if source.split("://")[0].lower() in ("http", "https", "ftp", "s3", "gs"):
            raise UnsupportedSourceError(
                f"{source} is a remote file; download it first and pass the local path. "
                f"Supported: {SUPPORTED}."
            )
        sql_table = None if table is None else str(table)
        frame, desc, name = read_sql(source, table=sql_table, query=query)
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
        raise InvalidInputError(
            f"{path} is a folder; pass the path of one file in it (load() reads folders of images)."
        )
    kind = file_kind(path)
    if delimiter is not None and len(delimiter) != 1:
        raise ConfigurationError(f"delimiter must be one character. Got {delimiter!r} instead.")
    frame = read_file(
        path, sheet=sheet, delimiter=delimiter, encoding=encoding, nrows=nrows, label=label
    )
    return frame, str(path), kind.stem, label


_HTML = (".html", ".htm")


def _html_index(table: str | int | None) -> int | None:
    if table is None or isinstance(table, int):
        return table
    if str(table).isdigit():
        return int(table)
    raise ConfigurationError(
        f"table= picks an HTML table by its 0-based index (or use selector=). Got {table!r}."
    )


def _read_http(
    url: str,
    *,
    table: str | int | None,
    records: str | None,
    selector: str | None,
    http: HttpOptions | None,
) -> tuple[pd.DataFrame, str, str, str]:
    options = http or HttpOptions()
    shown = redact_url(url)
    path = url.split("?", 1)[0].rstrip("/")
    if table is not None or selector is not None or path.lower().endswith(_HTML):
        body, _ = fetch(url, options)
        frame = read_html_table(body, table=_html_index(table), selector=selector, label=shown)
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "page"
        return frame, shown, stem, shown
    if records is not None:
        from dataclasses import replace

        options = replace(options, records=records)
    frame, desc, name = read_json_api(url, options)
    return frame, desc, name, shown


def read_table(
    source: Source,
    *,
    sheet: str | int | None = None,
    table: str | int | None = None,
    query: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    records: str | None = None,
    selector: str | None = None,
    http: HttpOptions | None = None,
) -> tuple[pd.DataFrame, str, str]:
    """(raw frame, description, default name) of any source, before inference.

    What :func:`load` reads before it infers a schema: column names tidied, values as the
    source gave them (what a snapshot keeps).

    Examples
    --------
    >>> frame, desc, name = read_table(pd.DataFrame({"a": ["1", "2"]}))
    >>> frame["a"].tolist(), desc, name
    (['1', '2'], 'DataFrame', 'dataframe')
    """
    if delimiter is not None and len(delimiter) != 1:
        raise ConfigurationError(f"delimiter must be one character. Got {delimiter!r} instead.")
    frame, desc, name, label = _read(
        source,
        sheet=sheet,
        table=table,
        query=query,
        delimiter=delimiter,
        encoding=encoding,
        nrows=None,
        records=records,
        selector=selector,
        http=http,
    )
    frame = tidy_columns(frame, label)
    if frame.shape[1] == 0:
        raise EmptyDataError(f"{label} has no columns.")
    if len(frame) == 0:
        raise EmptyDataError(f"{label} has a header but no rows.")
    return frame, desc, name


def load(
    source: Source,
    *,
    target: str | None = None,
    name: str | None = None,
    sheet: str | int | None = None,
    table: str | int | None = None,
    query: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    drop: Iterable[str] = (),
    types: Mapping[str, str | Role] | None = None,
    nrows: int | None = None,
    records: str | None = None,
    selector: str | None = None,
    http: HttpOptions | None = None,
    sample_rows: int | None = None,
    memory_limit: float | None = None,
    seed: int = 0,
) -> Dataset:
    """Load a table, infer its schema and clean it.

    A CSV or Parquet file too big to load whole (its estimated size in memory is over
    ``memory_limit``, by default a quarter of the available memory) is streamed with
    pyarrow in batches, and a seeded uniform reservoir sample of as many rows as fit is
    kept, stratified by ``target`` when it has at most 50 distinct values; the returned
    dataset's ``sample`` says how many rows it kept of how many, how, and holds exact
    per-column statistics of the whole file. Other files load whole, as before.

    Parameters
    ----------
    source : str, Path or DataFrame
        A file (.csv .tsv .txt .dat, also gzip/bz2/zip-compressed; .parquet .pq; .json
        records or columns; .jsonl .ndjson; .xlsx .xls; .html .htm tables), a SQLAlchemy
        URL such as ``'sqlite:///shop.db'`` together with ``table=`` or ``query=``, an
        ``http(s)://`` URL of a JSON API (or of a web page with ``table=N`` / ``selector=``),
        or a DataFrame (copied).
    target : str, optional
        The column to predict; it must exist.
    name : str, optional
        The dataset's name; default the file stem, table name or 'dataframe'.
    sheet : str or int, optional
        The Excel sheet (name or 0-based index); default the first.
    table, query : str, optional
        For SQL sources: a table to read whole, or a SELECT to run. For HTML pages,
        ``table`` is the 0-based index of the table to read (default 0).
    delimiter, encoding : str, optional
        For delimited text; sniffed from the first 64 KiB when not given.
    drop : iterable of str
        Columns to leave out before inference.
    types : dict, optional
        Column -> role ('numeric', 'categorical', 'boolean', 'datetime', 'text',
        'identifier', 'constant') overriding inference.
    nrows : int, optional
        Read at most this many rows (the first ones).
    records : str, optional
        For JSON APIs: the dotted path of the records in each response (``'data.items'``).
    selector : str, optional
        For HTML pages: a CSS selector of the table (``'table#prices'``).
    http : HttpOptions, optional
        For URLs: pagination, headers (``${ENV_VAR}`` expanded at request time), retries,
        rate limit and timeout.
    sample_rows : int, optional
        Keep at most this many rows: a longer CSV or Parquet file is streamed and sampled
        as above, any other source is read and then sampled the same way (the same rows for
        the same ``seed``).
    memory_limit : float, optional
        Bytes the loaded data may take; default a quarter of the available memory.
    seed : int
        Seed of the sample.

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
    if sample_rows is not None and (isinstance(sample_rows, bool) or sample_rows < 1):
        raise ConfigurationError(
            f"sample_rows must be a positive integer. Got {sample_rows!r} instead."
        )
    if memory_limit is not None and not memory_limit > 0:
        raise ConfigurationError(
            f"memory_limit must be a number of bytes > 0. Got {memory_limit!r} instead."
        )
    if nrows is not None and sample_rows is not None:
        raise ConfigurationError(
            "nrows (the first rows) and sample_rows (a random sample) cannot both be given; "
            "pass one of them."
        )
    if delimiter is not None and len(delimiter) != 1:
        raise ConfigurationError(f"delimiter must be one character. Got {delimiter!r} instead.")
    sample = None
    folder_notes: list[str] = []
    streamed = None if nrows is not None else _streamable(source)
    plan = None
    if streamed is not None:
        plan = rows_to_keep(
            streamed,
            sample_rows=sample_rows,
            memory_limit=memory_limit,
            delimiter=delimiter,
            encoding=encoding,
        )
    if plan is not None and streamed is not None:
        frame, sample = sample_file(
            streamed,
            plan[0],
            stratify_by=target,
            seed=seed,
            delimiter=delimiter,
            encoding=encoding,
            reason=plan[1],
        )
        desc, default_name, label = str(streamed), file_kind(streamed).stem, streamed.name
    elif (folder := _folder(source)) is not None:
        frame, folder_notes = read_image_folder(folder)
        desc, label = str(folder), folder.name + "/"
        # a split's folder (photos/train) is named after the data set (photos)
        default_name = (
            folder.parent.name
            if (splits := image_splits(folder.parent)) is not None and folder in splits
            else folder.name
        )
    else:
        frame, desc, default_name, label = _read(
            source,
            sheet=sheet,
            table=table,
            query=query,
            delimiter=delimiter,
            encoding=encoding,
            nrows=nrows,
            records=records,
            selector=selector,
            http=http,
        )
    frame = tidy_columns(frame, label)
    # Column names are read with their surrounding spaces stripped: a name the user copied
    # from the file ("Life expectancy ") means the same column.
    target = None if target is None else tidied_name(target, frame.columns)
    types = None if types is None else {tidied_name(k, frame.columns): v for k, v in types.items()}
    drop = [tidied_name(c, frame.columns) for c in drop]
    if sample is None and sample_rows is not None and len(frame) > sample_rows:
        frame, sample = sample_frame(
            frame,
            sample_rows,
            stratify_by=target,
            seed=seed,
            reason=f"sample_rows={sample_rows:,} was asked",
        )
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
    if schema.by_role(Role.IMAGE) or folder_notes:
        base = Path(desc).parent if _is_local_file(source) else None
        cleaned, image_notes = check_images(cleaned, schema, base=base, label=label)
        schema = Schema(schema.columns, schema.target, (*schema.notes, *folder_notes, *image_notes))
    return make_dataset(cleaned, schema, source=desc, name=name or default_name, sample=sample)


def _folder(source: Source) -> Path | None:
    """The folder a source names (a folder of images), else None."""
    if isinstance(source, pd.DataFrame) or not isinstance(source, str | Path):
        return None
    if isinstance(source, str) and is_url(source):
        return None
    path = Path(source).expanduser()
    return path.resolve() if path.is_dir() else None


def _is_local_file(source: Source) -> bool:
    if isinstance(source, pd.DataFrame) or not isinstance(source, str | Path):
        return False
    if isinstance(source, str) and is_url(source):
        return False
    return Path(source).expanduser().is_file()


def _streamable(source: Source) -> Path | None:
    """The path of a local CSV or Parquet file that load() may stream, else None."""
    if isinstance(source, pd.DataFrame) or not isinstance(source, str | Path):
        return None
    if isinstance(source, str) and is_url(source):
        return None
    path = Path(source).expanduser()
    if not path.is_file():
        return None
    try:
        kind = file_kind(path)
    except UnsupportedSourceError:
        return None
    return path if kind.format in ("csv", "parquet") else None
