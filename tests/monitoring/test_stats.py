"""The grid-based numeric tests equal scipy's (and numpy's) on the raw values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from modelloop.monitoring._stats import (
    Counts,
    Grid,
    binned,
    kolmogorov_smirnov,
    psi_numeric,
    wasserstein_normalized,
)


def _samples(kind: str, n: int, m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "whole":  # bincount path: ties everywhere, negative values
        return rng.poisson(20, n) - 5.0, rng.poisson(21, m) - 5.0
    if kind == "heavy":  # whole numbers too spread out for bincount: sort path with ties
        return np.round(rng.lognormal(8, 2, n)), np.round(rng.lognormal(8.05, 2, m))
    return rng.normal(size=n), rng.normal(0.1, 1.1, m)  # continuous: sort path


@pytest.mark.parametrize("kind", ["whole", "heavy", "continuous"])
@pytest.mark.parametrize(("n", "m"), [(60, 80), (5000, 7000)])
def test_grid_ks_and_wasserstein_equal_scipy(kind, n, m):
    r, c = _samples(kind, n, m)
    grid = Grid.of(np.r_[r, np.nan, np.inf], c)  # non-finite values are dropped
    assert grid.n_reference == n and grid.n_current == m
    ks = kolmogorov_smirnov(grid)
    expected = stats.ks_2samp(r, c, method="exact" if n * m <= 10_000 else "asymp")
    assert ks.statistic == pytest.approx(expected.statistic, rel=1e-12)
    if n * m <= 10_000:
        assert ks.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    else:  # the limiting Kolmogorov distribution (scipy's "asymp" refines it slightly)
        limit = stats.kstwobign.sf(expected.statistic * np.sqrt(n * m / (n + m)))
        assert ks.p_value == pytest.approx(limit, rel=1e-9)
    w = wasserstein_normalized(grid).statistic
    assert w == pytest.approx(stats.wasserstein_distance(r, c) / np.std(r), rel=1e-9)


@pytest.mark.parametrize("kind", ["whole", "heavy", "continuous"])
def test_grid_quantiles_bins_and_psi_equal_raw_computation(kind):
    r, c = _samples(kind, 3000, 2000, seed=1)
    grid = Grid.of(r, c)
    q = np.linspace(0, 1, 11)
    assert np.allclose(grid.quantiles(q), np.quantile(r, q), rtol=1e-12)
    assert np.allclose(grid.quantiles(q, "current"), np.quantile(c, q), rtol=1e-12)
    inner = np.unique(np.quantile(r, q[1:-1]))
    raw_r = np.bincount(np.searchsorted(inner, r, side="right"), minlength=len(inner) + 1)
    raw_c = np.bincount(np.searchsorted(inner, c, side="right"), minlength=len(inner) + 1)
    assert binned(grid, inner).tolist() == raw_r.tolist()
    assert binned(grid, inner, "current").tolist() == raw_c.tolist()
    p = np.maximum(raw_r / len(r), 1e-4)
    s = np.maximum(raw_c / len(c), 1e-4)
    assert psi_numeric(grid).statistic == pytest.approx(np.sum((s - p) * np.log(s / p)))


def test_grid_takes_the_bincount_path_only_for_whole_numbers_in_a_moderate_span():
    from modelloop.monitoring._stats import _whole_number_grid

    r, c = _samples("whole", 1000, 1000)
    assert _whole_number_grid(r, c) is not None
    assert _whole_number_grid(r + 0.5, c) is None
    assert _whole_number_grid(np.r_[r, 1e9], c) is None
    fast, slow = Grid.of(r, c), Grid.of(r + 0.5, c + 0.5)
    assert np.array_equal(fast.values + 0.5, slow.values)
    assert np.array_equal(fast.reference, slow.reference)


def test_grid_of_empty_sample_gives_no_statistic():
    grid = Grid.of(np.array([np.nan]), np.array([1.0, 2.0]))
    assert grid.n_reference == 0
    assert np.isnan(kolmogorov_smirnov(grid).statistic)
    assert np.isnan(wasserstein_normalized(grid).statistic)


def test_counts_of_codes_orders_reference_by_frequency_then_new_categories():
    labels = np.array(["a", "b", "c", "d", "unused"], dtype=object)
    counts = Counts.of_codes(np.array([0, 1, 1, -1, 1, 0, 2]), np.array([3, 3, 0, -1]), labels)
    assert counts.categories.tolist() == ["b", "a", "c", "d"]
    assert counts.reference.tolist() == [3.0, 2.0, 1.0, 0.0]
    assert counts.current.tolist() == [0.0, 1.0, 0.0, 2.0]
    assert counts.unseen_share() == pytest.approx(2 / 3)
