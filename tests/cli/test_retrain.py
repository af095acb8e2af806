"""``modelloop retrain`` and ``modelloop watch``: verdicts, JSON, clear errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def _rows(n: int, shifted: bool, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(1.0 if shifted else 0.0, 1.0, n)
    x2 = rng.normal(size=n)
    y = np.where((x2 if shifted else x1) + 0.3 * rng.normal(size=n) > 0, "yes", "no")
    return pd.DataFrame({"x1": x1, "x2": x2, "y": y})


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Model 'drifty' v1 (a quick logistic regression with its run and reference rows)."""
    from sklearn.linear_model import LogisticRegression

    from modelloop.config import Settings
    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline
    from modelloop.store import Store

    home = tmp_path / "home"
    frame = _rows(300, False, 0)
    schema = infer_schema(frame, target="y")
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame.drop(columns=["y"]), frame["y"])
    params = {"candidates": ["logistic_regression"], "search": "auto", "max_trials": 1,
              "cv": 2, "time_budget": 60, "seed": 0}  # fmt: skip
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary", "target": "y",
              "classes": ["no", "yes"]}  # fmt: skip
    with Store.from_settings(Settings(home=home)) as store:
        run = store.create_run(
            name="drifty", dataset_hash=None, target="y", task="binary", metric="roc_auc",
            params=params,
        )  # fmt: skip
        store.finish_run(run.id, status="finished")
        store.register_model(
            "drifty", bundle, run_id=run.id, schema=schema.to_dict(), task="binary", metrics={},
            aliases=["production"], reference=frame,
        )  # fmt: skip
    return home


def _log_and_label(home: Path, frame: pd.DataFrame) -> None:
    from modelloop.config import Settings
    from modelloop.store import Store

    records = frame.drop(columns=["y"]).to_dict(orient="records")
    with Store.from_settings(Settings(home=home)) as store:
        store.log_predictions(
            [
                {"request_id": f"q{i}", "model_name": "drifty", "model_version": 1, "inputs": r}
                for i, r in enumerate(records)
            ]
        )
        store.record_feedback(
            "drifty",
            [{"request_id": f"q{i}", "label": y} for i, y in enumerate(frame["y"])],
            task="binary",
            classes=["no", "yes"],
        )


def test_retrain_cli_promotes_and_prints_json(cli, home) -> None:
    _log_and_label(home, _rows(150, True, 1))
    r = cli("retrain", "drifty", "--home", home, "--json", "--recent-weight", "2")
    assert r.code == 0, r.err
    body = json.loads(r.out)
    assert body["promoted"] is True and body["challenger_version"] == 2
    assert body["data"] == {
        "reference_rows": 300,
        "production_rows": 120,
        "holdout_rows": 30,
        "window": None,
        "recent_weight": 2.0,
    }
    shown = cli("models", "list", "--home", home)
    assert "production→2" in shown.out.replace(" ", "")


def test_retrain_cli_without_labels_exits_2(cli, home, snapshot) -> None:
    before = snapshot(home)
    r = cli("retrain", "drifty", "--home", home)
    assert r.code == 2
    assert "no labeled production rows" in r.err.replace("\n", " ")
    assert snapshot(home) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "No model named 'nope'"),
        (["drifty", "--window", "soon"], "window must be a number of recent labeled rows"),
        (["drifty", "--min-improvement", "-1"], "min_improvement must be a number >= 0"),
    ],
)
def test_retrain_cli_bad_input_exits_2(cli, home, args, message) -> None:
    r = cli("retrain", *args, "--home", home)
    assert r.code == 2 and message in r.err.replace("\n", " ")


def test_watch_cli_checks_the_policy(cli, home) -> None:
    r = cli("watch", "drifty", "--home", home, "--max-checks", "1", "--interval", "0.01")
    assert r.code == 0, r.err
    assert "check drifty: 0 new labels since version 1 was registered" in r.out.replace("\n", " ")
    bad = cli("watch", "drifty", "--home", home, "--every-labels", "0", "--max-checks", "1")
    assert bad.code == 2 and "min_new_labels must be an integer >= 1" in bad.err


def test_auto_retrain_runs_the_watcher_command(tmp_path) -> None:
    from modelloop.cli._autoretrain import watcher_command
    from modelloop.config import Settings

    cmd = watcher_command(Settings(home=tmp_path / "h"), every_labels=50, interval=30.0)
    assert cmd[1:4] == ["-m", "modelloop", "watch"]
    assert cmd[cmd.index("--every-labels") + 1] == "50"
    assert cmd[cmd.index("--interval") + 1] == "30"
    assert cmd[cmd.index("--home") + 1] == str(tmp_path / "h") and "--store" not in cmd
    with_url = watcher_command(
        Settings(home=tmp_path, store_url="sqlite:///x.db"), every_labels=1, interval=1
    )
    assert with_url[-2:] == ["--store", "sqlite:///x.db"]
