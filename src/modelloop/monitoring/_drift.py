"""``drift_report``: reference vs current window, per column, of outputs and of whole rows.

Which test runs on a column depends on its role and on the sample size (see docs/monitoring.md,
"Tests per feature"); p-values are adjusted for the number of tests (Benjamini-Hochberg by
default) before any verdict. Both windows are first cut to a uniform random sample of
``DriftConfig.max_rows`` rows, so a window of a million rows costs about what 100,000 do.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from modelloop.data import Role, Schema
from modelloop.exceptions import EmptyDataError, SchemaMismatchError
from modelloop.monitoring._config import NOT_ENOUGH_DATA, DriftConfig
from modelloop.monitoring._correction import adjust_pvalues
from modelloop.monitoring._domain import DomainDrift, domain_drift
from modelloop.monitoring._encode import Encoded, encode, factorized_labels
from modelloop.monitoring._images import expand_images
from modelloop.monitoring._stats import (
    Counts,
    Grid,
    TestOutcome,
    binned,
    chi_squared,
    jensen_shannon,
    kolmogorov_smirnov,
    missing_rate_test,
    psi_categorical,
    psi_numeric,
    wasserstein_normalized,
)

__all__ = ["DriftReport", "FeatureDrift", "drift_report", "with_attribution", "with_windows"]

MAX_IMAGE_ROWS = 2_000  # rows of each window compared when the model takes images
_HIST_BINS = 20
_HIST_CATEGORIES = 15


@dataclass(frozen=True)
class FeatureDrift:
    """The verdict on one column (or on the model's output, named ``prediction``).

    ``test`` is the test that decided (``ks``, ``wasserstein``, ``chi2``,
    ``jensen_shannon``), ``statistic`` its value and ``threshold`` what it is compared
    with (for ``ks`` and ``chi2`` the threshold is ``alpha`` on the adjusted p-value).
    ``drifted`` is ``None`` when there was not enough data for a verdict. ``reasons``
    says what drifted: ``distribution``, ``missing rate``, ``unseen categories``.
    """

    name: str
    role: str
    kind: str
    test: str
    statistic: float | None
    threshold: float
    p_value: float | None
    p_adjusted: float | None
    drifted: bool | None
    verdict: str
    n_reference: int
    n_current: int
    psi: float | None = None
    psi_drifted: bool | None = None
    missing_reference: float = 0.0
    missing_current: float = 0.0
    missing_p_adjusted: float | None = None
    unseen_share: float | None = None
    reasons: tuple[str, ...] = ()
    histogram: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["reasons"] = list(self.reasons)
        return _finite(d)


@dataclass(frozen=True)
class DriftReport:
    """What :func:`drift_report` found.

    ``features`` has one entry per feature column; ``prediction`` compares the model's
    outputs (``None`` when none were given); ``domain`` is the domain classifier's verdict
    on whole rows; ``performance`` is filled by callers that estimate the model's metric
    (:func:`~modelloop.monitoring.estimate_performance`); ``attribution`` by callers that
    explain both windows (:func:`~modelloop.monitoring.attribution_drift`).
    """

    features: tuple[FeatureDrift, ...]
    n_reference: int
    n_current: int
    config: DriftConfig
    prediction: FeatureDrift | None = None
    domain: DomainDrift | None = None
    performance: Any = None
    windows: tuple[dict[str, Any], ...] = ()
    seconds: float = 0.0
    attribution: Any = None

    def __repr__(self) -> str:
        drifted = self.drifted_features
        shown = ", ".join(drifted[:5]) + (
            f" and {len(drifted) - 5} more" if len(drifted) > 5 else ""
        )
        return (
            f"DriftReport({len(drifted)} of {len(self.features)} columns drifted"
            f"{': ' + shown if drifted else ''}; {self.n_reference:,} reference rows, "
            f"{self.n_current:,} current)"
        )

    def _repr_html_(self) -> str:
        """The notebook view: the drift share, the model's output and each column's verdict."""
        from modelloop.data._repr import html_table, html_view

        facts = [
            f"{len(self.drifted_features)} of {len(self.features)} columns drifted "
            f"({self.drift_share:.0%})",
            f"{self.n_reference:,} reference rows, {self.n_current:,} current",
        ]
        if self.prediction is not None:
            facts.append(f"prediction: {self.prediction.verdict}")
        auc = getattr(self.domain, "auc", None)
        if isinstance(auc, float):
            facts.append(f"domain classifier AUC {auc:.3f}")
        rows = [
            [f.name, f.test, f.statistic, f.threshold, f.p_adjusted, f.verdict]
            for f in sorted(self.features, key=lambda f: (not f.drifted, f.name))
        ]
        table = html_table(["column", "test", "statistic", "threshold", "p (adjusted)", "verdict"],
                           rows, limit=30)  # fmt: skip
        return html_view("Drift report", facts, [("Columns, drifted first", table)])

    @property
    def drifted_features(self) -> list[str]:
        """Names of the columns whose verdict is drift."""
        return [f.name for f in self.features if f.drifted]

    @property
    def drift_share(self) -> float:
        """Drifted columns over columns that got a verdict (0 when none did)."""
        judged = [f for f in self.features if f.drifted is not None]
        return len([f for f in judged if f.drifted]) / len(judged) if judged else 0.0

    def feature(self, name: str) -> FeatureDrift:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def to_frame(self) -> pd.DataFrame:
        """One row per column: name, test, statistic, threshold, p-values, verdict."""
        cols = [
            "name",
            "role",
            "test",
            "statistic",
            "threshold",
            "p_adjusted",
            "psi",
            "missing_reference",
            "missing_current",
            "unseen_share",
            "drifted",
            "verdict",
        ]
        return pd.DataFrame([{c: getattr(f, c) for c in cols} for f in self.features], columns=cols)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of everything (what ``modelloop monitor --json`` writes)."""
        perf = self.performance.to_dict() if self.performance is not None else None
        return _finite(
            {
                "n_reference": self.n_reference,
                "n_current": self.n_current,
                "drift_share": self.drift_share,
                "drifted_features": self.drifted_features,
                "features": [f.to_dict() for f in self.features],
                "prediction": self.prediction.to_dict() if self.prediction else None,
                "domain": self.domain.to_dict() if self.domain else None,
                "performance": perf,
                "attribution": self.attribution.to_dict() if self.attribution else None,
                "windows": list(self.windows),
                "config": self.config.to_dict(),
                "seconds": self.seconds,
            }
        )


def _finite(value: Any) -> Any:
    """NaN/inf become None and numpy scalars Python ones, recursively (for JSON)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------- column preparing


def _sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    if len(frame) <= n:
        return frame
    rows = np.sort(np.random.default_rng(seed).choice(len(frame), size=n, replace=False))
    return frame.iloc[rows]


@dataclass
class _Column:
    name: str
    role: Role
    kind: str
    n_ref_total: int
    n_cur_total: int
    ref_missing: int
    cur_missing: int
    known: frozenset[str] = frozenset()
    grid: Grid | None = None
    counts: Counts | None = None

    @property
    def n_ref(self) -> int:
        if self.kind == "numeric":
            return self.grid.n_reference if self.grid else 0
        return self.counts.n_reference if self.counts else 0

    @property
    def n_cur(self) -> int:
        if self.kind == "numeric":
            return self.grid.n_current if self.grid else 0
        return self.counts.n_current if self.counts else 0


def _column(enc: Encoded, known: Sequence[str] = ()) -> _Column:
    r, c = enc.reference, enc.current
    if enc.kind == "numeric":
        missing_r, missing_c = int(np.isnan(r).sum()), int(np.isnan(c).sum())
    else:
        missing_r, missing_c = int((r < 0).sum()), int((c < 0).sum())
    col = _Column(enc.name, enc.role, enc.kind, len(r), len(c), missing_r, missing_c)
    if enc.kind == "numeric":
        col.grid = Grid.of(r, c)
    else:
        assert enc.labels is not None
        col.counts = Counts.of_codes(r, c, enc.labels)
        col.known = frozenset(str(k) for k in known)
    return col


def _histogram(col: _Column) -> dict[str, Any]:
    if col.kind == "numeric":
        grid = col.grid
        assert grid is not None
        sides = [s for s, n in (("reference", col.n_ref), ("current", col.n_cur)) if n]
        if not sides:
            return {}
        n = {"reference": col.n_ref, "current": col.n_cur}
        lo = min(float(grid.order_statistic(int(0.01 * (n[s] - 1)), s)) for s in sides)
        hi = max(float(grid.order_statistic(int(0.99 * (n[s] - 1)), s)) for s in sides)
        if hi <= lo:
            hi = lo + 1.0
        edges = np.linspace(lo, hi, _HIST_BINS + 1)

        def share(which: str) -> list[float]:
            h = binned(grid, edges[1:-1], which)  # the outer bins take what is beyond 1 %/99 %
            return (h / max(h.sum(), 1)).tolist()

        return {
            "kind": "numeric",
            "edges": edges.tolist(),
            "reference": share("reference"),
            "current": share("current"),
        }
    assert col.counts is not None
    r = col.counts.reference / max(col.counts.reference.sum(), 1.0)
    c = col.counts.current / max(col.counts.current.sum(), 1.0)
    top = np.argsort(-np.maximum(r, c), kind="stable")[:_HIST_CATEGORIES]
    return {
        "kind": "categorical",
        "categories": [str(x) for x in col.counts.categories[top]],
        "reference": r[top].tolist(),
        "current": c[top].tolist(),
    }


# -------------------------------------------------------------------------------- tests


@dataclass
class _Raw:
    col: _Column
    test: str
    main: TestOutcome
    significance: TestOutcome
    threshold: float
    psi: TestOutcome
    missing: TestOutcome
    unseen: float | None
    enough: bool


def _run_tests(col: _Column, config: DriftConfig) -> _Raw:
    n = min(col.n_ref, col.n_cur)
    enough = n >= config.min_rows
    small = n <= config.small_sample
    missing = missing_rate_test(col.ref_missing, col.n_ref_total, col.cur_missing, col.n_cur_total)
    if col.kind == "numeric":
        grid = col.grid
        assert grid is not None
        unseen = None
        if not enough:
            sig = main = TestOutcome(float("nan"), None)
        else:
            sig = kolmogorov_smirnov(grid)
            main = sig if small else wasserstein_normalized(grid)
        psi = psi_numeric(grid) if enough else TestOutcome(float("nan"))
        test, threshold = ("ks", config.alpha) if small else ("wasserstein", config.wasserstein)
    else:
        assert col.counts is not None
        counts = col.counts
        unseen = counts.unseen_share() if not col.known else _unseen(counts, col.known)
        if not enough:
            sig = main = TestOutcome(float("nan"), None)
        else:
            sig = chi_squared(counts)
            main = sig if small else jensen_shannon(counts)
        psi = psi_categorical(counts) if enough else TestOutcome(float("nan"))
        test, threshold = (
            ("chi2", config.alpha) if small else ("jensen_shannon", config.jensen_shannon)
        )
    return _Raw(col, test, main, sig, threshold, psi, missing, unseen, enough)


def _unseen(counts: Counts, known: frozenset[str]) -> float:
    total = counts.current.sum()
    if not total:
        return 0.0
    only_now = np.flatnonzero(counts.reference == 0)
    new = [i for i in only_now if str(counts.categories[i]) not in known]
    return float(counts.current[new].sum() / total)


def _verdicts(raws: Sequence[_Raw], config: DriftConfig) -> list[FeatureDrift]:
    # One family: every distribution test and every missing-rate test.
    pvals: list[float | None] = [r.significance.p_value for r in raws]
    pvals += [r.missing.p_value for r in raws]
    adjusted = adjust_pvalues(pvals, config.correction)
    k = len(raws)
    out = []
    for i, r in enumerate(raws):
        p_adj, miss_adj = adjusted[i], adjusted[k + i]
        reasons: list[str] = []
        dist: bool | None = None
        if r.enough and p_adj is not None:
            significant = p_adj < config.alpha
            if r.test in ("ks", "chi2"):
                dist = significant
            else:
                dist = significant and bool(r.main.statistic >= r.threshold)
            if dist:
                reasons.append("distribution")
        missing_flag = bool(
            miss_adj is not None
            and miss_adj < config.alpha
            and abs(r.missing.statistic) >= config.missing_rate
        )
        if missing_flag:
            reasons.append("missing rate")
        unseen_flag = bool(r.enough and r.unseen is not None and r.unseen >= config.unseen_share)
        if unseen_flag:
            reasons.append("unseen categories")
        drifted: bool | None = bool(reasons) if (dist is not None or reasons) else None
        verdict = NOT_ENOUGH_DATA if drifted is None else ("drift" if drifted else "no drift")
        psi = r.psi.statistic
        col = r.col
        out.append(
            FeatureDrift(
                name=col.name,
                role=col.role.value,
                kind=col.kind,
                test=r.test,
                statistic=r.main.statistic if r.enough else None,
                threshold=r.threshold,
                p_value=r.significance.p_value,
                p_adjusted=p_adj,
                drifted=drifted,
                verdict=verdict,
                n_reference=col.n_ref,
                n_current=col.n_cur,
                psi=psi if np.isfinite(psi) else None,
                psi_drifted=bool(psi >= config.psi) if np.isfinite(psi) else None,
                missing_reference=col.ref_missing / col.n_ref_total if col.n_ref_total else 0.0,
                missing_current=col.cur_missing / col.n_cur_total if col.n_cur_total else 0.0,
                missing_p_adjusted=miss_adj,
                unseen_share=r.unseen,
                reasons=tuple(reasons),
                histogram=_histogram(col),
            )
        )
    return out


def _output_drift(
    reference: Any, current: Any, config: DriftConfig, name: str = "prediction"
) -> FeatureDrift:
    ref, cur = pd.Series(np.asarray(reference)), pd.Series(np.asarray(current))
    if pd.api.types.is_float_dtype(ref) and pd.api.types.is_float_dtype(cur):
        enc = Encoded(name, Role.NUMERIC, "numeric", ref.to_numpy(), cur.to_numpy())
    else:
        (r, r_keys), (c, c_keys) = (pd.factorize(s.astype(str)) for s in (ref, cur))
        args = (r, np.asarray(r_keys, dtype=object), c, np.asarray(c_keys, dtype=object))
        r, c, labels = factorized_labels(*args)
        enc = Encoded(name, Role.CATEGORICAL, "categorical", r, c, labels)
    raw = _run_tests(_column(enc), config)
    return _verdicts([raw], config)[0]


# --------------------------------------------------------------------------- the report


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    schema: Schema,
    *,
    config: DriftConfig | None = None,
    reference_output: Any = None,
    current_output: Any = None,
    performance: Any = None,
) -> DriftReport:
    """Compare a current window of model inputs with the reference (training) rows.

    Parameters
    ----------
    reference, current : DataFrame
        Raw or typed rows; the schema's feature columns are compared (others ignored). A
        feature absent from ``current`` counts as all missing.
    schema : Schema
        The model's input schema: column roles pick the tests.
    config : DriftConfig
        Thresholds, sample sizes, correction method, seed.
    reference_output, current_output : array-like, optional
        The model's outputs on both windows (float scores, or labels): prediction drift.
    performance : optional
        A :class:`~modelloop.monitoring.PerformanceReport` to carry in the report.

    Returns
    -------
    DriftReport

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from modelloop.data import infer_schema
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)})
    >>> cur = ref.assign(x=ref["x"] + 1.0)
    >>> report = drift_report(ref, cur, infer_schema(ref), config=DriftConfig(domain=False))
    >>> report.drifted_features
    ['x']
    """
    config = config or DriftConfig()
    started = time.perf_counter()
    features = schema.feature_columns()
    if not features:
        raise SchemaMismatchError("The schema has no feature columns to compare for drift.")
    present = [c for c in features if c in current.columns]
    if not present:
        raise SchemaMismatchError(
            f"The current window has none of the model's feature columns "
            f"({', '.join(features[:10])}). Got columns: {', '.join(map(str, list(current.columns)[:10]))}."
        )
    for what, frame in (("reference", reference), ("current", current)):
        if len(frame) == 0:
            raise EmptyDataError(
                f"The {what} window has no rows: nothing to compare. "
                "Choose a window that holds logged predictions (e.g. a longer --window)."
            )
    cap = config.max_rows
    if schema.by_role(Role.IMAGE):  # each image is decoded (and embedded): fewer rows
        cap = min(cap, MAX_IMAGE_ROWS)
    ref = _sample(reference, cap, config.seed)
    cur = _sample(current, cap, config.seed + 1)
    ref, cur, schema, embedded = expand_images(ref, cur, schema, embeddings=config.domain)
    features = schema.feature_columns()
    columns = encode([schema[name] for name in features], ref, cur)
    raws = [_run_tests(_column(enc, schema[enc.name].categories or ()), config) for enc in columns]
    feature_drift = tuple(_verdicts(raws, config))
    prediction = None
    if reference_output is not None and current_output is not None:
        prediction = _output_drift(reference_output, current_output, config)
    domain = domain_drift(columns + embedded, config) if config.domain else None
    return DriftReport(
        features=feature_drift,
        n_reference=len(reference),
        n_current=len(current),
        config=config,
        prediction=prediction,
        domain=domain,
        performance=performance,
        seconds=time.perf_counter() - started,
    )


def with_attribution(report: DriftReport, attribution: Any) -> DriftReport:
    """A copy of ``report`` carrying an :class:`AttributionDrift` verdict."""
    return replace(report, attribution=attribution)


def with_windows(report: DriftReport, windows: Sequence[dict[str, Any]]) -> DriftReport:
    """A copy of ``report`` carrying per-window figures (drift share, metric over time)."""
    return replace(report, windows=tuple(windows))
