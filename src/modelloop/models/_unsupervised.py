"""Estimators for learning without a target: clustering, reduction, anomaly detection.

Two clusterers of scikit-learn cannot label rows they were not fitted on; the wrappers here
give them a ``predict`` so a registered clustering model can score new rows like any other:

* :class:`CentroidAgglomerative` -- agglomerative (hierarchical) clustering, new rows go to
  the cluster with the nearest centroid;
* :class:`DensityClusterer` -- HDBSCAN or DBSCAN, new rows take the cluster of the nearest
  core sample when they fall within its core distance (DBSCAN: ``eps``), else noise
  (``-1``). DBSCAN's ``eps`` is chosen at the elbow of the k-distance curve.

Both fit on at most ``max_samples`` rows (their cost grows with the square of the rows).
:func:`unsupervised_output` turns a fitted model's answers into output columns: ``cluster``;
``pc1``..``pcK``; ``anomaly_score`` (higher is more anomalous) and ``is_anomaly``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN, HDBSCAN, AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import pairwise_distances_argmin_min
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_is_fitted, validate_data

from modelloop.data import UNSUPERVISED_TASKS
from modelloop.exceptions import ConfigurationError

__all__ = [
    "UNSUPERVISED_TASKS",
    "CentroidAgglomerative",
    "DensityClusterer",
    "kdistance_elbow",
    "output_columns",
    "unsupervised_output",
]


def _subsample(X: np.ndarray, max_samples: int | None, seed: Any) -> np.ndarray:
    if max_samples is None or X.shape[0] <= max_samples:
        return X
    rng = np.random.default_rng(seed if isinstance(seed, int) else 0)
    return X[np.sort(rng.choice(X.shape[0], size=max_samples, replace=False))]


class CentroidAgglomerative(ClusterMixin, BaseEstimator):
    """Agglomerative clustering that labels new rows by their nearest cluster centroid.

    Parameters
    ----------
    n_clusters : int, default 2
    linkage : {'ward', 'complete', 'average', 'single'}, default 'ward'
    max_samples : int or None, default 5000
        Fit on a random subset of at most this many rows (the tree costs O(n^2) memory);
        every row is then labelled by the nearest centroid.
    random_state : int, default 0
        Seed of that subset.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    >>> model = CentroidAgglomerative(n_clusters=2).fit(X)
    >>> model.predict(np.array([[0.05, 0.0], [4.9, 5.0]])).tolist() == model.labels_[[0, 2]].tolist()
    True
    """

    def __init__(
        self,
        n_clusters: int = 2,
        linkage: str = "ward",
        max_samples: int | None = 5000,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.linkage = linkage
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> CentroidAgglomerative:
        X = validate_data(self, X, dtype=np.float64)
        sample = _subsample(X, self.max_samples, self.random_state)
        n_clusters = min(self.n_clusters, sample.shape[0])
        agg = AgglomerativeClustering(n_clusters=n_clusters, linkage=self.linkage).fit(sample)
        self.cluster_centers_ = np.vstack(
            [sample[agg.labels_ == k].mean(axis=0) for k in range(n_clusters)]
        )
        self.labels_ = self._nearest(X)
        return self

    def _nearest(self, X: np.ndarray) -> np.ndarray:
        return pairwise_distances_argmin_min(X, self.cluster_centers_)[0].astype(np.int64)

    def predict(self, X: Any) -> np.ndarray:
        """The cluster of the nearest centroid, for each row."""
        check_is_fitted(self, "cluster_centers_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._nearest(X)


def kdistance_elbow(X: Any, k: int) -> float:
    """DBSCAN's ``eps`` read off the k-distance curve: the distance at its elbow.

    Each row's distance to its k-th nearest row (itself counted first, as DBSCAN counts
    ``min_samples``) is sorted; the curve is scaled to the unit square and the elbow is
    the point farthest below the straight line joining its ends (the "kneedle" rule).
    Rows nearer than that are in dense regions; the steep tail is noise.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 0.1, (50, 2)), rng.uniform(-5, 5, (5, 2))])
    >>> 0.01 < kdistance_elbow(X, 5) < 0.5
    True
    """
    X = np.asarray(X, dtype=np.float64)
    k = max(1, min(int(k), X.shape[0]))
    dist, _ = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)
    d = np.sort(dist[:, -1])
    span = d[-1] - d[0]
    if len(d) < 3 or span <= 0:
        return float(max(d[-1], 1e-9))
    x = np.linspace(0.0, 1.0, len(d))
    elbow = int(np.argmax(x - (d - d[0]) / span))
    return float(max(d[elbow], 1e-9))


class DensityClusterer(ClusterMixin, BaseEstimator):
    """HDBSCAN or DBSCAN with a ``predict``: the nearest core sample's cluster, or noise (-1).

    A training row is a core sample when HDBSCAN put it in a cluster (DBSCAN: when it has
    ``min_samples`` rows, itself included, within ``eps``); its core distance is the
    distance to its ``min_samples``-th nearest neighbour (DBSCAN: ``eps``). A new row
    joins the cluster of its nearest core sample if it lies within that sample's core
    distance, else it is noise, labelled -1 (how DBSCAN extends clusters).

    With ``algorithm="dbscan"`` and ``eps=None``, ``eps`` is the elbow of the k-distance
    curve with k = ``min_samples`` (:func:`kdistance_elbow`), kept as ``eps_``.

    Parameters
    ----------
    min_cluster_size : int, default 5
        HDBSCAN's smallest cluster; also ``min_samples`` when that is None.
    min_samples : int or None, default None (= min_cluster_size)
    max_samples : int or None, default 5000
        Fit on a random subset of at most this many rows.
    random_state : int, default 0
    algorithm : {'hdbscan', 'dbscan'}, default 'hdbscan'
    eps : float or None, default None
        DBSCAN's neighbourhood radius; None chooses it from the k-distance elbow.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 0.1, (30, 2)), rng.normal(5, 0.1, (30, 2))])
    >>> model = DensityClusterer(min_cluster_size=5).fit(X)
    >>> len(set(model.labels_) - {-1}), model.predict(np.array([[100.0, 100.0]])).tolist()
    (2, [-1])
    """

    def __init__(
        self,
        min_cluster_size: int = 5,
        min_samples: int | None = None,
        max_samples: int | None = 5000,
        random_state: int = 0,
        algorithm: str = "hdbscan",
        eps: float | None = None,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.max_samples = max_samples
        self.random_state = random_state
        self.algorithm = algorithm
        self.eps = eps

    def fit(self, X: Any, y: Any = None) -> DensityClusterer:
        if self.algorithm not in ("hdbscan", "dbscan"):
            raise ValueError(
                "The 'algorithm' parameter of DensityClusterer must be 'hdbscan' or 'dbscan'. "
                f"Got {self.algorithm!r} instead."
            )
        X = validate_data(self, X, dtype=np.float64)
        sample = _subsample(X, self.max_samples, self.random_state)
        size = max(2, min(self.min_cluster_size, sample.shape[0]))
        k = max(1, min(self.min_samples or size, sample.shape[0] - 1))
        if self.algorithm == "dbscan":
            return self._fit_dbscan(X, sample, k)
        self.eps_: float | None = None
        model = HDBSCAN(min_cluster_size=size, min_samples=k, copy=True).fit(sample)
        core = model.labels_ >= 0
        self.core_samples_ = sample[core]
        self.core_labels_ = model.labels_[core].astype(np.int64)
        if core.any():
            # distance to the k-th nearest neighbour (itself excluded) of each core sample
            nn = NearestNeighbors(n_neighbors=min(k + 1, sample.shape[0])).fit(sample)
            dist, _ = nn.kneighbors(self.core_samples_)
            self.core_distances_ = dist[:, -1]
        else:
            self.core_distances_ = np.empty(0)
        self.labels_ = self._assign(X)
        return self

    def _fit_dbscan(self, X: np.ndarray, sample: np.ndarray, k: int) -> DensityClusterer:
        eps = kdistance_elbow(sample, k) if self.eps is None else float(self.eps)
        model = DBSCAN(eps=eps, min_samples=k).fit(sample)
        core = np.zeros(sample.shape[0], dtype=bool)
        core[model.core_sample_indices_] = True
        self.eps_ = eps
        self.core_samples_ = sample[core]
        self.core_labels_ = model.labels_[core].astype(np.int64)
        self.core_distances_ = np.full(self.core_samples_.shape[0], eps)
        self.labels_ = self._assign(X)
        return self

    def _assign(self, X: np.ndarray) -> np.ndarray:
        labels = np.full(X.shape[0], -1, dtype=np.int64)
        if self.core_samples_.shape[0] == 0:
            return labels
        index, dist = pairwise_distances_argmin_min(X, self.core_samples_)
        inside = dist <= self.core_distances_[index] + 1e-12
        labels[inside] = self.core_labels_[index[inside]]
        return labels

    def predict(self, X: Any) -> np.ndarray:
        """Cluster of the nearest core sample when within its core distance, else -1."""
        check_is_fitted(self, "core_samples_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._assign(X)


# ---------------------------------------------------------------------------- factories
# (task, seed, n_jobs) -> unfitted estimator, as in the catalog; the number of clusters or
# components is set by the training flow.


def kmeans(task: str, seed: int, n_jobs: int) -> Any:
    return KMeans(n_clusters=2, n_init=4, random_state=seed)


def agglomerative(task: str, seed: int, n_jobs: int) -> Any:
    return CentroidAgglomerative(n_clusters=2, linkage="ward", random_state=seed)


def hdbscan(task: str, seed: int, n_jobs: int) -> Any:
    return DensityClusterer(min_cluster_size=10, random_state=seed)


def dbscan(task: str, seed: int, n_jobs: int) -> Any:
    return DensityClusterer(algorithm="dbscan", min_samples=5, random_state=seed)


def gaussian_mixture(task: str, seed: int, n_jobs: int) -> Any:
    return GaussianMixture(
        n_components=2, covariance_type="full", reg_covar=1e-4, random_state=seed
    )


def pca(task: str, seed: int, n_jobs: int) -> Any:
    return PCA(n_components=2, random_state=seed)


def isolation_forest(task: str, seed: int, n_jobs: int) -> Any:
    return IsolationForest(n_estimators=200, contamination=0.05, random_state=seed, n_jobs=n_jobs)


# ---------------------------------------------------------------------------- outputs


def output_columns(task: str, estimator: Any) -> list[str]:
    """Names of the output columns of a fitted model for ``task``.

    Examples
    --------
    >>> output_columns("anomaly", None)
    ['anomaly_score', 'is_anomaly']
    """
    if task == "clustering":
        return ["cluster"]
    if task == "anomaly":
        return ["anomaly_score", "is_anomaly"]
    if task == "reduce":
        final = estimator[-1] if hasattr(estimator, "steps") else estimator
        return [f"pc{i + 1}" for i in range(int(final.n_components_))]
    raise ConfigurationError(
        f"Task must be one of {', '.join(UNSUPERVISED_TASKS)} here. Got {task!r}."
    )


def unsupervised_output(task: str, estimator: Any, X: Any) -> pd.DataFrame:
    """What a fitted unsupervised model answers for rows ``X``, as output columns.

    ``estimator`` is the fitted pipeline (or the part of it after schema enforcement);
    ``clustering``: ``cluster`` (-1 for noise); ``reduce``: ``pc1``..``pcK``; ``anomaly``:
    ``anomaly_score`` (higher is more anomalous) and ``is_anomaly`` (score above the
    threshold fixed at training).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    >>> unsupervised_output("reduce", PCA(n_components=1).fit(X), X).columns.tolist()
    ['pc1']
    """
    columns = output_columns(task, estimator)
    index = X.index if isinstance(X, pd.DataFrame) else None
    if task == "clustering":
        return pd.DataFrame(
            {"cluster": np.asarray(estimator.predict(X)).astype(np.int64)}, index=index
        )
    if task == "reduce":
        return pd.DataFrame(
            np.asarray(estimator.transform(X), dtype=float), columns=columns, index=index
        )
    scores = -np.asarray(estimator.score_samples(X), dtype=float)
    flags = np.asarray(estimator.predict(X)) == -1
    return pd.DataFrame({"anomaly_score": scores, "is_anomaly": flags}, index=index)
