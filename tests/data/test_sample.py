"""load() of files bigger than a memory limit: a streamed, seeded reservoir sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelloop.data import estimate_size, load
from modelloop.data._sample import allocate, rows_to_keep, sample_file, sample_frame
from modelloop.exceptions import ConfigurationError

N = 200_000


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> dict[str, Path]:
    """200,000 rows as CSV and Parquet: row index, a normal column, a category, a 3% class."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "i": np.arange(N),
            "x": rng.normal(5.0, 2.0, N).round(3),
            "c": rng.choice(["a", "b", "c"], N),
            "y": np.where(rng.random(N) < 0.03, "yes", "no"),
        }
    )
    frame.loc[rng.choice(N, 2_000, replace=False), "x"] = np.nan
    frame.loc[rng.choice(N, 5, replace=False), "y"] = "rare"
    folder = tmp_path_factory.mktemp("big")
    paths = {"csv": folder / "big.csv", "parquet": folder / "big.parquet"}
    frame.to_csv(paths["csv"], index=False)
    frame.to_parquet(paths["parquet"], index=False)
    return paths


@pytest.fixture(scope="module")
def uniform(big) -> dict[str, object]:
    """The 5,000-row uniform samples of both files (loaded once for several tests)."""
    return {fmt: load(path, sample_rows=5_000, seed=3) for fmt, path in big.items()}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_load_sample_rows_counts_every_row_and_keeps_the_sample(uniform, fmt):
    ds = uniform[fmt]
    assert ds.n_rows == 5_000
    assert ds.sample is not None
    assert (ds.sample.rows_kept, ds.sample.rows_total) == (5_000, N)
    assert ds.sample.method == "uniform reservoir sample, seed 3"
    assert ds.sample.stats is not None and ds.sample.stats.rows == N
    assert ds.frame["i"].is_monotonic_increasing  # kept in file order
    assert ds.frame["i"].is_unique


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_load_sample_is_uniform_over_the_file(uniform, fmt):
    kept = uniform[fmt].frame
    assert kept["x"].mean() == pytest.approx(5.0, abs=0.1)  # sd 2 / sqrt(5000) ~ 0.03
    # every tenth of the file (and so every streamed batch) holds about a tenth of the sample
    deciles = np.bincount((kept["i"] * 10 // N).astype(int), minlength=10)
    assert deciles.min() > 400 and deciles.max() < 600
    assert (kept["c"].value_counts(normalize=True) - 1 / 3).abs().max() < 0.03


def test_load_sample_same_rows_from_csv_parquet_and_memory(big, uniform):
    in_memory = load(pd.read_parquet(big["parquet"]), sample_rows=5_000, seed=3)
    rows = uniform["csv"].frame["i"].tolist()
    assert uniform["parquet"].frame["i"].tolist() == rows
    assert in_memory.frame["i"].tolist() == rows
    assert in_memory.sample is not None and in_memory.sample.rows_total == N


def test_load_sample_is_deterministic_by_seed(big, uniform):
    again = load(big["csv"], sample_rows=5_000, seed=3)
    other = load(big["csv"], sample_rows=5_000, seed=4)
    assert again.hash == uniform["csv"].hash
    assert other.hash != again.hash


def test_sample_file_does_not_depend_on_batch_size(big):
    small, _ = sample_file(big["parquet"], 1_000, seed=1, batch_rows=7_000)
    large, _ = sample_file(big["parquet"], 1_000, seed=1, batch_rows=100_000)
    assert small["i"].tolist() == large["i"].tolist()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_load_sample_stratified_by_target_keeps_rare_classes(big, fmt):
    ds = load(big[fmt], target="y", sample_rows=2_000, seed=0)
    assert ds.sample is not None and ds.sample.stratified_by == "y"
    counts = ds.frame["y"].value_counts()
    assert counts["rare"] == 5  # all five: fewer than the floor of ten per class
    assert counts.sum() == 2_000
    assert counts["yes"] == pytest.approx(0.03 * 2_000, abs=8)  # in proportion


def test_load_memory_limit_streams_a_sample_that_fits(big):
    ds = load(big["csv"], memory_limit=2_000_000)
    assert ds.sample is not None
    assert "more than the limit of 2.0 MB" in ds.sample.reason
    est = estimate_size(big["csv"])
    assert ds.sample.rows_kept == int(2_000_000 / est.row_bytes) < N
    assert ds.sample.rows_total == N


def test_load_small_file_is_read_whole_as_before(big, tmp_path):
    path = tmp_path / "small.csv"
    pd.read_parquet(big["parquet"]).head(500).to_csv(path, index=False)
    plain = load(path)
    assert plain.sample is None and plain.n_rows == 500
    assert rows_to_keep(path, sample_rows=None, memory_limit=None) is None
    roomy = load(path, sample_rows=10_000)  # a limit above the row count changes nothing
    assert roomy.sample is None and roomy.hash == plain.hash


def test_load_sample_rows_at_least_the_rows_of_a_streamed_file_keeps_all(big):
    # the CSV row estimate is rough: a file streamed with room for every row is read whole
    frame, info = sample_file(big["csv"], N, seed=0)
    assert info is None and len(frame) == N and frame["i"].tolist()[:3] == ["0", "1", "2"]


def test_load_sample_rows_with_nrows_is_refused(big):
    with pytest.raises(ConfigurationError, match=r"nrows .* and sample_rows .* cannot both"):
        load(big["csv"], nrows=10, sample_rows=10)


@pytest.mark.parametrize("bad", [0, -5])
def test_load_sample_rows_must_be_positive(big, bad):
    with pytest.raises(ConfigurationError, match="sample_rows must be a positive integer"):
        load(big["csv"], sample_rows=bad)


def test_load_memory_limit_must_be_positive(big):
    with pytest.raises(ConfigurationError, match="memory_limit must be a number of bytes"):
        load(big["csv"], memory_limit=0)


def test_allocate_is_proportional_with_a_floor_per_class():
    assert allocate({"a": 900, "b": 95, "c": 5}, 100) == {"a": 85, "b": 10, "c": 5}
    shares = allocate({"a": 600, "b": 300, "c": 100}, 100)
    assert shares == {"a": 60, "b": 30, "c": 10}
    assert sum(allocate({k: 1_000 for k in "abcdefg"}, 50).values()) == 50


def test_sample_frame_stratified_missing_target_is_a_class():
    frame = pd.DataFrame({"y": ["a"] * 500 + [None] * 30, "x": range(530)})
    kept, info = sample_frame(frame, 100, stratify_by="y", seed=0)
    assert info is not None and info.stratified_by == "y"
    assert kept["y"].isna().sum() == 10  # its share (6) raised to the floor of ten
    assert len(kept) == 100
