"""infer_schema(): decide the role of every column of a raw frame."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from modelloop.data._conform import conform_column
from modelloop.data._images import is_image_path
from modelloop.data._names import column_not_found
from modelloop.data._schema import ColumnSchema, Role, Schema
from modelloop.data._values import (
    as_text,
    is_true_false_pair,
    looks_like_id_name,
    parse_dates,
    parse_numbers,
)
from modelloop.exceptions import ConfigurationError, InvalidInputError, TargetError

__all__ = ["infer", "infer_schema", "validate_types"]

NUMERIC_SHARE = 0.95  # at least this share of values parse as numbers -> numeric
AMBIGUOUS_SHARE = 0.20  # between this and NUMERIC_SHARE, with varied words -> error
DATE_SHARE = 0.95
MAX_CATEGORIES = 50  # categories are enumerated up to this many distinct values
TEXT_TOKENS = 3.0  # mean whitespace-separated tokens of a free-text column
_SAMPLE = 2000

_ISO = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
_YMD_SLASH = re.compile(r"^\d{4}/\d{1,2}/\d{1,2}$")
_DMY = r"^(\d{1,2})([-/.])(\d{1,2})[-/.](\d{4}|\d{2})(?: (\d{1,2}:\d{2}(?::\d{2})?))?$"
_DIGIT = re.compile(r"\d")


def validate_types(
    types: Mapping[str, str | Role] | None, columns: list[str], source: str
) -> dict[str, Role]:
    """``types=`` as {column: Role}; unknown columns and role names raise."""
    out: dict[str, Role] = {}
    valid = ", ".join(r.value for r in Role)
    for name, role in (types or {}).items():
        if name not in columns:
            raise column_not_found(name, columns, source)
        try:
            out[name] = Role(str(role.value if isinstance(role, Role) else role).lower())
        except ValueError:
            raise ConfigurationError(
                f"types={{'{name}': {role!r}}} names no role. Valid roles: {valid}."
            ) from None
    return out


def _date_format(text: pd.Series) -> str | None:
    """The strptime format most values follow, or None when they do not look like dates."""
    sample = pd.Series(text.dropna().unique()[:_SAMPLE], dtype="str")
    if sample.empty:
        return None
    if sample.str.match(_ISO).mean() >= DATE_SHARE:
        return "ISO8601"
    if sample.str.match(_YMD_SLASH).mean() >= DATE_SHARE:
        return "%Y/%m/%d"
    parts = sample.str.extract(_DMY)
    if parts[0].notna().mean() < DATE_SHARE:
        return None
    parts = parts.dropna(subset=[0])
    sep = parts[1].mode().iloc[0]
    first, second = parts[0].astype(int), parts[2].astype(int)
    if first.max() > 12:
        day_month = f"%d{sep}%m"
    elif second.max() > 12 or sep == "/":
        day_month = f"%m{sep}%d"
    else:
        day_month = f"%d{sep}%m"
    year = "%Y" if parts[3].str.len().max() == 4 else "%y"
    times = parts[4]
    if times.isna().all():
        clock = ""
    elif times.notna().all():
        clock = " %H:%M:%S" if times.iloc[0].count(":") == 2 else " %H:%M"
    else:
        return None
    return f"{day_month}{sep}{year}{clock}"


def _numeric_identifier(name: str, values: np.ndarray, n_unique: int) -> str | None:
    """The identifier note for whole numbers that only label rows, else None."""
    n = len(values)
    if n == 0 or not np.all(values == np.round(values)):
        return None
    if n_unique == n and n >= 20:
        span = float(values.max() - values.min()) + 1
        steps = np.diff(values)
        monotonic = bool(np.all(steps > 0) or np.all(steps < 0))
        # a dense run of distinct whole numbers labels rows; in small data only when sorted
        if span <= 1.1 * n + 1 and (monotonic or n >= 100):
            return f"identifier (all {n:,} values distinct): dropped from features"
    if looks_like_id_name(name) and n_unique >= 0.5 * n:
        if n_unique == n:
            return f"identifier (all {n:,} values distinct): dropped from features"
        return f"identifier (id-like name, {n_unique:,} distinct of {n:,}): dropped from features"
    return None


def _text_identifier(name: str, text: pd.Series, n_unique: int, nn: int) -> str | None:
    if nn == 0 or n_unique < 0.5 * nn:
        return None
    if text.dropna().str.contains(" ", regex=False).any():
        return None
    if n_unique == nn and nn >= 20:
        return f"identifier (all {nn:,} values distinct): dropped from features"
    if looks_like_id_name(name) and n_unique >= 0.5 * nn:
        return f"identifier (id-like name, {n_unique:,} distinct of {nn:,}): dropped from features"
    return None


def _categories(text: pd.Series, n_unique: int) -> tuple[str, ...] | None:
    if n_unique > MAX_CATEGORIES:
        return None
    return tuple(sorted(str(v) for v in text.dropna().unique()))


def _mixed_error(name: str, text: pd.Series, nums: pd.Series, share: float, source: str):
    words = text.notna() & nums.isna() & ~text.fillna("").str.contains(_DIGIT)
    if text[words].nunique() < 3:
        return None
    pos = int(np.flatnonzero(words.to_numpy())[0])
    return InvalidInputError(
        f"Column '{name}' of {source} mixes numbers and text: {share:.0%} of its values are "
        f"numbers, but {text.iloc[pos]!r} in row {pos + 1} is not. Pass "
        f"types={{'{name}': 'categorical'}} (--types {name}=categorical) to treat it as "
        f"categories, types={{'{name}': 'numeric'}} to read the words as missing, or drop it "
        f"(--drop {name})."
    )


def _mixed_note(name: str, text: pd.Series, nums: pd.Series, share: float) -> str:
    """Why a column of numbers and a little text is read as categories (said, not silent)."""
    other = text[text.notna() & nums.isna()]
    example = other.iloc[0] if len(other) else ""
    return (
        f"{share:.0%} of its values are numbers and the rest text such as {example!r}: "
        f"treated as categories (--types {name}=numeric reads the text as missing)"
    )


def _stray_note(text: pd.Series, nums: pd.Series) -> str:
    stray = text.notna() & nums.isna()
    count = int(stray.sum())
    if not count:
        return ""
    example = text[stray].iloc[0]
    return f"{count:,} non-numeric value(s) such as {example!r} treated as missing"


def _infer_column(
    name: str, raw: pd.Series, *, is_target: bool, forced: Role | None, source: str
) -> ColumnSchema:
    """Role, categories, format and note of one column (dtype and counts come later)."""
    dtype = raw.dtype
    is_bool = pd.api.types.is_bool_dtype(dtype)
    is_num = pd.api.types.is_numeric_dtype(dtype) and not is_bool
    is_date = pd.api.types.is_datetime64_any_dtype(dtype)
    text = as_text(raw)
    nn = int(text.notna().sum())
    n_unique = int(text.nunique())

    def col(role: Role, **kw) -> ColumnSchema:
        return ColumnSchema(name=name, role=role, dtype="", **kw)

    if forced is not None:
        return _forced_column(name, raw, text, forced, n_unique, is_date, source)
    if not is_target and _holds_images(raw):
        return col(Role.IMAGE)

    if n_unique <= 1 and not is_target:
        if n_unique == 1 and 0.01 <= 1 - nn / max(len(text), 1) <= 0.99:
            # one value or missing ('yes' / 'none'): whether it is there is the signal
            return col(
                Role.CATEGORICAL,
                categories=(str(text.dropna().iloc[0]),),
                note="one value, else missing: kept, the missing rows are the other category",
            )
        what = "all missing" if n_unique == 0 else f"only value {text.dropna().iloc[0]!r}"
        return col(Role.CONSTANT, note=f"constant ({what}): dropped")
    values = sorted(str(v) for v in text.dropna().unique()[:5])
    if 2 <= n_unique <= 4:  # yes / Yes / no: booleans are case-insensitive
        values = (
            sorted({v.lower() for v in values})
            if is_true_false_pair(sorted({v.lower() for v in values}))
            else values
        )
    if len(values) == 2 and is_true_false_pair(values):
        if is_target:  # keep the user's labels ('yes'/'no', '0'/'1'): predictions show them
            return col(Role.CATEGORICAL, categories=tuple(values))
        return col(Role.BOOLEAN, categories=tuple(values))
    if is_bool:
        return col(Role.BOOLEAN, categories=tuple(values))
    if is_date:
        return col(Role.DATETIME)
    if is_num:
        vals = raw.dropna().to_numpy(dtype="float64")
        note = None if is_target else _numeric_identifier(name, vals, n_unique)
        return col(Role.IDENTIFIER, note=note) if note else col(Role.NUMERIC)

    nums = parse_numbers(text)
    share = float(nums.notna().sum()) / nn if nn else 0.0
    if share >= NUMERIC_SHARE:
        vals = nums.dropna().to_numpy()
        note = None if is_target else _numeric_identifier(name, vals, n_unique)
        if note:
            return col(Role.IDENTIFIER, note=note)
        return col(Role.NUMERIC, note=_stray_note(text, nums))
    mixed = ""
    if share >= AMBIGUOUS_SHARE and not is_target:
        err = _mixed_error(name, text, nums, share, source)
        if err is not None:
            raise err
        mixed = _mixed_note(name, text, nums, share)
    fmt = _date_format(text) if share < AMBIGUOUS_SHARE else None
    if fmt is not None:
        parsed = parse_dates(text, fmt)
        if nn and parsed.notna().sum() / nn >= DATE_SHARE:
            return col(Role.DATETIME, format=fmt)
    if is_target:
        return col(Role.CATEGORICAL, categories=_categories(text, n_unique))
    note = _text_identifier(name, text, n_unique, nn)
    if note:
        return col(Role.IDENTIFIER, note=note)
    if n_unique > 0.5 * nn or n_unique > 200:
        sample = text.dropna()
        sample = sample.iloc[:_SAMPLE] if len(sample) > _SAMPLE else sample
        tokens = sample.str.count(r"\s+") + 1
        if float(tokens.mean()) >= TEXT_TOKENS:
            return col(Role.TEXT, note=mixed)
    return col(Role.CATEGORICAL, categories=_categories(text, n_unique), note=mixed)


def _holds_images(raw: pd.Series) -> bool:
    """Whether a column holds images: bytes, or file names with an image extension."""
    if raw.dtype != object and not isinstance(raw.dtype, pd.StringDtype):
        return False
    values = raw.dropna()
    values = values.iloc[:_SAMPLE] if len(values) > _SAMPLE else values
    if values.empty:
        return False
    looks = values.map(
        lambda v: (
            isinstance(v, bytes)
            or is_image_path(str(v).strip())
            or str(v).startswith("data:image/")
        )
    )
    return bool(looks.mean() >= NUMERIC_SHARE)


def _forced_column(
    name: str,
    raw: pd.Series,
    text: pd.Series,
    role: Role,
    n_unique: int,
    is_date: bool,
    source: str,
) -> ColumnSchema:
    """The column for a role the user chose with ``types=``."""
    note = ""
    categories = None
    fmt = None
    if role is Role.NUMERIC and not pd.api.types.is_numeric_dtype(raw.dtype):
        note = _stray_note(text, parse_numbers(text))
    elif role is Role.BOOLEAN:
        if n_unique > 2:
            raise InvalidInputError(
                f"Column '{name}' of {source} cannot be boolean: it has {n_unique} distinct "
                "values. Use types=... 'categorical' instead."
            )
        categories = tuple(sorted(str(v) for v in text.dropna().unique()))
    elif role is Role.DATETIME and not is_date:
        fmt = _date_format(text) or "ISO8601"
    elif role in (Role.CATEGORICAL, Role.TEXT):
        categories = _categories(text, n_unique) if role is Role.CATEGORICAL else None
    elif role is Role.IMAGE:
        note = "image column (set by types=)"
    elif role is Role.IDENTIFIER:
        note = "identifier (set by types=): dropped from features"
    elif role is Role.CONSTANT:
        note = "constant (set by types=): dropped"
    return ColumnSchema(name, role, "", categories=categories, note=note, format=fmt)


def infer(
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    types: Mapping[str, str | Role] | None = None,
    source: str = "data",
) -> tuple[Schema, pd.DataFrame]:
    """The schema of a raw frame and the frame cleaned by it (what :func:`load` keeps)."""
    columns = [str(c) for c in frame.columns]
    if target is not None and target not in columns:
        parts = [p.strip() for p in str(target).split(",")]
        if len(parts) > 1 and all(p in map(str, columns) for p in parts):
            raise TargetError(
                f"Several targets at once ({', '.join(repr(p) for p in parts)}): multi-label "
                "classification is not supported. Train one model per target (--target "
                f"{parts[0]}, then --target {parts[1]}, ...), each with its own metrics and "
                "version."
            )
        raise column_not_found(target, columns, source)
    forced = validate_types(types, columns, source)
    frame = frame.reset_index(drop=True)
    frame.columns = columns
    cols: list[ColumnSchema] = []
    cleaned: dict[str, pd.Series] = {}
    notes: list[str] = []
    for name in columns:
        raw = frame[name]
        c = _infer_column(
            name, raw, is_target=name == target, forced=forced.get(name), source=source
        )
        out = conform_column(raw, c, source=source, strict=False)
        n_missing = int(out.isna().sum())
        c = ColumnSchema(
            name=name,
            role=c.role,
            dtype=str(out.dtype),
            n_missing=n_missing,
            n_unique=int(out.nunique()),
            categories=c.categories,
            note=c.note,
            format=c.format,
        )
        if c.note:
            notes.append(f"Column '{name}': {c.note}.")
        cols.append(c)
        cleaned[name] = out
    schema = Schema(tuple(cols), target=target, notes=tuple(notes))
    return schema, pd.DataFrame(cleaned, index=pd.RangeIndex(len(frame)))


def infer_schema(
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    types: Mapping[str, str | Role] | None = None,
    source: str = "data",
) -> Schema:
    """Infer the role of every column of a raw frame.

    Roles: ``constant`` (at most one distinct value), ``boolean`` (a true/false pair such as
    yes/no or 1/0), ``numeric`` (numbers, or text of which >= 95% parse as numbers; the
    rest become missing and the column's note says how many), ``datetime`` (text of which
    >= 95% parse as dates, ISO or day-first / month-first decided from the values),
    ``identifier`` (distinct whole numbers in a dense range, an id-like name such as 'id' or
    'host_id' with mostly distinct values, or distinct codes without spaces), ``text``
    (mostly distinct values of >= 2.5 words on average) and ``categorical`` (the rest). The
    target is never identifier, text, constant or boolean: a two-valued target is
    categorical so that its labels ('yes'/'no', '0'/'1') survive into predictions.

    Parameters
    ----------
    frame : DataFrame
        Raw data, as read from a file or given by the user.
    target : str, optional
        The target column; ``schema.target`` is set to it.
    types : dict, optional
        Column -> role name overriding inference, e.g. ``{'zip': 'categorical'}``.
    source : str
        What the data is called in error messages.

    Raises
    ------
    InvalidInputError
        A column mixes numbers with varied words (e.g. 'forty', 'n.a.', 'unknown' between
        ages): the message names the column, a bad value, its row and the fix.
    ColumnNotFoundError, ConfigurationError
        ``target`` or a ``types`` key is not a column; a ``types`` value is not a role.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": ["22", "?", "35"], "smoker": ["yes", "no", "no"]})
    >>> [(c.name, c.role.value) for c in infer_schema(df)]
    [('age', 'numeric'), ('smoker', 'boolean')]
    """
    return infer(frame, target=target, types=types, source=source)[0]
