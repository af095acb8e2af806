"""Clustering quality: silhouette, Davies-Bouldin, number of clusters, share of noise."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["SILHOUETTE_SAMPLE", "cluster_scores"]

SILHOUETTE_SAMPLE = 2000
"""Silhouette is O(n^2): it is computed on a random sample of at most this many rows."""


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _dense(X: Any) -> np.ndarray:
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=float)


def cluster_scores(
    X: Any, labels: ArrayLike, *, sample_size: int = SILHOUETTE_SAMPLE, seed: int = 0
) -> dict[str, float | None]:
    """Quality of a clustering of the (preprocessed) rows ``X``.

    Noise rows (label -1) count as one more group in silhouette and Davies-Bouldin, so a
    clustering that leaves many rows unexplained is not rewarded. Scores that are not
    defined (a single group) are None.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> s = cluster_scores(X, [0, 0, 1, 1])
    >>> round(s["silhouette"], 2), s["n_clusters"], s["noise_share"]
    (0.98, 2, 0.0)
    """
    from sklearn.metrics import davies_bouldin_score, silhouette_score

    X = _dense(X)
    arr = np.asarray(labels)
    n_clusters = len(set(arr.tolist()) - {-1})
    noise = float(np.mean(arr == -1)) if len(arr) else 0.0
    out: dict[str, float | None] = {
        "silhouette": None,
        "davies_bouldin": None,
        "n_clusters": n_clusters,
        "noise_share": round(noise, 6),
    }
    n_groups = len(np.unique(arr))
    if n_groups < 2 or n_groups >= len(arr):
        return out
    idx = np.arange(len(arr))
    if len(idx) > sample_size:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(len(arr), size=sample_size, replace=False))
    if len(np.unique(arr[idx])) >= 2:
        out["silhouette"] = _finite(silhouette_score(X[idx], arr[idx]))
    out["davies_bouldin"] = _finite(davies_bouldin_score(X, arr))
    return out
