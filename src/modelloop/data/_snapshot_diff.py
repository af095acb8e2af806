"""What changed between two versions of a table: schema, rows and each column's distribution."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelloop.data._names import column_not_found
from modelloop.data._values import as_text

__all__ = ["SnapshotDiff", "diff_frames"]

_NUMERIC_SHARE = 0.95


@dataclass(frozen=True)
class SnapshotDiff:
    """The difference from ``old`` to ``new``.

    ``rows_added`` / ``rows_removed`` count whole rows (over the columns both have) that
    appear more often in one than in the other; with a ``key``, ``rows_changed`` counts keys
    in both whose other values differ (and added/removed count keys). ``columns`` holds one
    summary per column present in both: numeric columns compare mean, std, min and max;
    others the number of distinct values, the most frequent one and the share of values
    never seen in ``old``.
    """

    n_rows_old: int
    n_rows_new: int
    rows_added: int
    rows_removed: int
    rows_unchanged: int
    rows_changed: int | None
    key: str | None
    columns_added: list[str]
    columns_removed: list[str]
    dtype_changes: dict[str, tuple[str, str]]
    columns: list[dict[str, Any]] = field(default_factory=list)

    @property
    def schema_changed(self) -> bool:
        return bool(self.columns_added or self.columns_removed or self.dtype_changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_rows_old": self.n_rows_old,
            "n_rows_new": self.n_rows_new,
            "rows_added": self.rows_added,
            "rows_removed": self.rows_removed,
            "rows_unchanged": self.rows_unchanged,
            "rows_changed": self.rows_changed,
            "key": self.key,
            "columns_added": self.columns_added,
            "columns_removed": self.columns_removed,
            "dtype_changes": {k: list(v) for k, v in self.dtype_changes.items()},
            "columns": self.columns,
        }


def _row_hashes(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    # As text, so that 1 (int) in one version and 1.0 (float) in the other still match.
    text = pd.DataFrame({c: as_text(frame[c]) for c in columns}).fillna("\0<NA>")
    return pd.util.hash_pandas_object(text, index=False)


def _as_numbers(col: pd.Series) -> pd.Series | None:
    if pd.api.types.is_bool_dtype(col):
        return col.astype("float64")
    if pd.api.types.is_numeric_dtype(col):
        return col.astype("float64")
    present = col.dropna()
    if present.empty:
        return None
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.notna().mean() < _NUMERIC_SHARE:
        return None
    return pd.to_numeric(col, errors="coerce").astype("float64")


def _stat(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 6)


def _summary(name: str, old: pd.Series, new: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {
        "column": name,
        "missing_old": _stat(old.isna().mean()) if len(old) else None,
        "missing_new": _stat(new.isna().mean()) if len(new) else None,
    }
    a, b = _as_numbers(old), _as_numbers(new)
    if a is not None and b is not None:
        out["kind"] = "numeric"
        for stat in ("mean", "std", "min", "max"):
            out[f"{stat}_old"] = _stat(getattr(a, stat)())
            out[f"{stat}_new"] = _stat(getattr(b, stat)())
        return out
    old_text, new_text = old.dropna().astype("str"), new.dropna().astype("str")
    seen = set(old_text)
    out["kind"] = "categorical"
    out["distinct_old"] = int(old_text.nunique())
    out["distinct_new"] = int(new_text.nunique())
    out["top_old"] = old_text.mode().iloc[0] if len(old_text) else None
    out["top_new"] = new_text.mode().iloc[0] if len(new_text) else None
    out["unseen_share_new"] = _stat((~new_text.isin(seen)).mean()) if len(new_text) else None
    return out


def diff_frames(old: pd.DataFrame, new: pd.DataFrame, *, key: str | None = None) -> SnapshotDiff:
    """Compare two versions of a table.

    Examples
    --------
    >>> old = pd.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0]})
    >>> new = pd.DataFrame({"id": [2, 3, 4], "x": [2.0, 3.5, 4.0], "y": ["a", "b", "c"]})
    >>> d = diff_frames(old, new)
    >>> d.rows_added, d.rows_removed, d.columns_added
    (2, 2, ['y'])
    >>> d = diff_frames(old, new, key="id")
    >>> d.rows_added, d.rows_removed, d.rows_changed
    (1, 1, 1)
    """
    old_cols, new_cols = [str(c) for c in old.columns], [str(c) for c in new.columns]
    common = [c for c in new_cols if c in old_cols]
    dtype_changes = {
        c: (str(old[c].dtype), str(new[c].dtype))
        for c in common
        if str(old[c].dtype) != str(new[c].dtype)
    }
    changed: int | None = None
    if key is not None:
        for frame, label in ((old, "the old version"), (new, "the new version")):
            if key not in frame.columns:
                raise column_not_found(key, list(frame.columns), label)
        old_keys = old[key].astype("str")
        new_keys = new[key].astype("str")
        old_set, new_set = set(old_keys), set(new_keys)
        added, removed = len(new_set - old_set), len(old_set - new_set)
        both = old_set & new_set
        old_h = dict(zip(old_keys, _row_hashes(old, common), strict=True))
        new_h = dict(zip(new_keys, _row_hashes(new, common), strict=True))
        changed = sum(old_h[k] != new_h[k] for k in both)
        unchanged = len(both) - changed
    else:
        old_count = Counter(_row_hashes(old, common).tolist()) if common else Counter()
        new_count = Counter(_row_hashes(new, common).tolist()) if common else Counter()
        added = sum((new_count - old_count).values()) if common else len(new)
        removed = sum((old_count - new_count).values()) if common else len(old)
        unchanged = sum((old_count & new_count).values())
    return SnapshotDiff(
        n_rows_old=len(old),
        n_rows_new=len(new),
        rows_added=int(added),
        rows_removed=int(removed),
        rows_unchanged=int(unchanged),
        rows_changed=None if changed is None else int(changed),
        key=key,
        columns_added=[c for c in new_cols if c not in old_cols],
        columns_removed=[c for c in old_cols if c not in new_cols],
        dtype_changes=dtype_changes,
        columns=[_summary(c, old[c], new[c]) for c in common],
    )
