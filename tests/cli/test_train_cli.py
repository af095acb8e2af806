"""End to end: ``modelloop train``/``predict``/``models``/``runs`` on real and messy data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

FAST = ("--models", "logistic_regression,lightgbm", "--cv", "3", "--time-budget", "60")


@pytest.fixture(scope="module")
def titanic_home(tmp_path_factory, shared_datasets) -> Path:
    """A store with titanic trained once (version 1, alias production)."""
    from modelloop.cli import main

    home = tmp_path_factory.mktemp("titanic-home")
    code = main(
        [
            "train",
            str(shared_datasets / "titanic.csv"),
            "--target",
            "Survived",
            "--home",
            str(home),
            "--alias",
            "production",
            *FAST,
        ]
    )
    assert code == 0
    return home


@pytest.mark.slow
def test_train_classification_prints_leaderboard_and_registers(cli, tmp_path, shared_datasets):
    home = tmp_path / "h"
    res = cli(
        "train", shared_datasets / "titanic.csv", "--target", "Survived", "--home", home, *FAST
    )
    assert res.code == 0, res.err
    assert "Leaderboard" in res.out
    assert "logistic_regression" in res.out and "lightgbm" in res.out
    assert "roc_auc" in res.out
    assert "Registered titanic version 1" in res.out
    models = cli("models", "list", "--home", home, "--json")
    listed = json.loads(models.out)
    assert [m["name"] for m in listed] == ["titanic"]


@pytest.mark.slow
def test_train_regression_json_reports_metrics(cli, tmp_path, shared_datasets):
    res = cli(
        "train",
        shared_datasets / "auto_mpg.csv",
        "--target",
        "mpg",
        "--home",
        tmp_path / "h",
        "--json",
        "--models",
        "ridge,lightgbm",
        "--cv",
        "3",
    )
    assert res.code == 0, res.err
    payload = json.loads(res.out)
    assert payload["task"] == "regression"
    assert payload["metric"] == "rmse"
    assert set(payload["test_metrics"]) >= {"rmse", "mae", "r2"}
    assert 0 < payload["test_metrics"]["rmse"] < 6  # mpg ranges 9..46; a useless model is ~7.8
    assert payload["version"] == 1


@pytest.mark.slow
def test_predict_writes_prediction_and_probabilities(cli, titanic_home, shared_datasets, tmp_path):
    out = tmp_path / "scored.csv"
    res = cli(
        "predict",
        "titanic@production",
        shared_datasets / "titanic.csv",
        "-o",
        out,
        "--keep",
        "PassengerId",
        "--home",
        titanic_home,
        "--batch-rows",
        "200",
    )
    assert res.code == 0, res.err
    scored = pd.read_csv(out)
    assert list(scored.columns) == ["PassengerId", "prediction", "proba_0", "proba_1"]
    assert len(scored) == 891
    assert scored[["proba_0", "proba_1"]].sum(axis=1).round(6).eq(1).all()
    truth = pd.read_csv(shared_datasets / "titanic.csv")["Survived"]
    assert (scored["prediction"] == truth).mean() > 0.75


@pytest.mark.slow
def test_predict_parquet_output_matches_csv(cli, titanic_home, shared_datasets, tmp_path):
    cli(
        "predict",
        "titanic:1",
        shared_datasets / "titanic.csv",
        "-o",
        tmp_path / "a.csv",
        "--home",
        titanic_home,
    )
    res = cli(
        "predict",
        "titanic",
        shared_datasets / "titanic.csv",
        "-o",
        tmp_path / "a.parquet",
        "--home",
        titanic_home,
    )
    assert res.code == 0, res.err
    a = pd.read_csv(tmp_path / "a.csv")
    b = pd.read_parquet(tmp_path / "a.parquet")
    pd.testing.assert_series_equal(a["proba_1"], b["proba_1"], check_exact=False, rtol=1e-12)


@pytest.mark.slow
def test_predictions_same_in_a_new_process(titanic_home, shared_datasets, tmp_path):
    from modelloop.config import Settings
    from modelloop.workflows import predict

    data = pd.read_csv(shared_datasets / "titanic.csv", dtype=str, keep_default_na=False)
    here = predict("titanic@production", data, settings=Settings(home=titanic_home))
    out = tmp_path / "child.parquet"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelloop",
            "predict",
            "titanic@production",
            str(shared_datasets / "titanic.csv"),
            "-o",
            str(out),
            "--home",
            str(titanic_home),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    child = pd.read_parquet(out)
    assert (child["prediction"].to_numpy() == here["prediction"].to_numpy()).all()
    assert abs(child["proba_1"].to_numpy() - here["proba_1"].to_numpy()).max() < 1e-12


@pytest.mark.slow
def test_tampered_artifact_is_refused(cli, tmp_path, shared_datasets):
    home = tmp_path / "h"
    assert (
        cli(
            "train",
            shared_datasets / "penguins.csv",
            "--target",
            "species",
            "--home",
            home,
            "--models",
            "logistic_regression",
            "--cv",
            "3",
        ).code
        == 0
    )
    [artifact] = [p for p in (home / "artifacts").rglob("*.skops")]
    blob = bytearray(artifact.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    artifact.write_bytes(bytes(blob))
    res = cli(
        "predict",
        "penguins",
        shared_datasets / "penguins.csv",
        "-o",
        tmp_path / "p.csv",
        "--home",
        home,
    )
    assert res.code == 2
    assert "sha256" in res.err and "Traceback" not in res.err
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.slow
def test_models_show_alias_and_runs(cli, titanic_home):
    show = cli("models", "show", "titanic@production", "--home", titanic_home)
    assert show.code == 0, show.err
    assert "Input schema" in show.out and "PassengerId" in show.out
    runs = cli("runs", "list", "--home", titanic_home, "--json")
    [run] = [r for r in json.loads(runs.out) if r["name"] == "titanic"][:1]
    detail = cli("runs", "show", run["id"][:8], "--home", titanic_home)
    assert detail.code == 0, detail.err
    assert "Leaderboard" in detail.out and "scikit-learn" in detail.out
