"""``modelloop train`` search options and ``runs show`` trial history, end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def toy_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("search-data") / "toy.csv"
    rows = range(240)
    pd.DataFrame(
        {
            "x": [v * 0.5 for v in rows],
            "colour": ["red", "green", "blue", "red"] * 60,
            "label": ["yes" if v % 3 else "no" for v in rows],
        }
    ).to_csv(path, index=False)
    return path


def test_train_grid_search_prints_best_params_and_runs_show_lists_trials(cli, toy_csv, tmp_path):
    home = tmp_path / "home"
    result = cli(
        "train", toy_csv, "--target", "label", "--home", home, "--models", "decision_tree",
        "--search", "grid", "--param-grid", '{"max_depth": [2, 4]}', "--cv", "2",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "best_params" in result.out and "max_depth" in result.out
    # like GridSearchCV: scikit-learn's default score, and the output says so
    assert "selected by CV accuracy" in result.out
    assert "--search grid selects by CV accuracy" in " ".join(result.err.split())
    assert "Final model speed: " in result.out and "rows/s on a 10,000-row batch" in result.out
    runs = json.loads(cli("runs", "list", "--home", home, "--json").out)
    show = cli("runs", "show", runs[0]["id"][:8], "--home", home)
    assert show.code == 0, show.err
    assert "Trials" in show.out, show.out
    # seconds carry their unit; the final model's timing its own
    assert re.search(
        r"refit_s [\d.]+s, .*predict_row_ms [\d.]+, predict_rows_per_second \d+", show.out
    )
    detail = json.loads(cli("runs", "show", runs[0]["id"][:8], "--home", home, "--json").out)
    assert [t["status"] for t in detail["trials"]] == ["ok", "ok"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--time-budget", "0.5"), "too small to fit even one model"),
        (("--models", "lightgbn"), "Unknown model 'lightgbn'"),
        (
            ("--models", "decision_tree", "--search", "grid", "--param-grid", '{"depth": [2]}'),
            "Parameter 'depth'",
        ),
        (("--param-grid", "{max_depth: 3}", "--search", "grid"), "--param-grid must be a JSON"),
        (("--metric", "rmse"), "Metric 'rmse' does not apply"),
        (("--final-fit", "folds"), "final_fit must be one of auto, refit, bag"),
        (("--min-rows-per-second", "-5"), "min_rows_per_second must be >= 0"),
    ],
)
def test_train_bad_search_options_exit_2_with_one_line(cli, toy_csv, tmp_path, args, message):
    home = tmp_path / "home"
    result = cli("train", toy_csv, "--target", "label", "--home", home, *args)
    assert result.code == 2
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not home.exists()


def test_train_final_fit_bag_keeps_fold_models_and_runs_show_records_it(cli, toy_csv, tmp_path):
    home = tmp_path / "home"
    result = cli(
        "train", toy_csv, "--target", "label", "--home", home, "--models", "logistic_regression",
        "--max-trials", "1", "--cv", "3", "--final-fit", "bag", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["final_fit"] == "bagged"
    assert summary["leaderboard"][0]["final_fit"] == "bagged"
    detail = json.loads(cli("runs", "show", summary["run_id"][:8], "--home", home, "--json").out)
    assert detail["leaderboard"][0]["final_fit"] == "bagged"
    assert detail["params"]["final_fit"] == "bag"
    scored = tmp_path / "scored.csv"
    predicted = cli("predict", f"{summary['name']}:1", toy_csv, "-o", scored, "--home", home)
    assert predicted.code == 0, predicted.err  # the fold bag loads from the store and predicts
    assert len(pd.read_csv(scored)) == 240
