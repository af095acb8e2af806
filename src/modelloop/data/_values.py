"""Cell-level helpers shared by inference and conforming: missing markers, text and number views.

Every function here is vectorised: it takes a whole column and returns a whole column, so
the same code serves a 50,000-row training file and a one-row request.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "FALSE_TOKENS",
    "MISSING_MARKERS",
    "TRUE_TOKENS",
    "as_text",
    "boolean_codes",
    "is_missing_marker",
    "is_true_false_pair",
    "looks_like_id_name",
    "normalize_datetimes",
    "parse_dates",
    "parse_numbers",
]

MISSING_MARKERS: frozenset[str] = frozenset(
    {
        "",
        "NA",
        "N/A",
        "na",
        "n/a",
        "NaN",
        "nan",
        "null",
        "NULL",
        "Null",
        "None",
        "none",
        "?",
        "#N/A",
        "missing",
    }
)
"""Strings that mean "missing" in any text column (whitespace-only strings do too)."""

TRUE_TOKENS = frozenset({"true", "yes", "y", "t", "1", "1.0"})
FALSE_TOKENS = frozenset({"false", "no", "n", "f", "0", "0.0"})

_MARKER_LIST = sorted(MISSING_MARKERS)


def is_missing_marker(value: Any) -> bool:
    """Whether one cell means "missing": ``None``, NaN, a marker string or only whitespace.

    Examples
    --------
    >>> is_missing_marker("  "), is_missing_marker("N/A"), is_missing_marker("0")
    (True, True, False)
    """
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() in MISSING_MARKERS
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _format_numbers(s: pd.Series) -> pd.Series:
    """Numbers as strings, integer-valued ones without a decimal point (3.0 -> '3')."""
    if pd.api.types.is_integer_dtype(s.dtype) and not s.hasnans:
        return s.astype(str).astype(object)
    v = s.astype("float64").to_numpy()
    out = s.astype("float64").astype(str).astype(object).to_numpy(copy=True)
    with np.errstate(invalid="ignore"):
        is_int = np.isfinite(v) & (v == np.round(v)) & (np.abs(v) < 2**53)
    if is_int.any():
        out[is_int] = v[is_int].astype(np.int64).astype(str)
    out[np.isnan(v)] = np.nan
    return pd.Series(out, index=s.index, dtype=object)


def _canonical(value: Any) -> Any:
    """One Python value as text (for object columns of mixed types)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if np.isnan(number):
            return None
        if np.isfinite(number) and number.is_integer() and abs(number) < 2**53:
            return str(int(number))
        return repr(number)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def as_text(s: pd.Series) -> pd.Series:
    """A column as stripped strings (pandas ``str`` dtype), NaN where a cell is missing.

    Missing markers and whitespace-only strings become NaN; numbers are written without a
    trailing ``.0`` when integer-valued; booleans become 'True' / 'False'.
    """
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        text = s.map({True: "True", False: "False"}).astype("str")
    elif pd.api.types.is_numeric_dtype(dtype):
        text = _format_numbers(s).astype("str")
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        text = s.map(lambda v: v.isoformat() if not pd.isna(v) else None).astype("str")
    elif pd.api.types.is_string_dtype(dtype) and pd.api.types.infer_dtype(s, skipna=True) in (
        "string",
        "empty",
    ):
        text = s.astype("str")
    else:
        text = s.map(_canonical).astype("str")
    text = text.str.strip()
    return text.mask(text.isin(_MARKER_LIST))


_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity)$"


def parse_numbers(text: pd.Series) -> pd.Series:
    """Strings (from :func:`as_text`) as float64; NaN where a value is not a number."""
    if len(text) == 0:
        return pd.Series([], index=text.index, dtype="float64")
    arr = pa.array(text.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    is_number = pc.match_substring_regex(arr, _NUMBER, ignore_case=True)
    numbers = pc.cast(pc.if_else(is_number, arr, pa.scalar(None, pa.string())), pa.float64())
    out = numbers.to_numpy(zero_copy_only=False)
    return pd.Series(out, index=text.index, dtype="float64")


def parse_dates(text: pd.Series, fmt: str | None) -> pd.Series:
    """Strings as datetime64[ns] with the given format (``None`` or 'ISO8601': ISO 8601)."""
    if fmt is None or fmt == "ISO8601":
        out = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        out = out.dt.tz_localize(None)
    else:
        out = pd.to_datetime(text, format=fmt, errors="coerce")
    return out.astype("datetime64[ns]")


def normalize_datetimes(s: pd.Series) -> pd.Series:
    """A datetime column as naive datetime64[ns] (aware values converted to UTC)."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    try:
        return s.astype("datetime64[ns]")
    except (pd.errors.OutOfBoundsDatetime, OverflowError, ValueError):
        return pd.to_datetime(s.astype(str), errors="coerce").astype("datetime64[ns]")


def boolean_codes(categories: tuple[str, ...] | None) -> dict[str, float]:
    """Lower-cased text -> 0.0 / 1.0 for a boolean column with the recorded categories.

    A true/false pair (yes/no, 1/0, ...) maps by meaning, and then every other true/false
    token is accepted too; any other pair maps its sorted values to 0 and 1.
    """
    codes: dict[str, float] = {}
    cats = [c.lower() for c in (categories or ())]
    if len(cats) == 2 and not is_true_false_pair(cats):
        lo, hi = sorted(cats)
        return {lo: 0.0, hi: 1.0}
    codes.update(dict.fromkeys(FALSE_TOKENS, 0.0))
    codes.update(dict.fromkeys(TRUE_TOKENS, 1.0))
    return codes


def is_true_false_pair(values: list[str] | tuple[str, ...]) -> bool:
    """Whether two values are one true token and one false token (case-insensitive)."""
    if len(values) != 2:
        return False
    a, b = (v.lower() for v in values)
    return (a in TRUE_TOKENS and b in FALSE_TOKENS) or (a in FALSE_TOKENS and b in TRUE_TOKENS)


_ID_NAME = re.compile(r"(^|[_\s.\-])(id|key|uuid|guid)$", re.IGNORECASE)
_CAMEL_ID = re.compile(r"([a-z0-9]Id|[a-z0-9]ID|[a-z]Key|[a-z]UUID)$")


def looks_like_id_name(name: str) -> bool:
    """'id', 'host_id', 'PassengerId', 'userID', 'key', 'uuid' -- but not 'paid' or 'valid'."""
    return bool(_ID_NAME.search(name) or _CAMEL_ID.search(name))
