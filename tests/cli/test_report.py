"""``modelloop report`` and ``modelloop train --report``: one HTML file, or one clear error."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from modelloop.evaluation import CLASSIFIER_PLOTS

_FIGURE = re.compile(r'<figure class="plot[^"]*" data-plot="([^"]+)"(.*?)</figure>', re.S)
_IMG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
FAST = ("--models", "logistic_regression", "--cv", "2", "--max-trials", "1")


def embedded_plots(page: str) -> set[str]:
    """Names of the figures holding a non-blank embedded PNG."""
    names = set()
    for name, body in _FIGURE.findall(page):
        match = _IMG.search(body)
        if match and imread(io.BytesIO(base64.b64decode(match.group(1)))).std() > 0.01:
            names.add(name)
    return names


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A store with model 'churn' trained once by ``train --report``; (home, report path)."""
    from modelloop.cli import main

    tmp = tmp_path_factory.mktemp("cli-report")
    rng = np.random.default_rng(5)
    n = 200
    frame = pd.DataFrame({"age": rng.integers(18, 80, n), "plan": rng.choice(["a", "b"], n)})
    frame["churn"] = np.where(frame["age"] + rng.normal(0, 10, n) > 50, "yes", "no")
    data = tmp / "churn.csv"
    frame.to_csv(data, index=False)
    home, out = tmp / "home", tmp / "train-report.html"
    code = main(
        ["train", str(data), "-t", "churn", "--home", str(home), "--report", str(out), *FAST]
    )
    assert code == 0
    return home, out


@pytest.mark.slow
def test_train_report_writes_the_report(trained):
    _, out = trained
    page = out.read_text(encoding="utf-8")
    assert set(CLASSIFIER_PLOTS) <= embedded_plots(page)
    assert not re.search(r"https?://", page)


@pytest.mark.slow
def test_report_command_writes_a_self_contained_page(cli, trained, tmp_path):
    home, _ = trained
    out = tmp_path / "churn.html"
    result = cli("report", "churn@latest", "-o", out, "--home", home, "--bootstrap", "20")
    assert result.code == 2 and "no alias 'latest'" in result.err  # aliases are explicit
    result = cli("report", "churn:1", "-o", out, "--home", home, "--bootstrap", "20")
    assert result.code == 0, result.err
    assert f"written to {out}" in result.out.replace("\n", "")
    page = out.read_text(encoding="utf-8")
    assert set(CLASSIFIER_PLOTS) | {"permutation_importance"} <= embedded_plots(page)
    assert not re.search(r"https?://", page)


def test_report_command_unknown_run_or_model_exits_2(cli, trained, tmp_path):
    home, _ = trained
    result = cli("report", "nosuch", "-o", tmp_path / "r.html", "--home", home)
    assert result.code == 2
    assert "No run or registered model matches 'nosuch'" in result.err
    assert "Traceback" not in result.err
    assert not (tmp_path / "r.html").exists()


def test_report_command_unwritable_output_exits_2(cli, trained, tmp_path):
    home, _ = trained
    result = cli("report", "churn", "-o", tmp_path / "no" / "r.html", "--home", home)
    assert result.code == 2
    assert "Cannot write the report to" in result.err and "does not exist" in result.err


def test_report_command_run_without_evaluation_data_exits_2(cli, tmp_path):
    from modelloop.config import Settings
    from modelloop.store import Store

    home = tmp_path / "home"
    with Store.from_settings(Settings(home=home)) as store:
        run = store.create_run(
            name="old", dataset_hash=None, target="y", task="binary", metric="roc_auc", params={}
        )
        store.finish_run(run.id, status="finished")
    result = cli("report", run.id[:8], "-o", tmp_path / "r.html", "--home", home)
    assert result.code == 2
    assert "has no evaluation data" in result.err and "Train again" in result.err


def test_train_report_to_an_unwritable_path_fails_before_training(cli, tmp_path, snapshot):
    home = tmp_path / "home"
    data = tmp_path / "d.csv"
    pd.DataFrame({"x": range(40), "y": [0, 1] * 20}).to_csv(data, index=False)
    before = snapshot(home)
    result = cli(
        "train", data, "-t", "y", "--home", home, "--report", tmp_path / "no" / "r.html", *FAST
    )
    assert result.code == 2 and "does not exist" in result.err
    assert snapshot(home) == before
