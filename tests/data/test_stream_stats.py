"""stream_stats(): exact per-column figures of a whole file, one batch at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from modelloop.data import StreamStats, stream_stats


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 30_000
    out = pd.DataFrame(
        {"x": rng.normal(size=n), "k": rng.integers(0, 9, n), "c": rng.choice(["u", "v"], n)}
    )
    out.loc[rng.choice(n, 300, replace=False), "x"] = np.nan
    return out


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_stream_stats_exact_over_batches(frame, tmp_path, fmt):
    path = tmp_path / f"f.{fmt}"
    frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path, index=False)
    stats = stream_stats(path, batch_rows=4_000)
    assert stats.rows == len(frame)
    x = stats.columns["x"]
    assert x.missing == 300 and x.count == len(frame) - 300
    assert x.mean == pytest.approx(frame["x"].mean(), rel=1e-9)
    assert (x.min, x.max) == pytest.approx((frame["x"].min(), frame["x"].max()))
    assert stats.columns["k"].max == frame["k"].max()
    assert stats.columns["c"].to_dict() == {"missing": 0}  # text: no numeric figures
    assert stats.missing_share("x") == pytest.approx(0.01)


def test_stream_stats_column_with_one_word_is_not_numeric():
    stats = StreamStats()
    stats.update(pa.table({"a": ["1", "2"]}))
    stats.update(pa.table({"a": ["3", "forty"]}))
    assert stats.columns["a"].numeric is False
    assert stats.columns["a"].mean is None
    assert stats.to_dict() == {"rows": 4, "columns": {"a": {"missing": 0}}}


def test_stream_stats_nan_in_a_float_column_counts_as_missing():
    stats = StreamStats()
    stats.update(pa.table({"f": pa.array([1.0, float("nan"), None, 3.0])}))
    assert stats.columns["f"].missing == 2
    assert stats.columns["f"].mean == 2.0
