"""``report``: the HTML evaluation of a run or model version, from what training kept."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

import modelloop as ml
from modelloop.config import Settings
from modelloop.evaluation import CLASSIFIER_PLOTS, REGRESSION_PLOTS
from modelloop.exceptions import (
    ArtifactIntegrityError,
    InvalidInputError,
    ModelNotFoundError,
    NotFoundError,
    StoreError,
)
from modelloop.store import Store
from modelloop.workflows import check_report_path, report

_FIGURE = re.compile(r'<figure class="plot[^"]*" data-plot="([^"]+)"(.*?)</figure>', re.S)
_IMG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def embedded_plots(page: str) -> set[str]:
    """Names of the figures holding a non-blank embedded PNG."""
    names = set()
    for name, body in _FIGURE.findall(page):
        match = _IMG.search(body)
        if match and imread(io.BytesIO(base64.b64decode(match.group(1)))).std() > 0.01:
            names.add(name)
    return names


def _frame(task: str, n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "plan": rng.choice(["basic", "plus", "pro"], size=n),
        }
    )
    signal = df["x1"] + 0.5 * (df["plan"] == "pro")
    if task == "binary":
        df["y"] = np.where(signal + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
    elif task == "multiclass":
        df["y"] = pd.cut(signal, [-np.inf, -0.5, 0.5, np.inf], labels=["lo", "mid", "hi"]).astype(
            str
        )
    else:
        df["y"] = 3 * signal + rng.normal(scale=0.3, size=n)
    return df


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One store with a binary, a multiclass and a regression model, each trained once."""
    settings = Settings(home=tmp_path_factory.mktemp("report") / "home")
    results = {}
    for task, model in (
        ("binary", "logistic_regression"),
        ("multiclass", "logistic_regression"),
        ("regression", "ridge"),
    ):
        results[task] = ml.train(
            _frame(task),
            target="y",
            name=f"m_{task}",
            aliases=["production"],
            models=[model],
            max_trials=1,
            cv=2,
            time_budget=None,
            settings=settings,
        )
    return settings, results


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "ref"),
    [("binary", "run"), ("multiclass", "m_multiclass@production"), ("regression", "prefix")],
)
def test_report_embeds_every_expected_plot(trained, task, ref, tmp_path):
    settings, results = trained
    run_id = results[task].run_id
    ref = {"run": run_id, "prefix": run_id[:8]}.get(ref, ref)
    out = report(ref, tmp_path / "r.html", settings=settings, n_boot=20)
    page = out.read_text(encoding="utf-8")
    expected = set(REGRESSION_PLOTS if task == "regression" else CLASSIFIER_PLOTS)
    expected |= {"target_distribution", "permutation_importance", "optimization_history"}
    expected |= {"contribution_importance", "contribution_summary", "dependence"}
    expected |= {"learning_curve"}  # no time budget: there is time for one
    assert expected <= embedded_plots(page)
    assert not re.search(r"https?://", page)
    assert run_id in page and "Leaderboard" in page
    if "@" in ref:
        assert "m_multiclass version 1 (aliases: production)" in page


@pytest.mark.slow
def test_report_of_a_model_version_reference(trained, tmp_path):
    settings, _ = trained
    page = report("m_binary:1", tmp_path / "r.html", settings=settings, n_boot=5).read_text()
    assert "m_binary version 1 (aliases: production)" in page


@pytest.mark.slow
def test_train_keeps_the_evaluation_beside_the_run(trained):
    settings, results = trained
    result = results["multiclass"]
    with Store.from_settings(settings) as store:
        files = store.run_files(result.run_id)
        payload = json.loads(store.read_run_file(result.run_id, "evaluation.json"))
        predictions = pd.read_parquet(
            io.BytesIO(store.read_run_file(result.run_id, "predictions.parquet"))
        )
    assert {"evaluation.json", "predictions.parquet", "test_rows.parquet"} <= set(files)
    assert payload["classes"] == result.classes and payload["task"] == "multiclass"
    assert len(predictions) == result.dataset.n_rows - int(result.dataset.n_rows * 0.8)
    assert {"y_true", "y_pred", "proba_0", "proba_1", "proba_2"} <= set(predictions.columns)
    assert 1 <= payload["importance"]["n_repeats"] <= 3
    assert payload["importance"]["n_rows"] <= 2_000
    assert "evaluation_s" in result.timings


@pytest.mark.slow
def test_explanations_are_kept_even_when_no_time_is_left(trained, tmp_path):
    from dataclasses import replace

    from modelloop.workflows import record_evaluation

    settings, results = trained
    result = results["binary"]
    X, y = result.dataset.features(), result.dataset.target_series()
    with Store.from_settings(settings) as store:
        run = store.create_run(
            name="m_binary", dataset_hash=result.dataset.hash, target="y", task="binary",
            metric=result.metric, params={},
        )  # fmt: skip
        record_evaluation(store, replace(result, run_id=run.id), X, y, X, y, time_left=0.0)
        payload = json.loads(store.read_run_file(run.id, "evaluation.json"))
        rows = pd.read_parquet(io.BytesIO(store.read_run_file(run.id, "explanations.parquet")))
        store.finish_run(run.id, status="finished")
    info = payload["explanations"]
    assert payload["importance"]["table"] == []  # permutation importance had no time
    assert info["output"] == "probability" and info["method"] == "linear"
    assert info["explained"] == "probability of class yes"
    assert info["n_rows"] == len(rows) >= 5  # the first rows, whatever the budget says
    assert info["importance"][0]["feature"] == "x1"  # the signal's main column
    contribs = rows[[c for c in rows.columns if c.startswith("contrib:")]].sum(axis=1)
    np.testing.assert_allclose(rows["base_value"] + contribs, rows["output_value"], atol=1e-9)
    page = report(run.id, tmp_path / "r.html", settings=settings, n_boot=5).read_text()
    assert {"contribution_importance", "contribution_summary", "dependence"} <= embedded_plots(page)
    assert "Each input column's contribution to the probability of class yes" in page


def test_report_unknown_reference_is_a_clear_error(trained, tmp_path):
    settings, _ = trained
    with pytest.raises(NotFoundError, match="No run or registered model matches 'nope'"):
        report("nope", tmp_path / "r.html", settings=settings)
    with pytest.raises(ModelNotFoundError, match="no alias 'staging'"):
        report("m_binary@staging", tmp_path / "r.html", settings=settings)
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing/r.html", "does not exist"),
        ("file.txt/r.html", "does not exist"),
        (".", "it is a folder"),
    ],
)
def test_report_unwritable_output_is_refused_before_any_work(trained, tmp_path, where, message):
    settings, results = trained
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InvalidInputError, match=message):
        report(results["binary"].run_id, tmp_path / where, settings=settings)


def test_check_report_path_accepts_a_writable_file(tmp_path):
    assert check_report_path(tmp_path / "r.html") == tmp_path / "r.html"


def test_report_of_a_run_without_evaluation_data_is_a_clear_error(settings, tmp_path):
    with Store.from_settings(settings) as store:
        run = store.create_run(
            name="old", dataset_hash=None, target="y", task="binary", metric="roc_auc", params={}
        )
        store.finish_run(run.id, status="finished", cv_metrics={}, test_metrics={})
        with pytest.raises(NotFoundError, match="has no evaluation data: it was trained before"):
            report(run.id, tmp_path / "r.html", store=store)
        running = store.create_run(
            name="busy", dataset_hash=None, target="y", task="binary", metric="roc_auc", params={}
        )
        with pytest.raises(NotFoundError, match="is 'running', not finished"):
            report(running.id, tmp_path / "r.html", store=store)
    assert not (tmp_path / "r.html").exists()


def test_report_refuses_changed_evaluation_data(trained, tmp_path):
    settings, results = trained
    run_id = results["regression"].run_id
    path = settings.resolved_artifacts_dir() / "runs" / run_id / "predictions.parquet"
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"x")
        with pytest.raises(ArtifactIntegrityError, match="does not match its recorded sha256"):
            report(run_id, tmp_path / "r.html", settings=settings)
    finally:
        path.write_bytes(original)


def test_run_files_are_written_once(trained):
    settings, results = trained
    with (
        Store.from_settings(settings) as store,
        pytest.raises(StoreError, match="already has files"),
    ):
        store.write_run_files(results["binary"].run_id, {"x.json": b"{}"})
