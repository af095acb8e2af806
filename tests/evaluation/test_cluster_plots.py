from __future__ import annotations

import numpy as np
import pandas as pd

from modelloop.evaluation import (
    cluster_scores,
    plot_explained_variance,
    plot_groups,
    projection_2d,
    summarize_groups,
)


def test_cluster_scores_counts_noise_and_single_group_is_undefined() -> None:
    X = np.array([[0.0], [0.1], [5.0], [5.1], [20.0]])
    s = cluster_scores(X, [0, 0, 1, 1, -1])
    assert s["n_clusters"] == 2 and s["noise_share"] == 0.2
    assert s["silhouette"] is not None and s["davies_bouldin"] is not None
    single = cluster_scores(X, [0] * 5)
    assert single["silhouette"] is None and single["davies_bouldin"] is None


def test_cluster_scores_samples_large_data() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (3000, 2)), rng.normal(10, 1, (3000, 2))])
    labels = np.repeat([0, 1], 3000)
    assert cluster_scores(X, labels, sample_size=500)["silhouette"] > 0.8


def test_summarize_groups_profile_names_what_sets_a_group_apart() -> None:
    frame = pd.DataFrame(
        {
            "age": [20.0, 21, 22, 60, 61, 62],
            "city": ["a", "a", "b", "c", "c", "c"],
            "vip": [False, False, False, True, True, False],
        }
    )
    s = summarize_groups(frame, [0, 0, 0, 1, 1, 1])
    assert [g["rows"] for g in s["sizes"]] == [3, 3]
    old = {e["feature"]: e for e in s["profile"]["1"]}
    assert old["age"]["value"] == 61.0 and old["age"]["std_diff"] > 0.9
    assert old["city"]["value"] == "c" and old["city"]["share"] == 1.0
    assert old["city"]["overall"] == 0.5
    assert old["vip"]["kind"] == "numeric" and old["vip"]["value"] > old["vip"]["overall"]


def test_projection_2d_samples_points_and_keeps_groups() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    p = projection_2d(X, np.arange(50) % 2, max_points=20)
    assert len(p["x"]) == len(p["y"]) == len(p["group"]) == 20
    assert set(p["group"]) == {0, 1} and 0 < sum(p["explained_variance"]) <= 1


def test_plot_functions_return_figures_with_data() -> None:
    frame = pd.DataFrame({"a": [1.0, 2, 8, 9]})
    summary = summarize_groups(frame, [0, 0, 1, 1])
    summary["projection"] = projection_2d(frame.to_numpy(), [0, 0, 1, 1])
    fig = plot_groups(summary, title="demo")
    bars, scatter = fig.axes
    assert len(bars.patches) == 2 and len(scatter.collections) == 2
    fig = plot_explained_variance([0.7, 0.2, 0.1], n_components=2)
    assert len(fig.axes[0].patches) == 3
