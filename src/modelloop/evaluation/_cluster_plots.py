"""Cluster summaries and their figures, as plain data (the scores: ``_cluster_metrics``).

Everything here returns JSON-safe dicts and lists (stored with the run and the model
version) and the figure functions take those dicts back, so a report can draw them from a
stored record:

* :func:`summarize_groups` -- group sizes and each group's profile: per feature, its mean
  (numbers) or its most frequent value (categories) against the whole table, with the
  standardized difference that says how far the group stands apart;
* :func:`projection_2d` -- a 2-D PCA projection of the preprocessed rows with their group;
* :func:`plot_groups` / :func:`plot_explained_variance` -- matplotlib figures of those.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from modelloop.evaluation._cluster_metrics import SILHOUETTE_SAMPLE

__all__ = [
    "plot_explained_variance",
    "plot_groups",
    "projection_2d",
    "summarize_groups",
]

MAX_PROFILE_FEATURES = 30
"""A group profile lists at most this many features, those standing apart most first."""


def _dense(X: Any) -> np.ndarray:
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=float)


def _profile_column(values: pd.Series, member: np.ndarray, feature: str) -> dict[str, Any] | None:
    present = values.notna().to_numpy()
    if pd.api.types.is_bool_dtype(values.dtype):
        values = values.astype("float64")
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return None
    if pd.api.types.is_numeric_dtype(values.dtype):
        x = values.to_numpy(dtype=float, na_value=np.nan)
        overall, std = np.nanmean(x), np.nanstd(x)
        inside = x[member & present]
        if inside.size == 0 or not np.isfinite(overall):
            return None
        mean = float(np.mean(inside))
        diff = (mean - overall) / std if std > 0 else 0.0
        return {
            "feature": feature,
            "kind": "numeric",
            "value": round(mean, 6),
            "overall": round(float(overall), 6),
            "std_diff": round(float(diff), 4),
        }
    text = values.astype(object).where(values.notna(), "(missing)")
    inside = text[member]
    if inside.empty:
        return None
    top = inside.value_counts().index[0]
    share = float(np.mean(inside.to_numpy() == top))
    overall = float(np.mean(text.to_numpy() == top))
    spread = math.sqrt(overall * (1 - overall))
    diff = (share - overall) / spread if spread > 0 else 0.0
    return {
        "feature": feature,
        "kind": "categorical",
        "value": str(top),
        "share": round(share, 4),
        "overall": round(overall, 4),
        "std_diff": round(float(diff), 4),
    }


def summarize_groups(
    frame: pd.DataFrame,
    labels: ArrayLike,
    *,
    max_features: int = MAX_PROFILE_FEATURES,
) -> dict[str, Any]:
    """Group sizes and what sets each group apart, feature by feature.

    ``frame`` holds the raw feature columns (as loaded), ``labels`` one group per row (a
    cluster, or 'anomaly'/'normal'). For a numeric column the profile gives the group's
    mean, the overall mean and the standardized difference ``(group mean - mean) / std``;
    for a categorical or boolean one the group's most frequent value, its share in the
    group and overall, and ``(share - overall) / sqrt(overall * (1 - overall))``.
    Features are sorted by the size of that difference.

    Returns ``{"sizes": [{"group", "rows", "share"}...], "profile": {group: [feature
    entries]}}``, largest group first.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [20, 22, 30, 62], "city": ["a", "a", "b", "b"]})
    >>> s = summarize_groups(df, [0, 0, 0, 1])
    >>> s["sizes"][0], s["profile"]["1"][0]["feature"], s["profile"]["1"][0]["std_diff"]
    ({'group': '0', 'rows': 3, 'share': 0.75}, 'age', 1.6889)
    """
    arr = np.asarray(labels)
    keys, counts = np.unique(arr.astype(str), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    n = max(len(arr), 1)
    sizes = [
        {"group": str(keys[i]), "rows": int(counts[i]), "share": round(float(counts[i]) / n, 4)}
        for i in order
    ]
    text_labels = arr.astype(str)
    profile: dict[str, list[dict[str, Any]]] = {}
    for entry in sizes:
        member = text_labels == entry["group"]
        rows = [_profile_column(frame[c], member, str(c)) for c in frame.columns]
        kept = [r for r in rows if r is not None]
        kept.sort(key=lambda r: -abs(r["std_diff"]))
        profile[str(entry["group"])] = kept[:max_features]
    return {"sizes": sizes, "profile": profile}


def projection_2d(
    X: Any,
    labels: ArrayLike,
    *,
    max_points: int = SILHOUETTE_SAMPLE,
    seed: int = 0,
) -> dict[str, Any]:
    """A 2-D PCA projection of the preprocessed rows ``X`` with each row's group.

    At most ``max_points`` rows are kept (a random sample). ``explained_variance`` is the
    share of the variance each of the two axes carries.

    Examples
    --------
    >>> import numpy as np
    >>> p = projection_2d(np.eye(4), [0, 0, 1, 1])
    >>> sorted(p), len(p["x"])
    (['explained_variance', 'group', 'x', 'y'], 4)
    """
    from sklearn.decomposition import PCA

    X = _dense(X)
    arr = np.asarray(labels)
    idx = np.arange(X.shape[0])
    if len(idx) > max_points:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(len(idx), size=max_points, replace=False))
    n_comp = max(1, min(2, X.shape[1], X.shape[0]))
    pca = PCA(n_components=n_comp, random_state=seed).fit(X)
    coords = pca.transform(X[idx])
    if coords.shape[1] == 1:
        coords = np.column_stack([coords, np.zeros(len(coords))])
    ratios = [round(float(r), 4) for r in pca.explained_variance_ratio_]
    return {
        "x": [round(float(v), 5) for v in coords[:, 0]],
        "y": [round(float(v), 5) for v in coords[:, 1]],
        "group": [v.item() if isinstance(v, np.generic) else v for v in arr[idx]],
        "explained_variance": ratios + [0.0] * (2 - len(ratios)),
    }


def plot_groups(summary: dict[str, Any], *, title: str = "Clusters") -> Any:
    """A matplotlib ``Figure``: group sizes (bars) beside the 2-D projection by group.

    ``summary`` is what training stores: ``{"sizes": ..., "projection": ...}``
    (``TrainResult.summary``).

    Examples
    --------
    >>> import numpy as np
    >>> summary = summarize_groups(__import__("pandas").DataFrame({"a": [1, 2, 8, 9]}), [0, 0, 1, 1])
    >>> summary["projection"] = projection_2d(np.array([[1.0], [2], [8], [9]]), [0, 0, 1, 1])
    >>> len(plot_groups(summary).axes)
    2
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    bars, scatter = fig.subplots(1, 2, width_ratios=[1, 2])
    sizes = summary.get("sizes", [])
    groups = [s["group"] for s in sizes]
    colours = {g: f"C{i % 10}" for i, g in enumerate(groups)}
    bars.bar(groups, [s["rows"] for s in sizes], color=[colours[g] for g in groups])
    bars.set_title("Rows per group")
    bars.set_xlabel("group")
    proj = summary.get("projection")
    if proj:
        point_groups = [str(g) for g in proj["group"]]
        for g in groups:
            pick = [i for i, pg in enumerate(point_groups) if pg == g]
            scatter.scatter(
                [proj["x"][i] for i in pick],
                [proj["y"][i] for i in pick],
                s=8,
                alpha=0.7,
                color=colours[g],
                label=g,
            )
        ev = proj.get("explained_variance", [0.0, 0.0])
        scatter.set_xlabel(f"PC1 ({ev[0]:.0%} of variance)")
        scatter.set_ylabel(f"PC2 ({ev[1]:.0%} of variance)")
        scatter.legend(title="group", fontsize="small", markerscale=2)
    scatter.set_title(f"{title}: 2-D PCA projection")
    return fig


def plot_explained_variance(ratios: Sequence[float], *, n_components: int | None = None) -> Any:
    """A matplotlib ``Figure``: variance share per component and its running total.

    Examples
    --------
    >>> len(plot_explained_variance([0.6, 0.3, 0.1], n_components=2).axes)
    1
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    steps = np.arange(1, len(ratios) + 1)
    ax.bar(steps, ratios, label="per component")
    ax.plot(steps, np.cumsum(ratios), marker="o", color="C1", label="cumulative")
    if n_components:
        ax.axvline(n_components + 0.5, color="grey", linestyle="--", label="kept")
    ax.set_xlabel("component")
    ax.set_ylabel("share of variance")
    ax.set_ylim(0, 1.05)
    ax.legend()
    return fig
