"""The per-column drift tests, vectorised with numpy/scipy.

Every test compares a reference sample with a current sample of one column and returns a
:class:`TestOutcome`. The numeric tests share one sort of each sample (:class:`Sorted`),
so a column costs two sorts and a few ``searchsorted`` calls whatever tests run on it.

Tests, by column kind:

* numeric -- two-sample Kolmogorov-Smirnov (statistic ``D``, p-value: exact for small
  samples, the asymptotic Kolmogorov distribution otherwise), Wasserstein-1 distance
  divided by the reference standard deviation (IQR/1.349 when that is 0), PSI over ten
  reference-quantile bins;
* categorical -- chi-squared test of homogeneity on the category counts (categories with
  an expected count under 5 merged), Jensen-Shannon distance (base 2, in [0, 1]), PSI over
  the categories.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> a, b = rng.normal(size=2000), rng.normal(0.5, 1, size=2000)
>>> round(wasserstein_normalized(Sorted.of(a), Sorted.of(b)).statistic, 1)
0.5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

__all__ = [
    "Counts",
    "Gap",
    "Sorted",
    "TestOutcome",
    "binned",
    "chi_squared",
    "jensen_shannon",
    "kolmogorov_smirnov",
    "missing_rate_test",
    "psi_categorical",
    "psi_numeric",
    "wasserstein_normalized",
]

_PSI_BINS = 10
_PSI_EPS = 1e-4
_EXACT_KS_MAX = 10_000  # n * m below this: scipy's exact KS p-value (slow beyond)


@dataclass(frozen=True)
class TestOutcome:
    """A test's statistic and, for hypothesis tests, its (uncorrected) p-value."""

    statistic: float
    p_value: float | None = None


@dataclass(frozen=True)
class Sorted:
    """A numeric sample without missing values, sorted once."""

    values: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> Sorted:
        arr = np.asarray(values, dtype=float)
        return cls(np.sort(arr[np.isfinite(arr)]))

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Counts:
    """Category counts of a reference and a current sample, aligned on their union."""

    categories: np.ndarray
    reference: np.ndarray
    current: np.ndarray

    @classmethod
    def of(cls, reference: pd.Series, current: pd.Series) -> Counts:
        ref = reference.dropna().astype(str).value_counts()
        cur = current.dropna().astype(str).value_counts()
        union = ref.index.union(cur.index, sort=False)
        # reference order first (most frequent first), then categories only seen now
        order = list(ref.index) + [c for c in union if c not in ref.index]
        r = ref.reindex(order, fill_value=0).to_numpy(dtype=float)
        c = cur.reindex(order, fill_value=0).to_numpy(dtype=float)
        return cls(np.asarray(order, dtype=object), r, c)

    @property
    def n_reference(self) -> int:
        return int(self.reference.sum())

    @property
    def n_current(self) -> int:
        return int(self.current.sum())

    def unseen_share(self) -> float:
        """Share of current values whose category never occurs in the reference."""
        total = self.current.sum()
        return float(self.current[self.reference == 0].sum() / total) if total else 0.0


# ------------------------------------------------------------------------------- numeric


@dataclass(frozen=True)
class Gap:
    """Both empirical CDFs on the merged sorted values of two samples (computed once)."""

    grid: np.ndarray
    f: np.ndarray
    g: np.ndarray

    @classmethod
    def of(cls, ref: Sorted, cur: Sorted) -> Gap:
        # both inputs are sorted: a stable sort of their concatenation is a linear merge
        grid = np.sort(np.concatenate([ref.values, cur.values]), kind="stable")
        f = np.searchsorted(ref.values, grid, side="right") / max(ref.n, 1)
        g = np.searchsorted(cur.values, grid, side="right") / max(cur.n, 1)
        return cls(grid, f, g)


def kolmogorov_smirnov(ref: Sorted, cur: Sorted, gap: Gap | None = None) -> TestOutcome:
    """Two-sample KS: the largest gap between the two empirical CDFs, and its p-value.

    >>> kolmogorov_smirnov(Sorted.of(np.arange(100.0)), Sorted.of(np.arange(100.0))).statistic
    0.0
    """
    n, m = ref.n, cur.n
    if n == 0 or m == 0:
        return TestOutcome(float("nan"), None)
    gap = gap or Gap.of(ref, cur)
    d = float(np.max(np.abs(gap.f - gap.g)))
    if n * m <= _EXACT_KS_MAX:
        p = float(stats.ks_2samp(ref.values, cur.values, method="exact").pvalue)
    else:
        en = np.sqrt(n * m / (n + m))
        p = float(stats.kstwobign.sf(d * en))
    return TestOutcome(d, min(max(p, 0.0), 1.0))


def _scale(ref: Sorted) -> float:
    std = float(np.std(ref.values)) if ref.n else 0.0
    if std > 0:
        return std
    q1, q3 = np.quantile(ref.values, [0.25, 0.75]) if ref.n else (0.0, 0.0)
    iqr = float(q3 - q1) / 1.349
    return iqr if iqr > 0 else 1.0


def wasserstein_normalized(ref: Sorted, cur: Sorted, gap: Gap | None = None) -> TestOutcome:
    """Wasserstein-1 (earth mover's) distance divided by the reference's spread.

    The spread is the reference standard deviation (IQR/1.349 when it is 0, else 1), so
    a pure shift of the mean by ``k`` standard deviations gives ``k``.
    """
    if ref.n == 0 or cur.n == 0:
        return TestOutcome(float("nan"))
    gap = gap or Gap.of(ref, cur)
    w = float(np.sum(np.abs(gap.f[:-1] - gap.g[:-1]) * np.diff(gap.grid)))
    return TestOutcome(w / _scale(ref))


def _psi(r: np.ndarray, c: np.ndarray) -> float:
    p = np.maximum(r / max(r.sum(), 1.0), _PSI_EPS)
    q = np.maximum(c / max(c.sum(), 1.0), _PSI_EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_numeric(ref: Sorted, cur: Sorted, bins: int = _PSI_BINS) -> TestOutcome:
    """Population stability index over ``bins`` bins at reference quantiles."""
    if ref.n == 0 or cur.n == 0:
        return TestOutcome(float("nan"))
    inner = np.unique(np.quantile(ref.values, np.linspace(0, 1, bins + 1)[1:-1]))
    return TestOutcome(_psi(binned(ref, inner), binned(cur, inner)))


def binned(sample: Sorted, inner_edges: np.ndarray) -> np.ndarray:
    """Counts of a sorted sample in the bins that ``inner_edges`` cut (open at both ends)."""
    cuts = np.searchsorted(sample.values, inner_edges, side="left")
    return np.diff(np.concatenate([[0], cuts, [sample.n]])).astype(float)


# --------------------------------------------------------------------------- categorical


def chi_squared(counts: Counts) -> TestOutcome:
    """Chi-squared test that both samples come from one categorical distribution.

    Categories whose expected count is under 5 in either sample are pooled into one, so the
    chi-squared approximation holds. One category left means no evidence of change (p=1).
    """
    r, c = counts.reference, counts.current
    nr, nc = r.sum(), c.sum()
    if nr == 0 or nc == 0:
        return TestOutcome(float("nan"), None)
    pooled = (r + c) / (nr + nc)
    small = (pooled * min(nr, nc)) < 5
    if small.any():
        r = np.append(r[~small], r[small].sum())
        c = np.append(c[~small], c[small].sum())
    keep = (r + c) > 0
    r, c = r[keep], c[keep]
    if len(r) < 2:
        return TestOutcome(0.0, 1.0)
    stat, p, _, _ = stats.chi2_contingency(np.vstack([r, c]), correction=False)
    return TestOutcome(float(stat), float(p))


def jensen_shannon(counts: Counts) -> TestOutcome:
    """Jensen-Shannon distance (base 2: 0 = same frequencies, 1 = disjoint categories)."""
    if counts.n_reference == 0 or counts.n_current == 0:
        return TestOutcome(float("nan"))
    return TestOutcome(float(jensenshannon(counts.reference, counts.current, base=2)))


def psi_categorical(counts: Counts) -> TestOutcome:
    """Population stability index over the categories (unseen ones included)."""
    if counts.n_reference == 0 or counts.n_current == 0:
        return TestOutcome(float("nan"))
    return TestOutcome(_psi(counts.reference, counts.current))


# ------------------------------------------------------------------------------- missing


def missing_rate_test(ref_missing: int, n_ref: int, cur_missing: int, n_cur: int) -> TestOutcome:
    """Change in the missing share (current - reference) and a two-proportion z-test p-value.

    >>> missing_rate_test(0, 100, 0, 100)
    TestOutcome(statistic=0.0, p_value=1.0)
    """
    if n_ref == 0 or n_cur == 0:
        return TestOutcome(float("nan"), None)
    p1, p2 = ref_missing / n_ref, cur_missing / n_cur
    pooled = (ref_missing + cur_missing) / (n_ref + n_cur)
    var = pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur)
    if var <= 0:
        return TestOutcome(p2 - p1, 1.0)
    z = (p2 - p1) / np.sqrt(var)
    return TestOutcome(float(p2 - p1), float(2 * stats.norm.sf(abs(z))))
