"""HTML reports: self-contained pages with every expected figure embedded and non-empty."""

from __future__ import annotations

import base64
import io
import re
import struct

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from modelloop.evaluation import (
    CLASSIFIER_PLOTS,
    COMMON_PLOTS,
    REGRESSION_PLOTS,
    Section,
    evaluation_report,
    expected_plots,
    figure_to_html,
    metric_intervals,
    render_html,
    table_to_html,
)
from modelloop.exceptions import InvalidInputError

_FIGURE = re.compile(r'<figure class="plot[^"]*" data-plot="([^"]+)"(.*?)</figure>', re.S)
_IMG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def embedded_plots(page: str) -> dict[str, tuple[int, int]]:
    """``data-plot`` name -> (width, height) of its decoded PNG; fails on an empty image."""
    found = {}
    for name, body in _FIGURE.findall(page):
        match = _IMG.search(body)
        assert match, f"figure {name!r} has no embedded PNG"
        data = base64.b64decode(match.group(1))
        assert data[:8] == b"\x89PNG\r\n\x1a\n", f"figure {name!r} is not a PNG"
        width, height = struct.unpack(">II", data[16:24])
        pixels = imread(io.BytesIO(data))
        assert pixels.std() > 0.01, f"figure {name!r} is blank"
        found[name] = (width, height)
    return found


def outside_references(page: str) -> list[str]:
    return re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}", page)


def _binary_data(n: int = 150):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    p = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    return {
        "task": "binary",
        "metric": "roc_auc",
        "y_true": y,
        "y_pred": (p > 0.5).astype(int),
        "proba": np.column_stack([1 - p, p]),
        "classes": [0, 1],
    }


def _extras():
    return {
        "summary": {"run": "3f2a <script>", "selected model": "lightgbm"},
        "notes": ["a note"],
        "profile": {
            "n_rows": 100,
            "n_cols": 3,
            "columns": [
                {"column": "age", "role": "numeric", "missing_pct": 2.0, "distinct": 50},
                {"column": "plan", "role": "categorical", "missing_pct": 0.0, "distinct": 3},
            ],
            "warnings": ["Column 'x' is 60% missing."],
        },
        "target_distribution": {"classes": {"0": 60, "1": 40}},
        "cv_metrics": {"roc_auc": 0.8, "roc_auc_std": 0.02},
        "leaderboard": [{"model": "lightgbm", "cv_roc_auc": 0.8, "status": "ok", "error": ""}],
        "trials": [
            {"number": 1, "score": 0.7, "duration": 1.0, "model": "lr", "status": "ok"},
            {"number": 2, "score": 0.8, "duration": 2.0, "model": "lightgbm", "status": "ok"},
        ],
        "importances": [
            {"feature": "age", "importance": 0.1, "std": 0.01},
            {"feature": "plan", "importance": 0.02, "std": 0.005},
        ],
        "learning_curve": [
            {"n_train": 50, "train_score": 0.95, "test_score": 0.7},
            {"n_train": 100, "train_score": 0.9, "test_score": 0.78},
        ],
        "explanations": {
            "output": "probability",
            "explained": "probability of class 1",
            "method": "tree_shap",
            "detail": "LGBMClassifier: TreeSHAP",
            "n_rows": 40,
            "importance": [
                {"feature": "age", "mean_abs": 0.1},
                {"feature": "plan", "mean_abs": 0.02},
            ],
        },
        "contributions": pd.DataFrame(
            {"age": np.linspace(-0.2, 0.2, 40), "plan": np.tile([0.02, -0.01], 20)}
        ),
        "contribution_values": pd.DataFrame(
            {"age": np.linspace(20, 60, 40), "plan": np.tile(["basic", "pro"], 20)}
        ),
        "n_boot": 20,
    }


def test_evaluation_report_binary_embeds_every_expected_plot():
    page = evaluation_report("Binary", **_binary_data(), **_extras())
    plots = embedded_plots(page)
    assert set(plots) == set(CLASSIFIER_PLOTS) | set(COMMON_PLOTS)
    assert all(w >= 300 and h >= 200 for w, h in plots.values())
    assert outside_references(page) == []
    assert "3f2a &lt;script&gt;" in page and "<script>" not in page
    assert "Column &#x27;x&#x27; is 60% missing." in page


def test_evaluation_report_multiclass_embeds_every_expected_plot():
    rng = np.random.default_rng(1)
    classes = ["a", "b", "c"]
    y = np.asarray(classes, dtype=object)[rng.integers(0, 3, 200)]
    raw = rng.random((200, 3)) + (y[:, None] == np.asarray(classes)[None, :])
    proba = raw / raw.sum(axis=1, keepdims=True)
    page = evaluation_report(
        "Multiclass",
        task="multiclass",
        metric="log_loss",
        y_true=y,
        y_pred=np.asarray(classes, dtype=object)[proba.argmax(axis=1)],
        proba=proba,
        classes=classes,
        n_boot=10,
    )
    assert set(embedded_plots(page)) == set(CLASSIFIER_PLOTS)
    assert outside_references(page) == []


def test_evaluation_report_regression_embeds_every_expected_plot():
    rng = np.random.default_rng(2)
    y = rng.normal(size=120)
    extras = _extras()
    extras["target_distribution"] = {"edges": [-3, 0, 3], "counts": [60, 60]}
    extras["cv_metrics"] = {"rmse": 0.3, "rmse_std": 0.01}
    page = evaluation_report(
        "Regression",
        task="regression",
        metric="rmse",
        y_true=y,
        y_pred=y + rng.normal(scale=0.2, size=120),
        **extras,
    )
    assert set(embedded_plots(page)) == set(REGRESSION_PLOTS) | set(COMMON_PLOTS)
    assert outside_references(page) == []


def test_evaluation_report_leaves_out_sections_without_data():
    page = evaluation_report("Bare", **_binary_data(), n_boot=10)
    plots = embedded_plots(page)
    assert set(plots) == set(CLASSIFIER_PLOTS)
    assert "Learning curve" not in page and "Leaderboard" not in page


def test_evaluation_report_classifier_without_probabilities_is_refused():
    data = _binary_data()
    data["proba"] = None
    with pytest.raises(InvalidInputError, match="needs proba and classes"):
        evaluation_report("x", **data, n_boot=5)


def test_evaluation_report_a_plot_that_fails_is_marked_missing_not_fatal():
    extras = _extras()
    extras["learning_curve"] = [{"wrong": 1}]
    page = evaluation_report("x", **_binary_data(), **extras)
    assert 'data-plot="learning_curve" data-missing="true"' in page
    assert "Not drawn: InvalidInputError" in page
    figures = dict(_FIGURE.findall(page))
    assert _IMG.search(figures["learning_curve"]) is None
    assert all(_IMG.search(figures[name]) for name in CLASSIFIER_PLOTS)


def test_expected_plots_by_task():
    assert expected_plots("binary") == expected_plots("multiclass") == CLASSIFIER_PLOTS
    assert expected_plots("regression") == REGRESSION_PLOTS
    with pytest.raises(InvalidInputError, match="Got 'clustering'"):
        expected_plots("clustering")


def test_figure_to_html_embeds_a_png_without_metadata():
    fig = Figure(figsize=(3, 2), dpi=100)
    fig.subplots().plot([0, 1], [1, 0])
    html = figure_to_html(fig, "line", "A <line>")
    assert embedded_plots(html) == {"line": (300, 200)}
    assert "<figcaption>A &lt;line&gt;</figcaption>" in html
    data = base64.b64decode(_IMG.search(html).group(1))
    assert b"matplotlib" not in data  # no Software chunk naming a web address


def test_figure_to_html_rejects_a_bad_name():
    with pytest.raises(InvalidInputError, match="plot name"):
        figure_to_html(Figure(), 'x" onload="alert(1)')


def test_render_html_is_one_self_contained_page():
    page = render_html(
        "Title <b>", [Section("One", "<p>1</p>"), Section("One", "<p>2</p>")], subtitle="s"
    )
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Title &lt;b&gt;</title>" in page
    assert 'id="one"' in page and 'id="one-2"' in page  # section ids stay unique
    assert "<link" not in page and "<script" not in page and outside_references(page) == []


def test_table_to_html_escapes_and_formats_cells():
    html = table_to_html(
        [{"a": "<x>", "b": float("nan"), "c": 12345, "d": None}, {"a": "y", "b": 0.5, "c": 1}],
        max_rows=1,
    )
    assert "&lt;x&gt;" in html and "<td>—</td>" in html and "<td>12,345</td>" in html
    assert "1 more rows not shown" in html


def test_metric_intervals_bracket_the_test_value():
    data = _binary_data(300)
    table = metric_intervals(
        "binary",
        data["y_true"],
        y_pred=data["y_pred"],
        proba=data["proba"],
        classes=[0, 1],
        cv_metrics={"roc_auc": 0.8, "roc_auc_std": 0.02},
        n_boot=50,
    )
    assert {"roc_auc", "accuracy", "f1", "log_loss"} <= set(table["metric"])
    finite = table.dropna(subset=["ci_low"])
    assert (
        (finite["ci_low"] <= finite["test"] + 1e-9) & (finite["test"] <= finite["ci_high"] + 1e-9)
    ).all()
    auc = table.set_index("metric").loc["roc_auc"]
    assert auc["cv_mean"] == 0.8 and auc["cv_std"] == 0.02
    assert np.isnan(table.set_index("metric").loc["accuracy", "cv_mean"])


def test_metric_intervals_stop_resampling_at_the_time_limit():
    data = _binary_data(100)
    table = metric_intervals(
        "binary",
        data["y_true"],
        y_pred=data["y_pred"],
        proba=data["proba"],
        classes=[0, 1],
        n_boot=10,
        first="log_loss",
        time_limit=0.0,
    )
    by_name = table.set_index("metric")
    assert np.isfinite(by_name.loc["log_loss", "ci_low"])  # the selection metric comes first
    assert set(table.attrs["no_interval"]) == set(table["metric"]) - {"log_loss"}
    assert by_name.drop(index="log_loss")["ci_low"].isna().all()


def test_dependence_plots_leave_out_columns_with_many_levels_in_the_training_data(monkeypatch):
    # 'ticket' has 600 levels in the training data, though only 8 among the explained rows
    import modelloop.evaluation._plots as plots

    extras = _extras()
    extras["profile"]["columns"].append(
        {"column": "ticket", "role": "categorical", "missing_pct": 0.0, "distinct": 600}
    )
    extras["contributions"] = extras["contributions"].assign(ticket=np.linspace(0.5, -0.5, 40))
    extras["contribution_values"] = extras["contribution_values"].assign(
        ticket=[f"T{i % 8}" for i in range(40)]
    )
    shown = []
    original = plots.dependence_figure

    def spy(contributions, values, columns, **kwargs):
        shown.extend(columns)
        return original(contributions, values, columns, **kwargs)

    monkeypatch.setattr(plots, "dependence_figure", spy)
    page = evaluation_report("Binary", **_binary_data(), **extras)
    assert "dependence" in embedded_plots(page)
    assert shown == ["age", "plan"]  # 'ticket' contributes the most, yet is left out
