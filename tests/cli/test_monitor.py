"""``modelloop monitor``: table, exit codes, --json and --html."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from modelloop.config import Settings
from modelloop.store import Store


def _data(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(shift, 1.0, n)
    b = rng.choice(["x", "y", "z"], n)
    y = (rng.random(n) < 1 / (1 + np.exp(-1.5 * a))).astype(int)
    return pd.DataFrame({"a": a, "b": b, "label": y})


@pytest.fixture
def home(tmp_path):
    """A store with model 'churn' v1 (and its reference rows) under tmp_path/home."""
    from sklearn.linear_model import LogisticRegression

    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline

    frame = _data(600, 0)
    schema = infer_schema(frame, target="label")
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame[["a", "b"]], frame["label"])
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary", "classes": [0, 1]}
    path = tmp_path / "home"
    with Store.from_settings(Settings(home=path)) as store:
        store.register_model(
            "churn",
            bundle,
            run_id=None,
            schema=schema.to_dict(),
            task="binary",
            metrics={"test": {"roc_auc": 0.8}},
            reference=frame,
        )
    return path


def _log(home, frame: pd.DataFrame) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    with Store.from_settings(Settings(home=home)) as store:
        store.log_predictions(
            [
                {
                    "request_id": f"r{i}",
                    "model_name": "churn",
                    "model_version": 1,
                    "inputs": {"a": float(r.a), "b": r.b},
                    "created_at": start + timedelta(seconds=i),
                }
                for i, r in enumerate(frame.itertuples())
            ]
        )


def test_monitor_cli_no_alert_exits_0_and_prints_table(cli, home):
    _log(home, _data(400, 1))
    result = cli("monitor", "churn", "--home", home, "--window", "1000")
    assert result.code == 0, result.err
    assert "feature" in result.out and "wasserstein" not in result.out  # 400 rows: KS
    assert "ks" in result.out and "Domain classifier ROC AUC" in result.out
    assert "No alert." in result.out


def test_monitor_cli_alert_exits_1_and_writes_reports(cli, home, tmp_path):
    _log(home, _data(400, 2, shift=2.0))
    out_json, out_html = tmp_path / "drift.json", tmp_path / "drift.html"
    result = cli(
        "monitor", "churn", "--home", home, "--window", "7d", "--json", out_json, "--html", out_html
    )
    assert result.code == 1, result.err
    assert "ALERT" in result.err and "drift_share" in result.err
    payload = json.loads(out_json.read_text())
    assert payload["model"] == "churn:1" and payload["alerts"][0]["rule"] == "drift_share"
    assert "a" in payload["report"]["drifted_features"]
    page = out_html.read_text()
    assert page.startswith("<!DOCTYPE html>") and 'data-plot="hist-a"' in page
    assert 'data-plot="over-time"' in page and "https://" not in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "soon"], "row count such as 5000"),
        (["--json", "report.txt"], "--json must end in .json"),
    ],
)
def test_monitor_cli_bad_input_exits_2(cli, home, args, message):
    _log(home, _data(100, 3))
    result = cli("monitor", "churn", "--home", home, *args)
    assert result.code == 2 and message in result.err and "Traceback" not in result.err


def test_monitor_cli_unknown_model_and_empty_window_exit_2(cli, home):
    assert cli("monitor", "nope", "--home", home).code == 2
    result = cli("monitor", "churn", "--home", home)
    assert result.code == 2 and "no logged predictions" in result.err
