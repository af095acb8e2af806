"""Differences between two versions of a table."""

from __future__ import annotations

import pandas as pd
import pytest

from modelloop.data import diff_frames, storable_frame
from modelloop.exceptions import ColumnNotFoundError


def test_diff_frames_counts_rows_and_schema_changes() -> None:
    old = pd.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0], "gone": ["a", "b", "c"]})
    new = pd.DataFrame({"id": [1, 2, 4, 4], "x": [1.0, 2.0, 9.0, 9.0], "extra": [1, 2, 3, 4]})
    d = diff_frames(old, new)
    assert (d.rows_added, d.rows_removed, d.rows_unchanged) == (2, 1, 2)
    assert d.columns_added == ["extra"] and d.columns_removed == ["gone"]
    assert d.schema_changed and d.dtype_changes == {}


def test_diff_frames_by_key_counts_changed_rows() -> None:
    old = pd.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0]})
    new = pd.DataFrame({"id": [1, 2, 4], "x": [1.0, 5.0, 4.0]})
    d = diff_frames(old, new, key="id")
    assert (d.rows_added, d.rows_removed, d.rows_changed, d.rows_unchanged) == (1, 1, 1, 1)


def test_diff_frames_distribution_summary() -> None:
    old = pd.DataFrame({"x": ["1", "2", "3"], "c": ["a", "a", "b"]})
    new = pd.DataFrame({"x": [10.0, 20.0, None], "c": ["a", "z", "z"]})
    d = diff_frames(old, new)
    x, c = d.columns
    assert x["kind"] == "numeric" and x["mean_old"] == 2.0 and x["mean_new"] == 15.0
    assert x["missing_new"] == pytest.approx(1 / 3, abs=1e-6)
    assert d.dtype_changes == {"x": ("str", "float64")}
    assert c["kind"] == "categorical" and c["top_new"] == "z"
    assert c["unseen_share_new"] == pytest.approx(2 / 3, abs=1e-6)


def test_diff_frames_same_rows_with_other_number_types_are_unchanged() -> None:
    d = diff_frames(pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [1.0, 2.0]}))
    assert (d.rows_added, d.rows_removed) == (0, 0)


def test_diff_frames_unknown_key() -> None:
    with pytest.raises(ColumnNotFoundError, match="Column 'nope' is not in the old version"):
        diff_frames(pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [1]}), key="nope")


def test_storable_frame_makes_mixed_and_nested_columns_text() -> None:
    frame = storable_frame(pd.DataFrame({"m": [1, "x", None], "n": [{"a": 1}, None, [1]]}))
    assert frame["m"].tolist()[:2] == ["1", "x"] and pd.isna(frame["m"].iloc[2])
    assert frame["n"].tolist()[0] == '{"a": 1}'
    frame.to_parquet(pd.io.common.BytesIO())
