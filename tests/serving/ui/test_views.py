"""What pages show: headline metrics, leaderboards, comparisons, search history."""

from __future__ import annotations

from types import SimpleNamespace

from modelloop.serving.ui._views import (
    compare_rows,
    headline_metrics,
    leaderboard_table,
    metric_sections,
    search_history_chart,
)


def test_headline_metrics_prefer_the_test_split_and_the_task_s_metrics() -> None:
    metrics = {"test": {"accuracy": 0.8, "roc_auc": 0.9, "f1": 0.7, "log_loss": 0.4}, "cv": {}}
    assert headline_metrics(metrics, "binary") == {"roc_auc": 0.9, "accuracy": 0.8, "f1": 0.7}
    assert headline_metrics({"cv": {"rmse": 2.0}}, "regression") == {"rmse": 2.0}
    assert headline_metrics({"custom": 1.0}, None) == {"custom": 1.0}
    assert headline_metrics({}, "binary") == {}


def test_metric_sections_split_nested_and_flat_metrics() -> None:
    assert metric_sections({"test": {"r2": 0.5}, "cv": {"r2": 0.4}}) == [
        ("test", {"r2": 0.5}),
        ("cv", {"r2": 0.4}),
    ]
    assert metric_sections({"r2": 0.5}) == [("metrics", {"r2": 0.5})]


def test_leaderboard_table_drops_empty_columns() -> None:
    columns, rows = leaderboard_table(
        [{"model": "a", "cv_auc": 0.9, "error": ""}, {"model": "b", "cv_auc": 0.8, "error": None}]
    )
    assert columns == ["model", "cv_auc"]
    assert rows == [["a", 0.9], ["b", 0.8]]


def _run(cv: dict, test: dict) -> SimpleNamespace:
    return SimpleNamespace(cv_metrics=cv, test_metrics=test)


def test_compare_rows_mark_the_best_value_by_the_metric_s_direction() -> None:
    runs = [
        _run({"roc_auc": 0.8, "roc_auc_std": 0.1}, {"log_loss": 0.5}),
        _run({"roc_auc": 0.9}, {"log_loss": 0.4}),
        _run({"roc_auc": 0.85}, {"log_loss": 0.6, "custom": 1.0}),
    ]
    rows = {r.name: r for r in compare_rows(runs)}
    assert list(rows) == ["cv roc_auc", "test log_loss", "test custom"]
    assert rows["cv roc_auc"].best == 1  # higher is better
    assert rows["test log_loss"].best == 1  # lower is better
    assert rows["test custom"].best is None  # unknown direction, one value
    assert rows["test custom"].values == [None, None, 1.0]


def test_search_history_tracks_the_best_so_far_for_a_loss() -> None:
    trials = [
        SimpleNamespace(number=i, score=s, status="ok") for i, s in enumerate([0.5, 0.7, 0.3], 1)
    ] + [SimpleNamespace(number=4, score=None, status="failed")]
    svg = str(search_history_chart([("run", "log_loss", trials)]))
    assert 'data-series="trial score"' in svg and 'data-series="best so far"' in svg
    best = svg.split('data-series="best so far"')[1].split('points="')[1].split('"')[0]
    assert len(best.split()) == 4  # 3 trials + one step down at trial 3
