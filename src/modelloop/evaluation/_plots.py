"""Evaluation plots: pure functions from plain data to matplotlib figures.

Every function takes arrays, dicts or DataFrames and returns a
:class:`matplotlib.figure.Figure` built without ``pyplot`` (no global state, no GUI
backend: figures render with Agg), with a title and labelled axes. Colours come from the
Okabe-Ito palette (safe for the common colour-vision deficiencies) and colour maps are
``cividis``; lines also differ by style, so no plot relies on colour alone.

>>> from modelloop.evaluation import residual_histogram_figure
>>> fig = residual_histogram_figure([1.0, 2.0, 3.0], [1.1, 1.9, 3.3])
>>> fig.axes[0].get_xlabel()
'residual (actual − predicted)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelloop.exceptions import InvalidInputError

if TYPE_CHECKING:  # matplotlib is imported on first use: ``import modelloop`` stays quick
    from matplotlib.figure import Figure

__all__ = [
    "OKABE_ITO",
    "calibration_figure",
    "confusion_matrix_figure",
    "contribution_importance_figure",
    "contribution_summary_figure",
    "dependence_figure",
    "importance_figure",
    "learning_curve_figure",
    "optimization_history_figure",
    "pr_curve_figure",
    "predicted_vs_actual_figure",
    "probability_histogram_figure",
    "residual_histogram_figure",
    "residuals_figure",
    "roc_curve_figure",
    "target_distribution_figure",
]

#: Okabe & Ito (2008) colour-blind safe palette, black left out (used for references).
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#999999",  # grey
)
_STYLES = ("-", "--", "-.", ":")
_MAX_CURVES = 8  # one-vs-rest curves drawn for multiclass; the most frequent classes
_MAX_MATRIX = 25  # classes shown in a confusion matrix
_MAX_POINTS = 5_000  # points drawn in a scatter plot
_REFERENCE = "#000000"


def _figure(width: float = 6.4, height: float = 4.6, ncols: int = 1) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = fig.subplots(1, ncols)
    for ax in np.atleast_1d(axes):
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    return fig, axes


def _style(i: int) -> dict[str, Any]:
    return {"color": OKABE_ITO[i % len(OKABE_ITO)], "linestyle": _STYLES[i % len(_STYLES)]}


def _labels(y: Any, what: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or len(arr) == 0:
        raise InvalidInputError(f"{what} must be a non-empty 1-D array. Got shape {arr.shape}.")
    return arr


def _proba(proba: Any, classes: Sequence[Any], n: int) -> np.ndarray:
    p = np.asarray(proba, dtype=float)
    if p.ndim == 1 and len(classes) == 2:
        p = np.column_stack([1.0 - p, p])
    if p.ndim != 2 or p.shape != (n, len(classes)):
        raise InvalidInputError(
            f"Probabilities must have one row per label and one column per class "
            f"({n}, {len(classes)}). Got shape {p.shape}."
        )
    return p


def _shown_classes(y_true: np.ndarray, classes: Sequence[Any], limit: int) -> list[int]:
    """Indices of the classes to draw: all, or the ``limit`` most frequent in ``y_true``."""
    if len(classes) <= limit:
        return list(range(len(classes)))
    counts = [int(np.sum(y_true == c)) for c in classes]
    return sorted(np.argsort(counts, kind="stable")[::-1][:limit].tolist())


def _curve_indices(y_true: np.ndarray, classes: Sequence[Any]) -> list[int]:
    # Binary: the positive class (classes[1]) only; multiclass: one-vs-rest per class.
    return [1] if len(classes) == 2 else _shown_classes(y_true, classes, _MAX_CURVES)


def confusion_matrix_figure(y_true: Any, y_pred: Any, classes: Sequence[Any]) -> Figure:
    """Counts of true (rows) against predicted (columns) classes, shaded by row share.

    With more than 25 classes the 25 most frequent are shown.

    Examples
    --------
    >>> fig = confusion_matrix_figure(["a", "b", "b"], ["a", "b", "a"], ["a", "b"])
    >>> fig.axes[0].get_ylabel()
    'true class'
    """
    from sklearn.metrics import confusion_matrix

    yt, yp = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    cls = list(classes)
    idx = _shown_classes(yt, cls, _MAX_MATRIX)
    shown = [cls[i] for i in idx]
    matrix = confusion_matrix(yt, yp, labels=shown)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.nan_to_num(matrix / matrix.sum(axis=1, keepdims=True))
    k = len(shown)
    size = min(4.0 + 0.35 * k, 12.0)
    fig, ax = _figure(size + 1.2, size)
    image = ax.imshow(share, cmap="cividis", vmin=0.0, vmax=1.0)
    ax.grid(False)
    fig.colorbar(image, ax=ax, label="share of the true class")
    ticks = np.arange(k)
    names = [str(c) for c in shown]
    ax.set_xticks(ticks, names, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    title = "Confusion matrix (test split)"
    if len(shown) < len(cls):
        title += f": {k} most frequent of {len(cls)} classes"
    ax.set_title(title)
    if k <= 15:
        for i in range(k):
            for j in range(k):
                ax.text(
                    j,
                    i,
                    f"{matrix[i, j]:,}",
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="black" if share[i, j] > 0.5 else "white",
                )
    return fig


def roc_curve_figure(y_true: Any, proba: Any, classes: Sequence[Any]) -> Figure:
    """ROC curve of the positive class (binary) or one-vs-rest per class (multiclass).

    Examples
    --------
    >>> fig = roc_curve_figure([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.4], [0, 1])
    >>> fig.axes[0].get_xlabel()
    'false positive rate'
    """
    from sklearn.metrics import auc, roc_curve

    yt = _labels(y_true, "y_true")
    p = _proba(proba, list(classes), len(yt))
    fig, ax = _figure()
    for n, i in enumerate(_curve_indices(yt, classes)):
        positive = yt == classes[i]
        if positive.all() or not positive.any():
            continue
        fpr, tpr, _ = roc_curve(positive, p[:, i])
        ax.plot(fpr, tpr, label=f"{classes[i]} (AUC {auc(fpr, tpr):.3f})", **_style(n))
    ax.plot([0, 1], [0, 1], color=_REFERENCE, linestyle=":", linewidth=1, label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate (recall)")
    kind = "positive class" if len(classes) == 2 else "one-vs-rest"
    ax.set_title(f"ROC curve ({kind}, test split)")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def pr_curve_figure(y_true: Any, proba: Any, classes: Sequence[Any]) -> Figure:
    """Precision-recall curve of the positive class, or one-vs-rest per class.

    Examples
    --------
    >>> fig = pr_curve_figure([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.4], [0, 1])
    >>> fig.axes[0].get_ylabel()
    'precision'
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    yt = _labels(y_true, "y_true")
    p = _proba(proba, list(classes), len(yt))
    fig, ax = _figure()
    for n, i in enumerate(_curve_indices(yt, classes)):
        positive = yt == classes[i]
        if not positive.any():
            continue
        precision, recall, _ = precision_recall_curve(positive, p[:, i])
        ap = average_precision_score(positive, p[:, i])
        style = _style(n)
        ax.step(recall, precision, where="post", label=f"{classes[i]} (AP {ap:.3f})", **style)
        ax.axhline(positive.mean(), color=style["color"], linestyle=":", linewidth=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    kind = "positive class" if len(classes) == 2 else "one-vs-rest"
    ax.set_title(f"Precision-recall curve ({kind}, test split)")
    ax.legend(loc="lower left", fontsize=8, title="dotted: base rate", title_fontsize=8)
    return fig


def calibration_figure(y_true: Any, proba: Any, classes: Sequence[Any], n_bins: int = 10) -> Figure:
    """Reliability diagram: predicted probability against the observed frequency.

    Binary: the positive class. Multiclass: the top-label probability (the model's
    confidence in its predicted class) against how often that prediction is right.

    Examples
    --------
    >>> fig = calibration_figure([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.4], [0, 1], n_bins=2)
    >>> fig.axes[0].get_xlabel()
    'mean predicted probability'
    """
    yt = _labels(y_true, "y_true")
    cls = list(classes)
    p = _proba(proba, cls, len(yt))
    if len(cls) == 2:
        score, hit = p[:, 1], yt == cls[1]
        label, ylabel = f"P({cls[1]})", f"observed share of {cls[1]}"
    else:
        top = np.argmax(p, axis=1)
        score, hit = p[np.arange(len(yt)), top], np.asarray(cls, dtype=object)[top] == yt
        label, ylabel = "top-label confidence", "observed accuracy"
    edges = np.unique(np.quantile(score, np.linspace(0, 1, n_bins + 1)))
    bins = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, max(len(edges) - 2, 0))
    mean_p, freq, sizes = [], [], []
    for b in np.unique(bins):
        mask = bins == b
        mean_p.append(float(score[mask].mean()))
        freq.append(float(hit[mask].mean()))
        sizes.append(int(mask.sum()))
    fig, ax = _figure()
    ax.plot(
        [0, 1], [0, 1], color=_REFERENCE, linestyle=":", linewidth=1, label="perfectly calibrated"
    )
    ax.plot(mean_p, freq, marker="o", label=label, **_style(0))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel(ylabel)
    ax.set_title(f"Calibration ({len(mean_p)} equal-count bins, test split)")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def probability_histogram_figure(y_true: Any, proba: Any, classes: Sequence[Any]) -> Figure:
    """Histogram of predicted probabilities.

    Binary: ``P(positive)`` split by the true class. Multiclass: the top-label confidence
    split by whether the prediction is right.

    Examples
    --------
    >>> fig = probability_histogram_figure([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.4], [0, 1])
    >>> fig.axes[0].get_ylabel()
    'test rows'
    """
    yt = _labels(y_true, "y_true")
    cls = list(classes)
    p = _proba(proba, cls, len(yt))
    bins = np.linspace(0, 1, 26)
    fig, ax = _figure()
    if len(cls) == 2:
        groups = [(f"true {c}", p[yt == c, 1]) for c in cls]
        xlabel = f"predicted P({cls[1]})"
    else:
        top = np.argmax(p, axis=1)
        right = np.asarray(cls, dtype=object)[top] == yt
        conf = p[np.arange(len(yt)), top]
        groups = [("right", conf[right]), ("wrong", conf[~right])]
        xlabel = "top-label confidence"
    for i, (name, values) in enumerate(groups):
        ax.hist(
            values,
            bins=bins,
            alpha=0.55,
            color=OKABE_ITO[i],
            edgecolor=OKABE_ITO[i],
            hatch=None if i == 0 else "//",
            label=f"{name} ({len(values):,})",
        )
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test rows")
    ax.set_title("Predicted probabilities (test split)")
    ax.legend(fontsize=8)
    return fig


def _xy(y_true: Any, y_pred: Any, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    yt = _labels(y_true, "y_true").astype(float)
    yp = _labels(y_pred, "y_pred").astype(float)
    if len(yt) != len(yp):
        raise InvalidInputError(
            f"y_true and y_pred must have the same length. Got {len(yt)} and {len(yp)}."
        )
    note = ""
    if len(yt) > _MAX_POINTS:
        keep = np.random.default_rng(seed).choice(len(yt), _MAX_POINTS, replace=False)
        yt, yp, note = yt[keep], yp[keep], f" ({_MAX_POINTS:,} sampled points)"
    return yt, yp, note


def predicted_vs_actual_figure(y_true: Any, y_pred: Any) -> Figure:
    """Scatter of predicted against actual values, with the line of perfect predictions.

    Examples
    --------
    >>> fig = predicted_vs_actual_figure([1.0, 2.0, 3.0], [1.1, 1.9, 3.3])
    >>> fig.axes[0].get_xlabel()
    'actual'
    """
    yt, yp, note = _xy(y_true, y_pred)
    fig, ax = _figure()
    ax.scatter(yt, yp, s=10, alpha=0.5, color=OKABE_ITO[0], edgecolors="none", label="test rows")
    lo, hi = float(min(yt.min(), yp.min())), float(max(yt.max(), yp.max()))
    ax.plot(
        [lo, hi],
        [lo, hi],
        color=_REFERENCE,
        linestyle="--",
        linewidth=1,
        label="predicted = actual",
    )
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    ax.set_title(f"Predicted vs actual (test split){note}")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def residuals_figure(y_true: Any, y_pred: Any) -> Figure:
    """Residuals (actual − predicted) against predicted values.

    Examples
    --------
    >>> fig = residuals_figure([1.0, 2.0, 3.0], [1.1, 1.9, 3.3])
    >>> fig.axes[0].get_ylabel()
    'residual (actual − predicted)'
    """
    yt, yp, note = _xy(y_true, y_pred)
    fig, ax = _figure()
    ax.scatter(yp, yt - yp, s=10, alpha=0.5, color=OKABE_ITO[0], edgecolors="none")
    ax.axhline(0.0, color=_REFERENCE, linestyle="--", linewidth=1)
    ax.set_xlabel("predicted")
    ax.set_ylabel("residual (actual − predicted)")
    ax.set_title(f"Residuals vs predicted (test split){note}")
    return fig


def residual_histogram_figure(y_true: Any, y_pred: Any) -> Figure:
    """Histogram of residuals (actual − predicted), all test rows.

    Examples
    --------
    >>> fig = residual_histogram_figure([1.0, 2.0, 3.0], [1.1, 1.9, 3.3])
    >>> fig.axes[0].get_ylabel()
    'test rows'
    """
    yt = _labels(y_true, "y_true").astype(float)
    yp = _labels(y_pred, "y_pred").astype(float)
    residuals = yt - yp
    fig, ax = _figure()
    ax.hist(residuals, bins=min(50, max(10, len(residuals) // 20)), color=OKABE_ITO[0], alpha=0.8)
    ax.axvline(0.0, color=_REFERENCE, linestyle="--", linewidth=1)
    ax.set_xlabel("residual (actual − predicted)")
    ax.set_ylabel("test rows")
    ax.set_title(f"Residuals (mean {residuals.mean():.4g}, std {residuals.std():.4g})")
    return fig


def importance_figure(
    importances: pd.DataFrame | Mapping[str, float], *, metric: str = "", top: int = 20
) -> Figure:
    """Horizontal bars of permutation importance, largest first, with ±1 std whiskers.

    ``importances`` is a DataFrame with ``feature``, ``importance`` and optionally
    ``std`` columns, or a mapping feature -> importance.

    Examples
    --------
    >>> fig = importance_figure({"age": 0.12, "fare": 0.03}, metric="roc_auc")
    >>> fig.axes[0].get_xlabel()
    'drop in roc_auc when the column is shuffled'
    """
    frame = (
        pd.DataFrame({"feature": list(importances), "importance": list(importances.values())})
        if isinstance(importances, Mapping)
        else pd.DataFrame(importances)
    )
    if frame.empty or not {"feature", "importance"} <= set(frame.columns):
        raise InvalidInputError(
            "importances needs at least one row with 'feature' and 'importance'. "
            f"Got columns {list(frame.columns)} and {len(frame)} rows."
        )
    frame = frame.sort_values("importance", ascending=False).head(top).iloc[::-1]
    std = frame["std"].to_numpy(dtype=float) if "std" in frame else None
    fig, ax = _figure(6.4, max(2.4, 0.32 * len(frame) + 1.4))
    ax.barh(
        [str(f) for f in frame["feature"]],
        frame["importance"].to_numpy(dtype=float),
        xerr=std,
        color=OKABE_ITO[0],
        ecolor=_REFERENCE,
        capsize=2,
    )
    ax.axvline(0.0, color=_REFERENCE, linewidth=0.8)
    ax.set_xlabel(f"drop in {metric or 'score'} when the column is shuffled")
    ax.set_ylabel("input column")
    ax.set_title("Permutation importance (test split)")
    return fig


def contribution_importance_figure(
    mean_abs: Mapping[str, float], *, output: str = "output", top: int = 20
) -> Figure:
    """Horizontal bars of the mean absolute contribution of each input column, largest first.

    Examples
    --------
    >>> fig = contribution_importance_figure({"Sex": 0.16, "Pclass": 0.08}, output="probability")
    >>> fig.axes[0].get_xlabel()
    'mean |contribution| to the probability'
    """
    items = sorted(
        ((str(k), float(v)) for k, v in mean_abs.items() if np.isfinite(float(v))),
        key=lambda kv: kv[1],
        reverse=True,
    )[:top]
    if not items:
        raise InvalidInputError("mean_abs needs at least one column with a finite value.")
    items = items[::-1]
    fig, ax = _figure(6.4, max(2.4, 0.32 * len(items) + 1.4))
    ax.barh([k for k, _ in items], [v for _, v in items], color=OKABE_ITO[0])
    ax.set_xlabel(f"mean |contribution| to the {output}")
    ax.set_ylabel("input column")
    ax.set_title("Global importance: mean |contribution| (test rows)")
    return fig


def _colour_values(values: pd.Series | None) -> tuple[np.ndarray | None, bool]:
    """Each value's rank in [0, 1] for a colour scale (NaN for missing / non-numeric); an
    object column (text, categories) is not coloured."""
    if values is None or not pd.api.types.is_numeric_dtype(values.dtype):
        return None, False
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().sum() < max(2, 0.5 * values.notna().sum()):
        return None, False
    ranks = numbers.rank(pct=True).to_numpy(dtype=float)
    return ranks, True


def _swarm_offsets(x: np.ndarray, width: float = 0.38, bins: int = 60) -> np.ndarray:
    """Vertical offsets that spread points of one row like a beeswarm: points in the same
    narrow x bin alternate above and below, as far as the bin is crowded."""
    if len(x) == 0:
        return np.zeros(0)
    low, high = float(np.min(x)), float(np.max(x))
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    which = np.clip(np.digitize(x, edges) - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    crowd = max(int(counts.max()), 1)
    offsets = np.zeros(len(x))
    for b in np.flatnonzero(counts):
        members = np.flatnonzero(which == b)
        k = np.arange(len(members))
        sign = np.where(k % 2 == 0, 1.0, -1.0)
        offsets[members] = sign * ((k + 1) // 2) / crowd * width * 2
    return offsets


def contribution_summary_figure(
    contributions: pd.DataFrame,
    values: pd.DataFrame | None = None,
    *,
    output: str = "output",
    top: int = 12,
) -> Figure:
    """The beeswarm summary: one row per input column (most important on top), one point per
    explained row at its contribution, coloured by the column's value (low to high) where
    the column is numeric.

    Examples
    --------
    >>> c = pd.DataFrame({"age": [0.1, -0.2, 0.05], "city": [0.0, 0.02, -0.01]})
    >>> v = pd.DataFrame({"age": [30, 70, 40], "city": ["a", "b", "a"]})
    >>> contribution_summary_figure(c, v, output="probability").axes[0].get_xlabel()
    'contribution to the probability'
    """
    if contributions.empty:
        raise InvalidInputError("contributions needs at least one row and one column.")
    order = contributions.abs().mean().sort_values(ascending=False).index[:top][::-1]
    fig, ax = _figure(7.2, max(2.8, 0.42 * len(order) + 1.6))
    from matplotlib import colormaps

    cmap = colormaps["cividis"]
    rng = np.random.default_rng(0)
    coloured = False
    for i, col in enumerate(order):
        x = contributions[col].to_numpy(dtype=float)
        keep = np.isfinite(x)
        if keep.sum() > _MAX_POINTS:
            keep &= rng.random(len(x)) < _MAX_POINTS / keep.sum()
        ranks, numeric = _colour_values(None if values is None else values.get(col))
        y = i + _swarm_offsets(x[keep])
        if numeric and ranks is not None:
            r = ranks[keep]
            colours = np.where(
                np.isnan(r)[:, None], np.array([[0.6, 0.6, 0.6, 1.0]]), cmap(np.nan_to_num(r))
            )
            coloured = True
        else:
            colours = np.tile(np.array([[0.6, 0.6, 0.6, 1.0]]), (int(keep.sum()), 1))
        ax.scatter(x[keep], y, s=9, c=colours, linewidths=0, alpha=0.85)
    ax.axvline(0.0, color=_REFERENCE, linewidth=0.8)
    ax.set_yticks(range(len(order)), [str(c) for c in order])
    ax.set_xlabel(f"contribution to the {output}")
    ax.set_ylabel("input column")
    ax.set_title("Contributions per row (test rows)")
    if coloured:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        bar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), ax=ax, pad=0.01, aspect=30)
        bar.set_ticks([0, 1], labels=["low", "high"])
        bar.set_label("column value (rank); grey: missing or not numeric")
    return fig


def dependence_figure(
    contributions: pd.DataFrame,
    values: pd.DataFrame,
    columns: Sequence[str],
    *,
    output: str = "output",
) -> Figure:
    """One panel per column: its contribution against its value (numeric columns as a
    scatter, the others as a strip per category, most frequent categories first).

    Examples
    --------
    >>> c = pd.DataFrame({"age": [0.1, -0.2, 0.05]})
    >>> v = pd.DataFrame({"age": [30, 70, 40]})
    >>> dependence_figure(c, v, ["age"]).axes[0].get_xlabel()
    'age'
    """
    columns = [c for c in columns if c in contributions and c in values]
    if not columns:
        raise InvalidInputError("dependence_figure needs at least one column with values.")
    ncols = min(2, len(columns))
    nrows = int(np.ceil(len(columns) / ncols))
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4 * ncols / 1.3, 3.4 * nrows), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    rng = np.random.default_rng(0)
    for ax, col in zip(axes, columns, strict=False):
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        y = contributions[col].to_numpy(dtype=float)
        raw = values[col]
        numbers = pd.to_numeric(raw, errors="coerce")
        numeric = pd.api.types.is_numeric_dtype(raw.dtype)
        if numeric and numbers.notna().sum() >= max(2, 0.5 * raw.notna().sum()):
            x = numbers.to_numpy(dtype=float)
            ok = np.isfinite(x) & np.isfinite(y)
            ax.scatter(x[ok], y[ok], s=10, color=OKABE_ITO[0], alpha=0.7, linewidths=0)
            missing = ~np.isfinite(x) & np.isfinite(y)
            if missing.any():
                ax.scatter(
                    np.full(missing.sum(), np.nanmin(x) if ok.any() else 0.0), y[missing],
                    s=14, marker="x", color=OKABE_ITO[3], label="missing",
                )  # fmt: skip
                ax.legend(loc="best", fontsize=8)
        else:
            text = raw.astype(object).where(raw.notna(), "(missing)").astype(str)
            shown = text.value_counts().index[:12].tolist()
            for i, level in enumerate(shown):
                sel = (text == level).to_numpy() & np.isfinite(y)
                jitter = rng.uniform(-0.25, 0.25, sel.sum())
                ax.scatter(i + jitter, y[sel], s=10, color=OKABE_ITO[i % 7], alpha=0.7,
                           linewidths=0)  # fmt: skip
            ax.set_xticks(range(len(shown)), [s if len(s) <= 14 else s[:13] + "…" for s in shown],
                          rotation=30, ha="right")  # fmt: skip
        ax.axhline(0.0, color=_REFERENCE, linewidth=0.8)
        ax.set_xlabel(str(col))
        ax.set_ylabel(f"contribution to the {output}")
        ax.set_title(f"{col}: contribution by value", fontsize=10)
    for ax in axes[len(columns) :]:
        ax.set_visible(False)
    return fig


def optimization_history_figure(
    trials: pd.DataFrame | Sequence[Mapping[str, Any]],
    *,
    metric: str,
    greater_is_better: bool,
) -> Figure:
    """The search over trials and over time: each trial's CV score and the best so far.

    ``trials`` holds one row per trial with ``number``, ``score`` (CV mean, missing for
    failed trials), ``duration`` (seconds) and optionally ``model`` and ``status``.

    Examples
    --------
    >>> trials = [{"number": 1, "score": 0.8, "duration": 1.0, "model": "lr"},
    ...           {"number": 2, "score": 0.85, "duration": 2.0, "model": "lgbm"}]
    >>> fig = optimization_history_figure(trials, metric="roc_auc", greater_is_better=True)
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['trial', 'cumulative trial time (s)']
    """
    frame = pd.DataFrame(list(trials) if not isinstance(trials, pd.DataFrame) else trials)
    if frame.empty or "score" not in frame:
        raise InvalidInputError("trials needs at least one row with a 'score'. Got none.")
    frame = frame.sort_values("number") if "number" in frame else frame.reset_index(drop=True)
    number = (
        frame["number"].to_numpy(dtype=float)
        if "number" in frame
        else np.arange(1, len(frame) + 1, dtype=float)
    )
    score = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype=float)
    if "status" in frame:
        score = np.where(frame["status"].astype(str) == "ok", score, np.nan)
    duration = (
        pd.to_numeric(frame["duration"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
        if "duration" in frame
        else np.zeros(len(frame))
    )
    elapsed = np.cumsum(duration)
    filled = np.where(np.isnan(score), -np.inf if greater_is_better else np.inf, score)
    best = np.maximum.accumulate(filled) if greater_is_better else np.minimum.accumulate(filled)
    best = np.where(np.isfinite(best), best, np.nan)
    models = (
        frame["model"].astype(str).to_numpy() if "model" in frame else np.array([""] * len(frame))
    )
    fig, (left, right) = _figure(11.0, 4.4, ncols=2)
    markers = ("o", "s", "^", "D", "v", "P", "X", "*")
    for i, model in enumerate(dict.fromkeys(models)):
        mask = (models == model) & ~np.isnan(score)
        if mask.any():
            left.scatter(
                number[mask],
                score[mask],
                s=24,
                color=OKABE_ITO[i % len(OKABE_ITO)],
                marker=markers[i % len(markers)],
                label=model or "trial",
            )
    left.step(number, best, where="post", color=_REFERENCE, linewidth=1.2, label="best so far")
    from matplotlib.ticker import MaxNLocator

    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel("trial")
    left.set_ylabel(f"CV {metric}")
    left.set_title(f"Trials ({'higher' if greater_is_better else 'lower'} is better)")
    left.legend(fontsize=7, ncols=2)
    right.step(elapsed, best, where="post", color=OKABE_ITO[0], linewidth=1.5)
    right.set_xlabel("cumulative trial time (s)")
    right.set_ylabel(f"best CV {metric} so far")
    right.set_title("Best score over search time")
    fig.suptitle("Optimization history")
    return fig


def learning_curve_figure(
    points: pd.DataFrame | Sequence[Mapping[str, Any]], *, metric: str
) -> Figure:
    """Score against the number of training rows, on the training rows and the test split.

    ``points`` holds ``n_train``, ``test_score`` and optionally ``train_score``.

    Examples
    --------
    >>> pts = [{"n_train": 100, "train_score": 0.9, "test_score": 0.7},
    ...        {"n_train": 400, "train_score": 0.85, "test_score": 0.8}]
    >>> learning_curve_figure(pts, metric="accuracy").axes[0].get_xlabel()
    'training rows'
    """
    frame = pd.DataFrame(list(points) if not isinstance(points, pd.DataFrame) else points)
    if frame.empty or not {"n_train", "test_score"} <= set(frame.columns):
        raise InvalidInputError(
            "points needs rows with 'n_train' and 'test_score'. "
            f"Got columns {list(frame.columns)} and {len(frame)} rows."
        )
    frame = frame.sort_values("n_train")
    fig, ax = _figure()
    if "train_score" in frame:
        ax.plot(
            frame["n_train"], frame["train_score"], marker="s", label="training rows", **_style(1)
        )
    ax.plot(frame["n_train"], frame["test_score"], marker="o", label="test split", **_style(0))
    ax.set_xlabel("training rows")
    ax.set_ylabel(metric)
    ax.set_title("Learning curve")
    ax.legend(fontsize=8)
    return fig


def target_distribution_figure(
    distribution: Mapping[str, Any], *, target: str = "target"
) -> Figure:
    """Bars of class counts (``{"classes": {label: count}}``) or a histogram
    (``{"edges": [...], "counts": [...]}``) of the target.

    Examples
    --------
    >>> fig = target_distribution_figure({"classes": {"no": 60, "yes": 40}}, target="churn")
    >>> fig.axes[0].get_xlabel()
    'churn'
    """
    fig, ax = _figure(6.4, 3.8)
    if "classes" in distribution:
        counts = dict(distribution["classes"])
        if not counts:
            raise InvalidInputError("The target distribution has no classes.")
        labels = [str(k) for k in counts]
        ax.bar(labels, list(counts.values()), color=OKABE_ITO[0])
        if len(labels) > 6:
            ax.tick_params(axis="x", labelrotation=45)
    elif "edges" in distribution and "counts" in distribution:
        edges = np.asarray(distribution["edges"], dtype=float)
        counts_arr = np.asarray(distribution["counts"], dtype=float)
        if len(edges) != len(counts_arr) + 1 or len(counts_arr) == 0:
            raise InvalidInputError(
                "A histogram needs one more edge than counts. "
                f"Got {len(edges)} edges and {len(counts_arr)} counts."
            )
        ax.stairs(counts_arr, edges, fill=True, color=OKABE_ITO[0])
    else:
        raise InvalidInputError(
            "distribution needs 'classes' or 'edges' and 'counts'. "
            f"Got keys {sorted(distribution)}."
        )
    ax.set_xlabel(target)
    ax.set_ylabel("rows")
    ax.set_title(f"Distribution of the target '{target}'")
    return fig
