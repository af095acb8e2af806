"""The per-column drift tests, vectorised with numpy/scipy.

Every test compares a reference sample with a current sample of one column and returns a
:class:`TestOutcome`. A numeric column is reduced once to a :class:`Grid`: the sorted
distinct values of both samples and how often each sample takes each of them. Whole
numbers in a moderate range (ages, counts, days, amounts in cents ...) get there with one
``bincount`` and no sort; other values with one sort per sample and a linear merge. Every
numeric test then reads the two empirical CDFs off the grid's cumulative counts, so the
statistics are exact (the same as on the raw values), not binned approximations. A
categorical column is reduced to :class:`Counts` per category.

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
>>> round(wasserstein_normalized(Grid.of(a, b)).statistic, 1)
0.5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

__all__ = [
    "Counts",
    "Grid",
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
_BINCOUNT_SLACK = 1024  # whole numbers spanning at most 2 * (n + m) + this: bincount, no sort


@dataclass(frozen=True)
class TestOutcome:
    """A test's statistic and, for hypothesis tests, its (uncorrected) p-value."""

    statistic: float
    p_value: float | None = None


@dataclass(frozen=True)
class Grid:
    """Two numeric samples as their sorted distinct values and the count of each in each.

    Missing and infinite values are dropped. ``reference_cdf`` and ``current_cdf`` are the
    empirical CDFs at ``values`` (right-continuous), which is all the numeric tests need.

    >>> g = Grid.of(np.array([1.0, 2.0, 2.0]), np.array([2.0, 3.0]))
    >>> g.values.tolist(), g.reference.tolist(), g.current.tolist()
    ([1.0, 2.0, 3.0], [1.0, 2.0, 0.0], [0.0, 1.0, 1.0])
    """

    values: np.ndarray
    reference: np.ndarray
    current: np.ndarray

    @classmethod
    def of(cls, reference: np.ndarray, current: np.ndarray) -> Grid:
        r = np.asarray(reference, dtype=float)
        c = np.asarray(current, dtype=float)
        r, c = r[np.isfinite(r)], c[np.isfinite(c)]
        grid = _whole_number_grid(r, c)
        return grid if grid is not None else _sorted_grid(r, c)

    @property
    def n_reference(self) -> int:
        return int(self.reference.sum())

    @property
    def n_current(self) -> int:
        return int(self.current.sum())

    @property
    def reference_cdf(self) -> np.ndarray:
        return np.cumsum(self.reference) / max(self.n_reference, 1)

    @property
    def current_cdf(self) -> np.ndarray:
        return np.cumsum(self.current) / max(self.n_current, 1)

    def quantiles(self, q: np.ndarray, which: str = "reference") -> np.ndarray:
        """``np.quantile`` (linear method) of one sample, from the counts."""
        counts = self.reference if which == "reference" else self.current
        n = int(counts.sum())
        q = np.asarray(q, dtype=float)
        if n == 0:
            return np.full(q.shape, np.nan)
        h = (n - 1) * q
        lo = np.floor(h)
        t = h - lo
        a = self.order_statistic(lo.astype(np.int64), which)
        b = self.order_statistic(np.minimum(lo + 1, n - 1).astype(np.int64), which)
        d = b - a
        return np.where(t >= 0.5, b - d * (1 - t), a + d * t)

    def order_statistic(self, k: np.ndarray | int, which: str = "reference") -> np.ndarray:
        """The ``k``-th smallest value (0-based) of one sample."""
        counts = self.reference if which == "reference" else self.current
        return self.values[np.searchsorted(np.cumsum(counts), k, side="right")]

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """Both samples back as sorted arrays (for small samples only)."""
        return (
            np.repeat(self.values, self.reference.astype(np.int64)),
            np.repeat(self.values, self.current.astype(np.int64)),
        )


def _whole_number_grid(r: np.ndarray, c: np.ndarray) -> Grid | None:
    """The grid by ``bincount`` when both samples are whole numbers in a moderate span."""
    if not len(r) or not len(c):
        return None
    lo, hi = min(r.min(), c.min()), max(r.max(), c.max())
    if hi - lo > 2 * (len(r) + len(c)) + _BINCOUNT_SLACK:
        return None
    if not (np.array_equal(r, np.floor(r)) and np.array_equal(c, np.floor(c))):
        return None
    size = int(hi - lo) + 1
    cr = np.bincount((r - lo).astype(np.intp), minlength=size)
    cc = np.bincount((c - lo).astype(np.intp), minlength=size)
    seen = np.flatnonzero((cr + cc) > 0)
    return Grid(seen + lo, cr[seen].astype(float), cc[seen].astype(float))


def _sorted_grid(r: np.ndarray, c: np.ndarray) -> Grid:
    """The grid by one sort per sample and a stable merge (linear on two sorted runs)."""
    merged = np.concatenate([np.sort(r), np.sort(c)])
    order = np.argsort(merged, kind="stable")
    values = merged[order]
    from_ref = order < len(r)
    last = np.ones(len(values), dtype=bool)  # last position of each run of equal values
    last[:-1] = values[1:] != values[:-1]
    cum_r = np.cumsum(from_ref)[last]
    cum_all = np.flatnonzero(last) + 1
    cr = np.diff(cum_r, prepend=0).astype(float)
    cc = np.diff(cum_all - cum_r, prepend=0).astype(float)
    return Grid(values[last], cr, cc)


@dataclass(frozen=True)
class Counts:
    """Category counts of a reference and a current sample, aligned on their union.

    ``categories`` lists the reference's categories, most frequent first, then those only
    the current sample has.
    """

    categories: np.ndarray
    reference: np.ndarray
    current: np.ndarray

    @classmethod
    def of_codes(cls, reference: np.ndarray, current: np.ndarray, labels: np.ndarray) -> Counts:
        """Counts from integer codes into ``labels`` (``-1`` = missing, not counted).

        >>> c = Counts.of_codes(np.array([0, 1, 1, -1]), np.array([2, 1]), np.array(["a", "b", "c"]))
        >>> c.categories.tolist(), c.reference.tolist(), c.current.tolist()
        (['b', 'a', 'c'], [2.0, 1.0, 0.0], [1.0, 0.0, 1.0])
        """
        k = len(labels)
        r = np.bincount(reference[reference >= 0], minlength=k).astype(float)
        c = np.bincount(current[current >= 0], minlength=k).astype(float)
        keep = (r + c) > 0
        order = np.lexsort((np.arange(k), -r, r == 0))
        order = order[keep[order]]
        return cls(np.asarray(labels, dtype=object)[order], r[order], c[order])

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


def kolmogorov_smirnov(grid: Grid) -> TestOutcome:
    """Two-sample KS: the largest gap between the two empirical CDFs, and its p-value.

    >>> kolmogorov_smirnov(Grid.of(np.arange(100.0), np.arange(100.0))).statistic
    0.0
    """
    n, m = grid.n_reference, grid.n_current
    if n == 0 or m == 0:
        return TestOutcome(float("nan"), None)
    d = float(np.max(np.abs(grid.reference_cdf - grid.current_cdf)))
    if n * m <= _EXACT_KS_MAX:
        ref, cur = grid.samples()
        p = float(stats.ks_2samp(ref, cur, method="exact").pvalue)
    else:
        en = np.sqrt(n * m / (n + m))
        p = float(stats.kstwobign.sf(d * en))
    return TestOutcome(d, min(max(p, 0.0), 1.0))


def _scale(grid: Grid) -> float:
    n = grid.n_reference
    if n == 0:
        return 1.0
    mean = float(np.dot(grid.values, grid.reference)) / n
    std = float(np.sqrt(np.dot(grid.reference, (grid.values - mean) ** 2) / n))
    if std > 0:
        return std
    q1, q3 = grid.quantiles(np.array([0.25, 0.75]))
    iqr = float(q3 - q1) / 1.349
    return iqr if iqr > 0 else 1.0


def wasserstein_normalized(grid: Grid) -> TestOutcome:
    """Wasserstein-1 (earth mover's) distance divided by the reference's spread.

    The spread is the reference standard deviation (IQR/1.349 when it is 0, else 1), so
    a pure shift of the mean by ``k`` standard deviations gives ``k``.
    """
    if grid.n_reference == 0 or grid.n_current == 0:
        return TestOutcome(float("nan"))
    gap = np.abs(grid.reference_cdf - grid.current_cdf)[:-1]
    w = float(np.dot(gap, np.diff(grid.values)))
    return TestOutcome(w / _scale(grid))


def _psi(r: np.ndarray, c: np.ndarray) -> float:
    p = np.maximum(r / max(r.sum(), 1.0), _PSI_EPS)
    q = np.maximum(c / max(c.sum(), 1.0), _PSI_EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_numeric(grid: Grid, bins: int = _PSI_BINS) -> TestOutcome:
    """Population stability index over ``bins`` bins at reference quantiles."""
    if grid.n_reference == 0 or grid.n_current == 0:
        return TestOutcome(float("nan"))
    inner = np.unique(grid.quantiles(np.linspace(0, 1, bins + 1)[1:-1]))
    return TestOutcome(_psi(binned(grid, inner), binned(grid, inner, "current")))


def binned(grid: Grid, inner_edges: np.ndarray, which: str = "reference") -> np.ndarray:
    """Counts of one sample in the bins that ``inner_edges`` cut (open at both ends).

    A value equal to an edge falls in the bin to the edge's right.
    """
    counts = grid.reference if which == "reference" else grid.current
    below = np.concatenate([[0.0], np.cumsum(counts)])
    cuts = below[np.searchsorted(grid.values, inner_edges, side="left")]
    return np.diff(np.concatenate([[0.0], cuts, [below[-1]]]))


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
