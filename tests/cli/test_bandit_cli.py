"""modelloop train --task bandit, evaluate-policy and rewards through feedback, by the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def _log(path: Path, n: int = 120, **changes: object) -> Path:
    rng = np.random.default_rng(0)
    rule = rng.choice(["a", "b"], n)
    offer = rng.choice(["a", "b", "c"], n)
    frame = pd.DataFrame(
        {"rule": rule, "x": rng.normal(size=n), "offer": offer,
         "click": (rng.random(n) < np.where(offer == rule, 0.5, 0.1)).astype(int), "p": 1 / 3},
    )  # fmt: skip
    for column, value in changes.items():
        frame[column] = value
    frame.to_csv(path, index=False)
    return path


BANDIT = ["--task", "bandit", "--action", "offer", "--reward", "click"]


@pytest.mark.parametrize(
    ("args", "changes", "match"),
    [
        (["--task", "bandit", "--reward", "click"], {}, "--task bandit needs --action"),
        (["--action", "offer"], {}, "--action applies to --task bandit only"),
        ([*BANDIT, "--target", "click"], {}, "not a --target. Got --target click"),
        ([*BANDIT, "--propensity", "p"], {"p": 1.5}, "probabilities in (0, 1]. Got 1.5 in row 0"),
        (BANDIT, {"click": "maybe"}, "must hold numbers (the reward). Got 'maybe' in row 1"),
        (BANDIT, {"offer": "a"}, "holds a single action ('a')"),
        ([*BANDIT, "--propensity", "prob"], {}, "Column 'prob' is not in"),
        ([*BANDIT, "--learner", "dr"], {}, "Learner 'dr' weighs each logged reward"),
        ([*BANDIT, "--default-reward", "lots"], {}, "--default-reward must be a number or 'none'"),
        ([*BANDIT, "--exploration", "boltzmann"], {}, "exploration must be one of"),
    ],
)
def test_train_bandit_bad_input_is_one_line_and_exit_2(
    cli, tmp_path, snapshot, args, changes, match
):
    log = _log(tmp_path / "log.csv", **changes)
    home = tmp_path / "home"
    before = snapshot(home)
    result = cli("train", log, *args, "--home", home)
    assert result.code == 2, result.err
    assert match in result.err.replace("\n", " "), result.err
    assert result.err.strip().startswith("error:") and "Traceback" not in result.err
    assert snapshot(home) == before


def test_rule_policy_trains_evaluates_and_takes_rewards(cli, tmp_path):
    """A safe start: the existing rule (column 'rule') with exploration; no search needed."""
    log = _log(tmp_path / "log.csv")
    home = tmp_path / "home"
    r = cli(
        "train", log, *BANDIT, "--propensity", "p", "--baseline-action", "rule",
        "--epsilon", "0.2", "--min-propensity", "0.05", "--name", "offers",
        "--alias", "production", "--home", home,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert "learner 'rule'" in r.out and "every action at least 0.05" in r.out
    assert "doubly robust" in r.out and "Registered offers version 1" in r.out

    r = cli("report", "offers", "-o", tmp_path / "report.html", "--home", home)
    assert r.code == 2 and "learned a decision policy" in r.err

    r = cli("evaluate-policy", "offers", log, "--bootstrap", "200", "--json", "--home", home)
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["model"] == "offers:1" and report["n"] == 120
    dr = report["estimates"]["dr"]
    assert dr["low"] <= dr["value"] <= dr["high"]

    # rewards for decisions: one logged decision, then a file of rewards for it
    from modelloop.config import Settings
    from modelloop.store import Store

    with Store.from_settings(Settings(home=home)) as store:
        now = datetime.now(UTC)
        store.log_predictions(
            [{"request_id": f"ev{i}", "model_name": "offers", "model_version": 1,
              "created_at": now - timedelta(hours=3 * i), "inputs": {"rule": "a", "x": 0.0},
              "prediction": "a", "probabilities": {"a": 0.85, "b": 0.1, "c": 0.05}}
             for i in range(2)]
        )  # fmt: skip
    rewards = tmp_path / "rewards.csv"
    rewards.write_text("event_id,reward\nev0,1\nnope,1\n")
    r = cli("feedback", "offers", rewards, "--home", home)
    assert r.code == 0, r.err
    assert "Recorded 1 reward(s) of 2" in r.out and "1 unknown event id(s): nope" in r.err
    late = tmp_path / "late.csv"
    late.write_text("event_id,reward\nev1,1\n")  # decided 3 hours ago; the wait is 1 hour
    r = cli("feedback", "offers", late, "--home", home)
    assert r.code == 2
    assert "No reward from" in r.err and "1 past the reward wait, e.g. ev1" in r.err
    r = cli("feedback", "offers", rewards.with_name("none.csv"), "--home", home)
    assert r.code == 2


def test_evaluate_policy_without_propensities_says_why(cli, tmp_path):
    log = _log(tmp_path / "log.csv")
    home = tmp_path / "home"
    assert cli(
        "train", log, *BANDIT, "--propensity", "p", "--baseline-action", "rule", "--name", "offers",
        "--home", home,
    ).code == 0  # fmt: skip
    bare = _log(tmp_path / "bare.csv").parent / "bare.csv"
    pd.read_csv(bare).drop(columns=["p"]).to_csv(bare, index=False)
    r = cli("evaluate-policy", "offers", bare, "--home", home)
    assert r.code == 2
    assert "has no propensity column 'p'" in r.err and "evaluating on it is not" in r.err
