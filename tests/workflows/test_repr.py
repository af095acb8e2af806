"""Notebook views: a short text repr in a terminal, a rich ``_repr_html_`` in Jupyter.

The HTML is rendered (parsed) and its content checked, not just its presence.
"""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import modelloop as ml


class _Page(HTMLParser):
    """The text of each table cell, and the bold title."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.text: list[str] = []
        self._in_cell = False
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self._in_cell = tag in ("td", "th")
        if self._in_cell:
            self.cells.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_cell:
            self.cells[-1] += data


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "plan": rng.choice(["basic", "pro"], size=n),
            "churn": np.where(x + rng.normal(scale=0.5, size=n) > 0, "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return ml.Settings(home=tmp_path_factory.mktemp("repr") / "home")


@pytest.fixture(scope="module")
def result(frame, settings):
    return ml.train(frame, target="churn", models=["logistic_regression"], max_trials=1, cv=2,
                    name="churn", register=True, settings=settings)  # fmt: skip


def test_dataset_repr_is_one_line_and_html_lists_columns(frame) -> None:
    ds = ml.load(frame, target="churn")
    text = repr(ds)
    assert text.startswith("Dataset(") and "200 rows × 3 columns" in text and "\n" not in text
    page = _Page(ds._repr_html_())
    assert {"x", "plan", "churn", "numeric", "categorical"} <= set(page.cells)
    assert "target churn" in "".join(page.text)


def test_train_result_repr_is_short_and_html_shows_leaderboard(result) -> None:
    text = repr(result)
    assert text.startswith("TrainResult('churn': binary, best logistic_regression, CV roc_auc ")
    assert "Pipeline" not in text and len(text) < 200
    page = _Page(result._repr_html_())
    assert "logistic_regression" in page.cells  # the leaderboard
    assert "roc_auc" in page.cells  # the metrics table
    assert f"{result.metrics['roc_auc']:.4f}" in page.cells
    assert "registered as churn:1" in "".join(page.text)


def test_model_version_repr_and_html(result, settings) -> None:
    with ml.registry(settings) as store:
        record = store.resolve("churn:1")
    assert repr(record).startswith("ModelVersionRecord(churn:1, task binary")
    page = _Page(record._repr_html_())
    assert {"roc_auc", "x", "plan"} <= set(page.cells)
    assert f"{result.metrics['roc_auc']:.4f}" in page.cells


def test_drift_report_repr_and_html(frame) -> None:
    from modelloop.monitoring import drift_report

    ds = ml.load(frame, target="churn")
    current = frame.drop(columns=["churn"]).copy()
    current["x"] = current["x"] + 3.0  # x moves, plan does not
    report = drift_report(frame.drop(columns=["churn"]), current, ds.schema)
    assert repr(report).startswith("DriftReport(1 of 2 columns drifted: x;")
    page = _Page(report._repr_html_())
    assert page.cells[:7][6] == "x"  # drifted first, after the six headings
    assert "1 of 2 columns drifted (50%)" in "".join(page.text)
