"""Reading raw tables: file formats, compression, delimiter and encoding sniffing, SQL.

Everything here returns *raw* frames (CSV columns as strings); typing is the job of
inference and :func:`~modelloop.data.conform`.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import json
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from modelloop.data._images import IMAGE_EXTENSIONS
from modelloop.data._values import MISSING_MARKERS
from modelloop.exceptions import (
    EmptyDataError,
    InvalidInputError,
    UnsupportedSourceError,
)

__all__ = [
    "CsvLayout",
    "FileKind",
    "arrow_options",
    "arrow_source",
    "check_unique",
    "csv_layout",
    "file_kind",
    "is_url",
    "iter_json_lines",
    "open_binary",
    "read_csv",
    "read_file",
    "read_sql",
    "sniff_delimiter",
    "sniff_encoding",
    "tidied_name",
    "tidy_columns",
]

SNIFF_BYTES = 64 * 1024
_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".dat": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "excel",
    ".xls": "excel",
}
_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip"}
_STREAMABLE = {"csv", "json", "jsonl"}  # formats that may come compressed
SUPPORTED = (
    ".csv .tsv .txt .dat (also .gz .bz2 .zip), .parquet .pq, .json .jsonl .ndjson, "
    ".xlsx .xls, or a SQLAlchemy URL such as sqlite:///file.db"
)
_DELIMITERS = (",", ";", "\t", "|")
_MAGIC = {
    b"\x89PNG": "it looks like a PNG image",
    b"%PDF": "it looks like a PDF document",
    b"PK\x03\x04": "it looks like a ZIP archive or an Excel workbook",
    b"\x1f\x8b": "it looks like gzip data without a .gz extension",
    b"PAR1": "it looks like a Parquet file without a .parquet extension",
    b"\xff\xd8\xff": "it looks like a JPEG image",
    b"GIF8": "it looks like a GIF image",
    b"SQLite format 3": "it looks like a SQLite database (use sqlite:///path)",
}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_url(source: str) -> bool:
    """Whether ``source`` is a URL (``scheme://...``: a database or a web address), not a path."""
    return bool(_URL.match(source))


@dataclass(frozen=True)
class FileKind:
    """What a path holds according to its name: the format and any compression."""

    format: str  # 'csv' | 'parquet' | 'json' | 'jsonl' | 'excel'
    compression: str | None  # 'gzip' | 'bz2' | 'zip' | None
    stem: str  # the name without its extensions


def file_kind(path: Path) -> FileKind:
    """Format and compression of ``path`` from its extensions."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = None
    if suffixes and suffixes[-1] in _COMPRESSIONS:
        compression = _COMPRESSIONS[suffixes.pop()]
    fmt = _FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None or (compression and fmt not in _STREAMABLE):
        ext = "".join(path.suffixes) or "(none)"
        if suffixes and suffixes[-1] in IMAGE_EXTENSIONS:
            raise UnsupportedSourceError(
                f"{path.name} is one image; modelloop trains and predicts on a folder of "
                f"images (photos/<class>/*{suffixes[-1]}) or a table with a column of image "
                f"paths. Pass the folder: {path.parent}."
            )
        raise UnsupportedSourceError(
            f"{path.name} has extension {ext}, which modelloop cannot read. Supported: {SUPPORTED}."
        )
    stem = path.name
    for _ in range(len(path.suffixes) - len(suffixes) + 1):
        stem = stem.rsplit(".", 1)[0]
    return FileKind(fmt, compression, stem)


def open_binary(path: Path, compression: str | None) -> IO[bytes]:
    """The decompressed bytes of a file as a binary stream."""
    if compression == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if compression == "bz2":
        return bz2.open(path, "rb")
    if compression == "zip":
        archive = zipfile.ZipFile(path)
        members = [m for m in archive.namelist() if not m.endswith("/")]
        if len(members) != 1:
            raise InvalidInputError(
                f"{path.name} holds {len(members)} files; modelloop reads a .zip with exactly "
                "one table in it. Unzip it and pass the file you mean."
            )
        return archive.open(members[0])
    return open(path, "rb")


def _head(path: Path, compression: str | None, label: str) -> bytes:
    try:
        with open_binary(path, compression) as f:
            return f.read(SNIFF_BYTES)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InvalidInputError(f"{label} is not a readable table: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def sniff_encoding(head: bytes) -> str:
    """utf-8 (utf-8-sig with a BOM) when the bytes decode as UTF-8, else cp1252 or latin-1."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _binary_reason(head: bytes, encoding: str) -> str | None:
    for magic, reason in _MAGIC.items():
        if head.startswith(magic):
            return reason
    if encoding == "utf-16":
        return None
    if b"\x00" in head:
        return "it holds binary data (NUL bytes)"
    text = head.decode(encoding, errors="replace")
    control = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f")
    if text and (control / len(text) > 0.01 or text.count("\ufffd") / len(text) > 0.05):
        return "it holds binary data, not text"
    return None


def sniff_delimiter(text: str, default: str = ",") -> str:
    """The delimiter among , ; tab | that splits the first lines into the most even columns."""
    lines = text[: SNIFF_BYTES // 4]
    cut = lines.rfind("\n")
    if cut > 0 and len(text) > len(lines):
        lines = lines[:cut]
    best, best_score = default, (0.0, 0)
    for delim in _DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO(lines), delimiter=delim) if r][:50]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistency = sum(len(r) == width for r in rows) / len(rows)
        score = (consistency, width)
        if score > best_score:
            best, best_score = delim, score
    return best


@dataclass(frozen=True)
class CsvLayout:
    """How to read a delimited text file: found by sniffing its first 64 KiB."""

    delimiter: str
    encoding: str
    names: tuple[str, ...]  # header names, empty ones renamed 'Unnamed: i'
    multiline: bool  # some quoted value spans lines
    row_bytes: float  # average bytes per line in the sample


def csv_layout(
    path: Path,
    kind: FileKind,
    *,
    delimiter: str | None,
    encoding: str | None,
    label: str,
) -> CsvLayout:
    """Sniff delimiter, encoding and header of a delimited text file."""
    head = _head(path, kind.compression, label)
    if not head.strip():
        raise EmptyDataError(f"{label} is empty: no header and no rows.")
    enc = encoding or sniff_encoding(head)
    reason = _binary_reason(head, enc)
    if reason:
        raise InvalidInputError(f"{label} is not a readable table: {reason}.")
    try:
        text = codecs.getincrementaldecoder(enc)(errors="replace").decode(head, final=False)
    except LookupError:
        raise InvalidInputError(
            f"encoding={encoding!r} is not an encoding Python knows; try 'utf-8' or 'cp1252'."
        ) from None
    text = text.lstrip("\ufeff")
    default = "\t" if path.name.lower().split(".")[-1] == "tsv" or ".tsv." in path.name else ","
    delim = delimiter or sniff_delimiter(text, default)
    try:
        rows = list(csv.reader(io.StringIO(_complete_lines(text, len(head))), delimiter=delim))
    except csv.Error as exc:
        raise InvalidInputError(f"{label} is not a readable table: {_reason(exc)}") from None
    rows = [r for r in rows if r]
    if not rows:
        raise EmptyDataError(f"{label} is empty: no header and no rows.")
    names = tuple(n.strip() or f"Unnamed: {i}" for i, n in enumerate(rows[0]))
    multiline = any("\n" in v or "\r" in v for r in rows for v in r)
    n_lines = max(1, text.count("\n"))
    return CsvLayout(delim, enc, names, multiline, len(head) / n_lines)


def _complete_lines(text: str, n_bytes: int) -> str:
    """The sample without its last, possibly cut, line (when the file is longer)."""
    if n_bytes < SNIFF_BYTES:
        return text
    cut = text.rfind("\n")
    return text[:cut] if cut > 0 else text


def arrow_options(
    layout: CsvLayout, block_size: int | None = None
) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    enc = "utf8" if layout.encoding in ("utf-8", "utf-8-sig") else layout.encoding
    read = pacsv.ReadOptions(
        column_names=list(layout.names),
        skip_rows=1,
        encoding=enc,
        **({"block_size": block_size} if block_size else {}),
    )
    parse = pacsv.ParseOptions(delimiter=layout.delimiter, newlines_in_values=layout.multiline)
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in layout.names},
        null_values=sorted(MISSING_MARKERS),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    return read, parse, convert


def arrow_source(path: Path, kind: FileKind) -> Any:
    if kind.compression in ("gzip", "bz2"):
        return pa.input_stream(str(path), compression=kind.compression)
    if kind.compression == "zip":
        return open_binary(path, "zip")
    return str(path)


def check_unique(names: list[str], label: str) -> None:
    seen: set[str] = set()
    dups = [n for n in names if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
    if dups:
        shown = ", ".join(repr(d) for d in dict.fromkeys(dups))
        raise InvalidInputError(
            f"{label} has duplicate column name(s) {shown}; every column needs its own name. "
            "Rename them in the file."
        )


def read_csv(
    path: Path,
    kind: FileKind,
    *,
    delimiter: str | None,
    encoding: str | None,
    nrows: int | None,
    label: str,
) -> pd.DataFrame:
    """A delimited text file as a frame of string columns (NaN for missing markers)."""
    layout = csv_layout(path, kind, delimiter=delimiter, encoding=encoding, label=label)
    check_unique(list(layout.names), label)
    read, parse, convert = arrow_options(layout)
    try:
        if nrows is None:
            table = pacsv.read_csv(
                arrow_source(path, kind),
                read_options=read,
                parse_options=parse,
                convert_options=convert,
            )
        else:
            reader = pacsv.open_csv(
                arrow_source(path, kind),
                read_options=read,
                parse_options=parse,
                convert_options=convert,
            )
            batches, seen = [], 0
            for batch in reader:
                batches.append(batch)
                seen += batch.num_rows
                if seen >= nrows:
                    break
            table = pa.Table.from_batches(batches, schema=reader.schema).slice(0, nrows)
        return table.to_pandas()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return _read_csv_pandas(path, kind, layout, nrows, label)


def _read_csv_pandas(
    path: Path, kind: FileKind, layout: CsvLayout, nrows: int | None, label: str
) -> pd.DataFrame:
    """The fallback for files pyarrow cannot parse (odd quoting, encodings)."""
    encodings = [layout.encoding]
    if layout.encoding in ("utf-8", "utf-8-sig"):
        encodings += ["cp1252", "latin-1"]
    last: Exception | None = None
    for enc in encodings:
        try:
            with open_binary(path, kind.compression) as f, warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(
                    f,
                    sep=layout.delimiter,
                    encoding=enc,
                    header=0,
                    names=list(layout.names),
                    dtype=str,
                    keep_default_na=False,
                    na_values=sorted(MISSING_MARKERS),
                    index_col=False,
                    nrows=nrows,
                    engine="c",
                )
            return frame
        except UnicodeDecodeError as exc:
            last = exc
        except (ValueError, pd.errors.ParserError, pd.errors.ParserWarning, csv.Error) as exc:
            raise InvalidInputError(f"{label} is not a readable table: {_reason(exc)}") from None
    raise InvalidInputError(
        f"{label} is not a readable table: {_reason(last or ValueError('bad encoding'))}. "
        "Pass encoding= (--encoding) with the file's encoding."
    )


def _read_json(path: Path, kind: FileKind, label: str) -> pd.DataFrame:
    with open_binary(path, kind.compression) as f:
        raw = f.read()
    if not raw.strip():
        raise EmptyDataError(f"{label} is empty: no rows.")
    try:
        data = json.loads(raw.decode(sniff_encoding(raw[:SNIFF_BYTES])))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"{label} is not a readable table: invalid JSON ({_reason(exc)})."
        ) from None
    if isinstance(data, dict) and len(data) == 1:
        (only,) = data.values()
        if isinstance(only, list) and all(isinstance(r, dict) for r in only):
            data = only  # {"data": [{...}, ...]}
    if isinstance(data, list):
        if not all(isinstance(r, dict) for r in data):
            raise InvalidInputError(
                f"{label} is not a readable table: a JSON array must hold objects "
                '(records like {"age": 22, "sex": "m"}).'
            )
        return pd.DataFrame.from_records(data)
    if isinstance(data, dict) and all(isinstance(v, list | dict) for v in data.values()):
        try:
            return pd.DataFrame(data)
        except ValueError as exc:
            raise InvalidInputError(f"{label} is not a readable table: {_reason(exc)}.") from None
    what = type(data).__name__ if not isinstance(data, dict) else "object of scalars"
    raise InvalidInputError(
        f"{label} is not a readable table: it holds a JSON {what}, not records or columns."
    )


def iter_json_lines(path: Path, kind: FileKind, label: str) -> Iterator[tuple[int, dict]]:
    """(line number, record) for every non-blank line of a JSON Lines file."""
    with open_binary(path, kind.compression) as fb:
        f = io.TextIOWrapper(fb, encoding="utf-8-sig", errors="strict")
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(
                    f"{label} is not a readable table: line {lineno} is not JSON ({_reason(exc)})."
                ) from None
            if not isinstance(record, dict):
                raise InvalidInputError(
                    f"{label} is not a readable table: line {lineno} holds a JSON "
                    f"{type(record).__name__}, not an object."
                )
            yield lineno, record


def _read_excel(path: Path, sheet: str | int | None, label: str) -> pd.DataFrame:
    try:
        book = pd.ExcelFile(path)
    except ImportError as exc:
        raise UnsupportedSourceError(
            f"Reading {label} needs an extra package ({_reason(exc)}). Install it, or save the "
            "sheet as .xlsx or .csv."
        ) from None
    except Exception as exc:  # openpyxl/xlrd raise many types for a file that is not a workbook
        raise InvalidInputError(f"{label} is not a readable table: {_reason(exc)}") from None
    with book:
        names = book.sheet_names
        chosen = 0 if sheet is None else sheet
        if isinstance(chosen, int) and not 0 <= chosen < len(names):
            raise InvalidInputError(
                f"{label} has {len(names)} sheet(s); sheet={chosen} is out of range. "
                f"Sheets: {', '.join(map(repr, names))}."
            )
        if isinstance(chosen, str) and chosen not in names:
            raise InvalidInputError(
                f"{label} has no sheet {chosen!r}. Sheets: {', '.join(map(repr, names))}."
            )
        return pd.read_excel(book, sheet_name=chosen)


def read_file(
    path: Path,
    *,
    sheet: str | int | None,
    delimiter: str | None,
    encoding: str | None,
    nrows: int | None,
    label: str,
) -> pd.DataFrame:
    """The raw frame of a file of any supported format."""
    kind = file_kind(path)
    if kind.format == "csv":
        return read_csv(
            path, kind, delimiter=delimiter, encoding=encoding, nrows=nrows, label=label
        )
    if path.stat().st_size == 0:
        raise EmptyDataError(f"{label} is empty: no rows.")
    if kind.format == "parquet":
        try:
            return pd.read_parquet(path)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InvalidInputError(f"{label} is not a readable table: {_reason(exc)}") from None
    if kind.format == "json":
        return _read_json(path, kind, label)
    if kind.format == "jsonl":
        records = []
        for _, record in iter_json_lines(path, kind, label):
            records.append(record)
            if nrows is not None and len(records) >= nrows:
                break
        return pd.DataFrame.from_records(records)
    return _read_excel(path, sheet, label)


def read_sql(url: str, *, table: str | None, query: str | None) -> tuple[pd.DataFrame, str, str]:
    """(raw frame, description, name) of a table or query behind a SQLAlchemy URL."""
    import sqlalchemy as sa

    if (table is None) == (query is None):
        raise InvalidInputError(
            f"Reading {url.split('://')[0]}:// needs exactly one of table= (--table) or "
            "query= (--query)."
        )
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise UnsupportedSourceError(
            f"{url.split('://')[0]}:// is not a database URL modelloop can open: {_reason(exc)}. "
            f"Supported: {SUPPORTED}."
        ) from None
    shown = engine.url.render_as_string(hide_password=True)
    database = engine.url.database
    is_file_db = engine.url.get_backend_name() == "sqlite" and database not in (
        None,
        "",
        ":memory:",
    )
    if is_file_db and not Path(str(database)).is_file():
        engine.dispose()
        raise InvalidInputError(f"{shown}: the database file {database} does not exist.")
    try:
        with engine.connect() as conn:
            if table is not None:
                tables = sa.inspect(conn).get_table_names()
                if table not in tables:
                    raise InvalidInputError(
                        f"{shown} has no table {table!r}. Tables: {', '.join(map(repr, tables))}."
                    )
                frame = pd.read_sql_table(table, conn)
                return frame, f"{shown} table {table}", table
            frame = pd.read_sql(sa.text(str(query)), conn)
            return frame, f"{shown} query", "query"
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        raise InvalidInputError(f"{shown} could not be read: {_reason(exc)}") from None
    finally:
        engine.dispose()


def tidied_name(name: str, columns: Iterable[object]) -> str:
    """``name`` as :func:`tidy_columns` names its column: without surrounding spaces.

    >>> tidied_name("Life expectancy ", ["Life expectancy"]), tidied_name(" a", ["a", " a"])
    ('Life expectancy', ' a')
    """
    names = [str(c) for c in columns]
    if name in names or str(name).strip() not in names:
        return name
    return str(name).strip()


def tidy_columns(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """String column names; unnamed empty columns dropped; duplicate names refused."""
    names = [str(c).strip() for c in frame.columns]
    names = [n or f"Unnamed: {i}" for i, n in enumerate(names)]
    check_unique(names, label)
    frame = frame.set_axis(names, axis=1)
    unnamed = [n for n in names if n.startswith("Unnamed: ") and frame[n].isna().all()]
    if unnamed:
        frame = frame.drop(columns=unnamed)
    return frame
