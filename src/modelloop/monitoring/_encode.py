"""Both windows of one column, typed once, in the form the drift tests read.

Raw or already typed input is fine: each window's column is factorized first (pandas'
hash table, or pyarrow's dictionary encoding for ``str`` columns) and only its *distinct*
values go through :func:`~modelloop.data.conform`, so typing costs what the number of
distinct values costs, not the number of rows. Typing is a per-value function, which makes
this exactly what conforming every row would give. Numeric columns that already hold
numbers skip it altogether.

* numeric kinds (numeric, datetime as seconds, text as its length) become float arrays,
  NaN where missing;
* categorical kinds (categorical, boolean) become integer codes into one list of labels
  shared by both windows (``-1`` where missing), labelled as the typed values print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from modelloop.data import ColumnSchema, Role, Schema, conform

__all__ = ["Encoded", "as_numeric", "encode", "factorized_labels", "kind_of"]

_NUMERIC_ROLES = (Role.NUMERIC, Role.DATETIME, Role.TEXT)


@dataclass(frozen=True)
class Encoded:
    """One column of both windows: floats (numeric kind) or codes into ``labels``."""

    name: str
    role: Role
    kind: str
    reference: np.ndarray
    current: np.ndarray
    labels: np.ndarray | None = None


def kind_of(role: Role) -> str:
    """``'numeric'`` for numeric, datetime and text columns, else ``'categorical'``."""
    return "numeric" if role in _NUMERIC_ROLES else "categorical"


def as_numeric(series: pd.Series, role: Role) -> np.ndarray:
    """Numeric view of a typed column: datetimes as seconds, text as its length."""
    if role is Role.DATETIME:
        dt = pd.to_datetime(series, errors="coerce")
        if isinstance(dt.dtype, pd.DatetimeTZDtype):
            dt = dt.dt.tz_convert("UTC").dt.tz_localize(None)
        stamps = dt.to_numpy(dtype="datetime64[ns]")
        secs = stamps.astype("int64") / 1e9
        secs[np.isnat(stamps)] = np.nan
        return secs
    if role is Role.TEXT:
        lengths = series.astype("string").str.len()
        return lengths.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _typed(values: pd.Series, col: ColumnSchema) -> pd.Series:
    frame = pd.DataFrame({col.name: values.reset_index(drop=True)})
    typed = conform(frame, Schema((col,)), source="the drift window", require=False, strict=False)
    return typed[col.name]


def _numeric_as_is(raw: pd.Series, col: ColumnSchema) -> bool:
    dtype = raw.dtype
    return col.role is Role.NUMERIC and (
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    )


def _group(col: ColumnSchema, dtype: object) -> tuple[object, ...] | None:
    """Columns whose distinct values can be typed in one ``conform`` call, or ``None``.

    Typing depends on the column's role, categories and format and, for ``str`` columns,
    on nothing but each value; other dtypes are typed column by column.
    """
    if not isinstance(dtype, pd.StringDtype):
        return None
    return (col.role, col.categories, col.format, str(dtype))


def _type_distinct(items: list[tuple[pd.Series, ColumnSchema]]) -> list[pd.Series]:
    """Type the distinct values of many columns, one ``conform`` call per group."""
    out: list[pd.Series | None] = [None] * len(items)
    groups: dict[object, list[int]] = {}
    for i, (uniques, col) in enumerate(items):
        key = _group(col, uniques.dtype)
        groups.setdefault(key if key is not None else ("alone", i), []).append(i)
    for members in groups.values():
        col = items[members[0]][1]
        joined = pd.concat([items[i][0] for i in members], ignore_index=True)
        typed = _typed(joined, col)
        stops = np.cumsum([len(items[i][0]) for i in members])
        starts = np.concatenate([[0], stops[:-1]])
        for i, a, b in zip(members, starts, stops, strict=True):
            out[i] = typed.iloc[a:b].reset_index(drop=True)
    return [s for s in out if s is not None]  # every slot is filled


def factorized_labels(
    ref_codes: np.ndarray, ref_keys: np.ndarray, cur_codes: np.ndarray, cur_keys: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join two windows' codes into one label list: keys ``None`` are missing."""
    joined, labels = pd.factorize(np.concatenate([ref_keys, cur_keys]))
    to_ref = np.append(joined[: len(ref_keys)], -1)
    to_cur = np.append(joined[len(ref_keys) :], -1)
    return to_ref[ref_codes], to_cur[cur_codes], np.asarray(labels, dtype=object)


def _keys(typed: pd.Series) -> np.ndarray:
    keys = typed.astype(str).to_numpy(dtype=object)
    keys[typed.isna().to_numpy()] = None
    return keys


def _missing(n: int) -> pd.Series:
    return pd.Series(np.full(n, np.nan), dtype=object)


def encode(
    columns: Sequence[ColumnSchema], reference: pd.DataFrame, current: pd.DataFrame
) -> list[Encoded]:
    """Type ``columns`` of both windows; a column absent from a window is all missing.

    Examples
    --------
    >>> import pandas as pd
    >>> from modelloop.data import ColumnSchema, Role
    >>> col = ColumnSchema("c", Role.CATEGORICAL, "object")
    >>> e = encode([col], pd.DataFrame({"c": ["a", " b", None]}), pd.DataFrame({"c": ["b", "z"]}))[0]
    >>> e.reference.tolist(), e.current.tolist(), e.labels.tolist()
    ([0, 1, -1], [1, 2], ['a', 'b', 'z'])
    """
    frames = (reference, current)
    raws = [
        [f[col.name] if col.name in f.columns else _missing(len(f)) for f in frames]
        for col in columns
    ]
    numbers: dict[tuple[int, int], np.ndarray] = {}
    codes: dict[tuple[int, int], np.ndarray] = {}
    distinct: list[tuple[pd.Series, ColumnSchema]] = []
    slots: list[tuple[int, int]] = []
    for i, col in enumerate(columns):
        for side, raw in enumerate(raws[i]):
            if _numeric_as_is(raw, col):
                numbers[i, side] = raw.to_numpy(dtype=float, na_value=np.nan)
            elif kind_of(col.role) == "numeric" and pd.api.types.is_datetime64_any_dtype(raw):
                numbers[i, side] = as_numeric(_typed(raw, col), col.role)
            else:
                c, uniques = pd.factorize(raw)
                codes[i, side] = np.asarray(c, dtype=np.intp)
                distinct.append((pd.Series(uniques), col))
                slots.append((i, side))
    typed = dict(zip(slots, _type_distinct(distinct), strict=True))
    out = []
    for i, col in enumerate(columns):
        kind = kind_of(col.role)
        if kind == "numeric":
            r, c = (
                numbers[i, side]
                if (i, side) in numbers
                else np.append(as_numeric(typed[i, side], col.role), np.nan)[codes[i, side]]
                for side in (0, 1)
            )
            out.append(Encoded(col.name, col.role, kind, r, c))
        else:
            r, c, labels = factorized_labels(
                codes[i, 0], _keys(typed[i, 0]), codes[i, 1], _keys(typed[i, 1])
            )
            out.append(Encoded(col.name, col.role, kind, r, c, labels))
    return out
