from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.estimator_checks import parametrize_with_checks

from modelloop.data import ColumnSchema, Role, Schema
from modelloop.exceptions import ConfigurationError
from modelloop.features import make_pipeline
from modelloop.models import (
    MODELS,
    CentroidAgglomerative,
    DensityClusterer,
    get_unsupervised_spec,
    kdistance_elbow,
    output_columns,
    unsupervised_catalog,
    unsupervised_output,
)


def _blobs(n: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(0, 0.2, (n, 2)), rng.normal(5, 0.2, (n, 2))])


@parametrize_with_checks([CentroidAgglomerative(), DensityClusterer(min_cluster_size=3)])
def test_unsupervised_estimators_pass_sklearn_checks(estimator, check) -> None:
    check(estimator)


def test_centroid_agglomerative_predicts_nearest_centroid() -> None:
    X = _blobs()
    model = CentroidAgglomerative(n_clusters=2).fit(X)
    assert len(set(model.labels_[:40])) == 1 and model.labels_[0] != model.labels_[-1]
    new = np.array([[0.1, -0.1], [5.2, 4.9]])
    assert model.predict(new).tolist() == [model.labels_[0], model.labels_[-1]]


def test_centroid_agglomerative_fits_sample_and_labels_every_row() -> None:
    X = _blobs(n=100)
    model = CentroidAgglomerative(n_clusters=2, max_samples=30).fit(X)
    assert model.labels_.shape == (200,)
    assert model.cluster_centers_.shape == (2, 2)
    assert len(set(model.labels_[:100])) == 1 and len(set(model.labels_[100:])) == 1


def test_density_clusterer_marks_far_rows_as_noise() -> None:
    X = _blobs()
    model = DensityClusterer(min_cluster_size=5).fit(X)
    assert set(model.labels_) - {-1} == {0, 1}
    pred = model.predict(np.array([[0.0, 0.0], [5.0, 5.0], [50.0, -50.0]]))
    assert pred[0] != pred[1] and pred[0] >= 0 and pred[1] >= 0
    assert pred[2] == -1


def test_density_clusterer_predict_matches_fit_labels_on_core_rows() -> None:
    X = _blobs()
    model = DensityClusterer(min_cluster_size=5).fit(X)
    core = model.labels_ >= 0
    np.testing.assert_array_equal(model.predict(X)[core], model.labels_[core])


SCHEMA = Schema(
    (
        ColumnSchema("x1", Role.NUMERIC, "float64"),
        ColumnSchema("x2", Role.NUMERIC, "float64"),
        ColumnSchema("shop", Role.CATEGORICAL, "object", n_unique=2, categories=("a", "b")),
    )
)


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    group = rng.integers(0, 2, n)
    return pd.DataFrame(
        {
            "x1": group * 4 + rng.normal(0, 0.3, n),
            "x2": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "shop": np.where(group == 1, "a", "b").astype(object),
        }
    )


@pytest.mark.parametrize(
    ("name", "task", "columns"),
    [
        ("kmeans", "clustering", ["cluster"]),
        ("agglomerative", "clustering", ["cluster"]),
        ("hdbscan", "clustering", ["cluster"]),
        ("dbscan", "clustering", ["cluster"]),
        ("gaussian_mixture", "clustering", ["cluster"]),
        ("pca", "reduce", ["pc1", "pc2"]),
        ("isolation_forest", "anomaly", ["anomaly_score", "is_anomaly"]),
    ],
)
def test_unsupervised_output_columns_for_each_catalog_model(name, task, columns) -> None:
    spec = get_unsupervised_spec(name, task)
    X = _frame()
    model = make_pipeline(SCHEMA, spec.family, spec.make(task, seed=0)).fit(X)
    out = unsupervised_output(task, model, X.iloc[:7])
    assert out.columns.tolist() == columns == output_columns(task, model)
    assert len(out) == 7 and list(out.index) == list(X.index[:7])
    if task == "clustering":
        assert out["cluster"].dtype == np.int64
    if task == "anomaly":
        assert out["is_anomaly"].dtype == bool
        threshold = -model[-1].offset_
        assert (out["is_anomaly"] == (out["anomaly_score"] > threshold)).all()


def test_unsupervised_pipeline_survives_skops_roundtrip(tmp_path) -> None:
    X = _frame()
    spec = get_unsupervised_spec("hdbscan", "clustering")
    model = make_pipeline(SCHEMA, spec.family, spec.make("clustering")).fit(X)
    path = tmp_path / "m.skops"
    sio.dump(model, path)
    loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_unsupervised_catalog_is_kept_apart_from_supervised_models() -> None:
    assert [s.name for s in unsupervised_catalog("reduce")] == ["pca"]
    assert [s.name for s in unsupervised_catalog("anomaly")] == ["isolation_forest"]
    assert not {"kmeans", "pca", "isolation_forest"} & set(MODELS)
    with pytest.raises(ConfigurationError, match="Task must be one of clustering"):
        unsupervised_catalog("binary")


def test_get_unsupervised_spec_unknown_name_suggests_closest() -> None:
    with pytest.raises(ConfigurationError, match=r"Unknown model 'kmean' .*Did you mean 'kmeans'"):
        get_unsupervised_spec("kmean", "clustering")
    with pytest.raises(ConfigurationError, match="Models for reduce: pca"):
        get_unsupervised_spec("kmeans", "reduce")


def test_output_columns_unknown_task_raises() -> None:
    with pytest.raises(ConfigurationError, match="Got 'ranking'"):
        output_columns("ranking", None)


@parametrize_with_checks([DensityClusterer(algorithm="dbscan", min_samples=3)])
def test_density_clusterer_dbscan_passes_sklearn_checks(estimator, check) -> None:
    check(estimator)


def test_kdistance_elbow_separates_dense_rows_from_noise() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([_blobs(), rng.uniform(-20, 20, (6, 2))])
    eps = kdistance_elbow(X, 5)
    within = NearestNeighbors(n_neighbors=5).fit(X).kneighbors(X)[0][:, -1] <= eps
    assert within[:80].mean() > 0.9 and within[80:].sum() <= 1
    assert kdistance_elbow(np.zeros((10, 2)), 3) > 0  # duplicates: still a positive radius


def test_density_clusterer_dbscan_finds_blobs_and_predicts_noise() -> None:
    X = _blobs()
    model = DensityClusterer(algorithm="dbscan", min_samples=5).fit(X)
    assert set(model.labels_) - {-1} == {0, 1} and (model.labels_ == -1).mean() < 0.15
    assert model.eps_ == pytest.approx(kdistance_elbow(X, 5))
    centres = model.predict(np.array([[0.0, 0.0], [5.0, 5.0], [50.0, 50.0]])).tolist()
    assert sorted(centres[:2]) == [0, 1] and centres[2] == -1
    fixed = DensityClusterer(algorithm="dbscan", min_samples=5, eps=0.01).fit(X)
    assert fixed.eps_ == 0.01 and (fixed.labels_ == -1).mean() > 0.5  # too small a radius
    with pytest.raises(ValueError, match="'algorithm' parameter of DensityClusterer"):
        DensityClusterer(algorithm="optics").fit(X)
