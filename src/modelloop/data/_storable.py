"""Frames ready to be kept as Parquet snapshots: one type per column, described for the store."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

__all__ = ["column_types", "storable_frame"]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list | dict):
        return "json"
    if isinstance(value, bytes):
        return "bytes"
    return type(value).__name__


def storable_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy Parquet can hold: string column names, lists/dicts as JSON text, mixed columns as text.

    A JSON API may send ``1`` in one record and ``"n/a"`` in the next; such a column is kept
    as text (inference reads it the same way a CSV column would be read).

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1, "x"], "b": [[1], None], 3: [1.5, 2.0]})
    >>> storable_frame(df).dtypes.astype(str).tolist()
    ['str', 'str', 'float64']
    """
    out = frame.copy()
    out.columns = [str(c) for c in out.columns]
    out = out.reset_index(drop=True)
    for name in out.columns:
        col = out[name]
        if col.dtype != object:
            continue
        present = col.dropna()
        kinds = {_kind(v) for v in present}
        if kinds == {"json"} or "json" in kinds:
            out[name] = col.map(
                lambda v: json.dumps(v, default=str) if isinstance(v, list | dict) else v
            )
            kinds = {_kind(v) for v in out[name].dropna()}
        if len(kinds) > 1 or kinds - {"str", "number", "bool", "datetime", "date", "Timestamp"}:
            out[name] = out[name].map(lambda v: v if v is None or v != v else str(v)).astype("str")
        elif kinds == {"str"}:
            out[name] = out[name].astype("str")
    return out


def column_types(frame: pd.DataFrame) -> list[dict[str, str]]:
    """``[{"name": ..., "dtype": ...}]`` in column order: a snapshot's schema for the store."""
    return [{"name": str(c), "dtype": str(frame[c].dtype)} for c in frame.columns]
