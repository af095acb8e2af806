from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelloop.exceptions import ConfigurationError, InvalidInputError, TargetError
from modelloop.store import Store
from modelloop.workflows import predict, train, train_unsupervised


def _blobs(n: int = 90, seed: int = 0) -> pd.DataFrame:
    """Three well-separated groups, a category that follows them, a many-valued code and an id."""
    rng = np.random.default_rng(seed)
    group = np.arange(n) % 3
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    xy = centres[group] + rng.normal(0, 0.5, (n, 2))
    return pd.DataFrame(
        {
            "row_id": np.arange(n),
            "x": xy[:, 0],
            "y": xy[:, 1],
            "kind": np.array(["p", "q", "r"], dtype=object)[group],
            "code": [f"c{rng.integers(0, 40)}" for _ in range(n)],
        }
    )


def test_train_clustering_finds_groups_records_and_registers(settings) -> None:
    frame = _blobs()
    result = train(frame, task="clustering", name="groups", settings=settings, seed=0)
    assert result.task == "clustering" and result.metric == "silhouette"
    assert result.target is None and result.version == 1
    assert result.metrics["n_clusters"] == 3 and result.metrics["silhouette"] > 0.7
    board = result.leaderboard
    scores = board["silhouette"].astype(float).to_numpy()
    assert (np.diff(scores[~np.isnan(scores)]) <= 1e-12).all()  # best first
    assert set(board["model"]) == {
        "kmeans", "agglomerative", "hdbscan", "dbscan", "gaussian_mixture"
    }  # fmt: skip
    assert board.loc[board["model"] == "gaussian_mixture", "bic"].notna().all()
    sizes = result.summary["sizes"]
    assert sorted(s["rows"] for s in sizes) == [30, 30, 30]
    assert result.cluster_profile is result.summary["profile"]
    top = {g: p[0]["feature"] for g, p in result.cluster_profile.items()}
    assert set(top.values()) <= {"x", "y", "kind"}
    assert len(result.summary["projection"]["x"]) == len(frame)
    assert any("'code'" in n and "left out of clustering" in n for n in result.notes)
    with Store.from_settings(settings) as store:
        run = store.get_run(result.run_id)
        assert run.status == "finished" and run.task == "clustering" and run.target is None
        assert run.test_metrics["silhouette"] == pytest.approx(result.metrics["silhouette"])
        assert run.leaderboard[0]["model"] == result.best_model
        saved = json.loads(store.read_run_file(result.run_id, "summary.json"))
        assert saved["sizes"] == sizes
        version = store.resolve("groups")
        assert version.task == "clustering"
        assert version.metrics["summary"]["sizes"] == sizes
        assert "projection" not in version.metrics["summary"]
        out = predict("groups", frame.head(6), store=store)
    labels = result.model.predict(frame.head(6))
    assert out.columns.tolist() == ["cluster"] and out["cluster"].tolist() == labels.tolist()


def test_train_unsupervised_clustering_restricted_models_and_k(settings) -> None:
    result = train_unsupervised(
        _blobs(), task="clustering", models=["kmeans"], max_clusters=4, settings=settings
    )
    assert set(result.leaderboard["model"]) == {"kmeans"}
    assert sorted(json.loads(p)["n_clusters"] for p in result.leaderboard["params"]) == [2, 3, 4]
    assert result.version is None  # no name: recorded, not registered


def test_train_reduce_keeps_components_for_the_variance(settings) -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(120, 2))
    frame = pd.DataFrame(
        {f"v{i}": base @ rng.normal(size=2) + rng.normal(0, 0.01, 120) for i in range(6)}
    )
    result = train(frame, task="reduce", settings=settings, register=False)
    assert result.metrics["n_components"] == 2
    assert result.metrics["explained_variance"] >= 0.95
    assert result.best_params == {"n_components": 2}
    assert result.summary["cumulative"][1] >= 0.95
    out = result.model.transform(frame.head(3))
    assert out.shape == (3, 2)
    capped = train_unsupervised(
        frame, task="reduce", variance=1.0, max_components=1, settings=settings
    )
    assert capped.metrics["n_components"] == 1


def test_train_anomaly_flags_the_outliers(settings) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame.loc[:4, ["a", "b"]] = [[12.0, -12.0]] * 5
    result = train_unsupervised(
        frame, task="anomaly", contamination=0.05, name="odd", settings=settings
    )
    assert result.metrics["anomaly_share"] == pytest.approx(0.05, abs=0.01)
    flagged = {row["row"] for row in result.summary["top_anomalies"][:5]}
    assert flagged == {0, 1, 2, 3, 4}
    assert [s["group"] for s in result.summary["sizes"]] == ["normal", "anomaly"]
    with Store.from_settings(settings) as store:
        out = predict("odd", frame.head(6), store=store)
    assert out.columns.tolist() == ["anomaly_score", "is_anomaly"]
    assert out["is_anomaly"].tolist()[:5] == [True] * 5


def test_train_clustering_with_target_is_refused_before_the_store(settings) -> None:
    with pytest.raises(TargetError, match="Task 'clustering' learns without a target"):
        train(_blobs(), target="kind", task="clustering", settings=settings)
    assert not (settings.home / "modelloop.db").exists()


def test_train_without_target_for_supervised_task_raises(settings) -> None:
    with pytest.raises(ConfigurationError, match="A target is needed"):
        train(_blobs(), settings=settings)


def test_train_unsupervised_too_few_rows_raises(settings) -> None:
    with pytest.raises(InvalidInputError, match="has 6 rows; clustering needs at least 10"):
        train(_blobs(n=6), task="clustering", settings=settings)


def test_train_unsupervised_nothing_to_cluster_raises(settings) -> None:
    frame = pd.DataFrame({"id": range(30), "note": [f"free text number {i}" for i in range(30)]})
    with pytest.raises(ConfigurationError, match="no column to learn from for anomaly"):
        train(frame, task="anomaly", settings=settings, types={"note": "text"})


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"models": ["kmean"]}, "Did you mean 'kmeans'"),
        ({"metric": "roc_auc"}, "reports metric 'silhouette'"),
        ({"max_clusters": 1}, "max_clusters must be an integer >= 2"),
        ({"contamination": 0.7}, "contamination must be a share"),
    ],
)
def test_train_unsupervised_bad_options_raise(settings, options, match) -> None:
    with pytest.raises(ConfigurationError, match=match):
        train_unsupervised(_blobs(), task="clustering", settings=settings, **options)


def _log_rows(store: Store, name: str, frame: pd.DataFrame) -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) - timedelta(minutes=5)
    store.log_predictions(
        [
            {
                "request_id": f"r{i}",
                "model_name": name,
                "model_version": 1,
                "inputs": {"x": float(row.x), "y": float(row.y), "kind": row.kind},
                "prediction": 0,
                "created_at": start + timedelta(seconds=i),
            }
            for i, row in enumerate(frame.itertuples())
        ]
    )


@pytest.mark.parametrize(("task", "test"), [("clustering", "chi2"), ("anomaly", "ks")])
def test_monitor_unsupervised_model_reports_prediction_drift(settings, task, test) -> None:
    """Prediction drift over cluster ids (categories) or anomaly scores (numbers)."""
    from modelloop.workflows import monitor

    frame = _blobs(150)[["x", "y", "kind"]]
    with Store.from_settings(settings) as store:
        train_unsupervised(
            frame, task=task, name="seg", models=["kmeans"] if task == "clustering" else None,
            settings=settings, store=store,
        )  # fmt: skip
        same = _blobs(150, seed=1)[["x", "y", "kind"]]
        _log_rows(store, "seg", same)
        steady = monitor("seg", store=store, settings=settings)
        shifted = same[same["kind"] == "p"].copy()  # every row in one cluster, far out
        shifted["x"] += 30.0
        _log_rows(store, "seg", pd.concat([shifted] * 3, ignore_index=True))
        drifted = monitor("seg", store=store, settings=settings, window=len(shifted) * 3)
    assert steady.report.prediction is not None and not steady.report.prediction.drifted
    assert drifted.report.prediction is not None and drifted.report.prediction.drifted
    assert drifted.report.performance is None  # no target: drift only
    assert drifted.report.prediction.test == test


def test_train_clustering_dbscan_candidates_and_run_params(settings) -> None:
    with Store.from_settings(settings) as store:
        result = train_unsupervised(
            _blobs(), task="clustering", models=["dbscan"], settings=settings, store=store
        )
        run = store.get_run(result.run_id)
    assert set(result.leaderboard["model"]) == {"dbscan"}
    assert sorted(json.loads(p)["min_samples"] for p in result.leaderboard["params"]) == [5, 10]
    assert result.metrics["n_clusters"] == 3
    assert result.model[-1].eps_ > 0  # chosen at the k-distance elbow
    # only the task's own options are recorded: `runs show` lists no empty ones
    assert "max_clusters" in run.params and "contamination" not in run.params
