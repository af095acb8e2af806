"""conform(): raw rows (a file, a batch, a request) -> the cleaned, typed frame a schema describes."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from modelloop.data._schema import ColumnSchema, Role, Schema
from modelloop.data._values import (
    as_text,
    boolean_codes,
    is_missing_marker,
    normalize_datetimes,
    parse_dates,
    parse_numbers,
)
from modelloop.exceptions import ConfigurationError, InvalidInputError, SchemaMismatchError

__all__ = ["conform", "conform_column"]

Extra = Literal["ignore", "keep", "error"]
_MAX_LISTED = 10


def _quote_list(names: list[str]) -> str:
    shown = ", ".join(repr(str(n)) for n in names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f" and {len(names) - _MAX_LISTED} more"
    return shown


def _first_bad(raw: pd.Series, bad: np.ndarray) -> tuple[object, int]:
    """The first offending raw value and its 1-based data row."""
    pos = int(np.flatnonzero(bad)[0])
    return raw.iloc[pos], pos + 1


def _numeric(raw: pd.Series, col: ColumnSchema, source: str, strict: bool) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("float64")
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.astype("float64")
    text = as_text(raw)
    out = parse_numbers(text)
    if strict:
        bad = (out.isna() & text.notna()).to_numpy()
        if bad.any():
            value, row = _first_bad(raw, bad)
            raise InvalidInputError(
                f"Column '{col.name}' of {source} must be numeric. Got {value!r} in row {row}."
            )
    return out


def _boolean(raw: pd.Series, col: ColumnSchema, source: str, strict: bool) -> pd.Series:
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.astype("float64")
        if values.dropna().isin((0.0, 1.0)).all():
            return values  # already 0/1: conforming a conformed frame changes nothing
    text = as_text(raw)
    codes = boolean_codes(col.categories)
    lower = text.str.lower()
    out = lower.map(codes).astype("float64")
    if strict:
        bad = (out.isna() & text.notna()).to_numpy()
        if bad.any():
            value, row = _first_bad(raw, bad)
            allowed = " or ".join(repr(c) for c in (col.categories or ("true", "false")))
            raise InvalidInputError(
                f"Column '{col.name}' of {source} must be {allowed}. Got {value!r} in row {row}."
            )
    return out


def _datetime(raw: pd.Series, col: ColumnSchema, source: str, strict: bool) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return normalize_datetimes(raw)
    text = as_text(raw)
    out = parse_dates(text, col.format)
    if strict:
        bad = (out.isna() & text.notna()).to_numpy()
        if bad.any():
            value, row = _first_bad(raw, bad)
            how = "an ISO date" if col.format in (None, "ISO8601") else f"a date like {col.format}"
            raise InvalidInputError(
                f"Column '{col.name}' of {source} must be {how}. Got {value!r} in row {row}."
            )
    return out


def _categorical(raw: pd.Series, col: ColumnSchema) -> pd.Series:
    text = as_text(raw)
    cats = col.categories
    if cats and all(c.lstrip("-").isdigit() for c in cats):
        # training categories were integers: '3.0' given as text means the category '3'
        text = text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    return text.astype(object)


def _natural(raw: pd.Series) -> pd.Series:
    """Identifier and constant columns: numbers when they all are, else text."""
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("float64") if raw.hasnans else raw.astype("int64")
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return normalize_datetimes(raw)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        nums = raw.astype("float64")
    else:
        text = as_text(raw)
        nums = parse_numbers(text)
        if (nums.isna() & text.notna()).any() or text.isna().all():
            return text.astype(object)
    values = nums.to_numpy()
    finite = values[~np.isnan(values)]
    if (
        len(finite) == len(values)
        and len(values)
        and np.all(finite == np.round(finite))
        and np.all(np.abs(finite) < 2**53)
    ):
        return nums.astype("int64")
    return nums


def _image(raw: pd.Series) -> pd.Series:
    """Image values as they are (bytes, data: URIs, paths); missing markers become NaN."""
    values = raw.to_numpy(dtype=object, na_value=None)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if isinstance(v, bytes | bytearray | memoryview):
            out[i] = bytes(v) if len(v) else np.nan
        elif isinstance(v, str):
            v = v.strip()
            out[i] = np.nan if is_missing_marker(v) else v
        elif v is None or (isinstance(v, float) and np.isnan(v)):
            out[i] = np.nan
        else:
            out[i] = str(v)
    return pd.Series(out, index=raw.index, dtype=object)


def conform_column(raw: pd.Series, col: ColumnSchema, *, source: str, strict: bool) -> pd.Series:
    """One column coerced to what its :class:`ColumnSchema` says (see :func:`conform`)."""
    role = col.role
    if role is Role.NUMERIC:
        out = _numeric(raw, col, source, strict)
    elif role is Role.BOOLEAN:
        out = _boolean(raw, col, source, strict)
    elif role is Role.DATETIME:
        out = _datetime(raw, col, source, strict)
    elif role in (Role.CATEGORICAL, Role.TEXT):
        out = _categorical(raw, col)
    elif role is Role.IMAGE:
        out = _image(raw)
    else:
        out = _natural(raw)
    out.name = col.name
    return out


def conform(
    frame: pd.DataFrame,
    schema: Schema,
    *,
    source: str = "data",
    require: bool = True,
    extra: Extra = "ignore",
    strict: bool = True,
) -> pd.DataFrame:
    """Turn raw rows into the cleaned, typed frame that ``schema`` describes.

    The one place where a training file, a prediction file and a request's rows become
    model input. Missing markers ('', 'NA', '?', ...) become missing; numeric and boolean
    columns become float64 (booleans 0/1), datetimes datetime64[ns], categorical and text
    columns object dtype holding ``str`` with NaN for missing. Identifier and constant
    columns keep their values (int64 when they are all whole numbers).

    Parameters
    ----------
    frame : DataFrame
        The raw rows; extra columns and any column order are fine.
    schema : Schema
        The schema to conform to (the model's input schema, or one just inferred).
    source : str
        What the rows are called in error messages, e.g. 'new.csv' or 'the request'.
    require : bool
        Raise :class:`SchemaMismatchError` when a feature column of the schema is absent.
        Identifier, constant and target columns are never required.
    extra : {'ignore', 'keep', 'error'}
        What to do with columns the schema does not know: drop them, keep them untouched
        after the schema's columns, or raise :class:`SchemaMismatchError`.
    strict : bool
        Raise :class:`InvalidInputError` naming the column, value and row when a value does
        not fit its column (e.g. 'forty' in a numeric column); with ``False`` such values
        become missing.

    Returns
    -------
    DataFrame
        The schema's columns that are present, in schema order, then kept extras; a fresh
        ``RangeIndex``.

    Examples
    --------
    >>> import pandas as pd
    >>> from modelloop.data import infer_schema
    >>> train = pd.DataFrame({"age": ["22", "?", "35"], "sex": ["m", "f", "m"]})
    >>> schema = infer_schema(train)
    >>> conform(pd.DataFrame({"sex": ["f"], "age": [40]}), schema).dtypes.tolist()
    [dtype('float64'), dtype('O')]
    """
    if extra not in ("ignore", "keep", "error"):
        raise ConfigurationError(
            f"extra must be 'ignore', 'keep' or 'error'. Got {extra!r} instead."
        )
    present = set(map(str, frame.columns))
    if require:
        lacking = [n for n in schema.feature_columns() if n not in present]
        if lacking:
            raise SchemaMismatchError(
                f"{source} lacks column(s) {_quote_list(lacking)} that the model needs."
            )
    known = set(schema.names)
    extras = [c for c in frame.columns if str(c) not in known]
    if extras and extra == "error":
        raise SchemaMismatchError(
            f"{source} has column(s) {_quote_list([str(c) for c in extras])} that the model "
            "does not know; drop them or pass --ignore-extra."
        )
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    out: dict[str, pd.Series] = {}
    for col in schema.columns:
        if col.name in present:
            out[col.name] = conform_column(frame[col.name], col, source=source, strict=strict)
    if extra == "keep":
        for name in extras:
            out[str(name)] = frame[str(name)]
    result = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
    if not out:
        result = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    return result
