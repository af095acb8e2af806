"""train --task bandit and evaluate-policy: checks on the log, learning, off-policy values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelloop.exceptions import (
    ColumnNotFoundError,
    ConfigurationError,
    InvalidInputError,
    SchemaMismatchError,
    TargetError,
)
from modelloop.store import Store
from modelloop.workflows import evaluate_policy, read_bandit_log, train_bandit

BEST = {"new": "a", "old": "c"}


def offer_log(n: int = 600, *, seed: int = 0, uniform: bool = True) -> pd.DataFrame:
    """Contexts (segment, x), an offer from a known logging policy, a click, its propensity.

    The click rate is 0.6 for the segment's best offer and 0.1 for the others. ``uniform``
    logs each offer with probability 1/3; otherwise 'b' gets 0.6 and the others 0.2.
    """
    rng = np.random.default_rng(seed)
    segment = rng.choice(["new", "old"], n)
    p = np.array([1 / 3] * 3) if uniform else np.array([0.2, 0.6, 0.2])
    offers = rng.choice(["a", "b", "c"], n, p=p)
    best = np.array([BEST[s] for s in segment])
    click = (rng.random(n) < np.where(offers == best, 0.6, 0.1)).astype(int)
    propensity = p[np.searchsorted(["a", "b", "c"], offers)]
    return pd.DataFrame(
        {"segment": segment, "x": rng.normal(size=n), "offer": offers, "click": click,
         "p": propensity},
    )  # fmt: skip


def true_value(proba: np.ndarray, segments: list[str]) -> float:
    """The exact expected click rate of a policy's action probabilities (columns a, b, c)."""
    rates = np.array([[0.6 if o == BEST[s] else 0.1 for o in "abc"] for s in segments])
    return float(np.mean((proba * rates).sum(axis=1)))


COLUMNS = {"action": "offer", "reward": "click", "propensity": "p"}


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (
            lambda f: f.assign(p=0.0),
            InvalidInputError,
            r"Column 'p' of .* \(0, 1\]. Got 0.0 in row 0",
        ),
        (lambda f: f.assign(p=np.r_[1.2, f.p[1:]]), InvalidInputError, r"Got 1.2 in row 0"),
        (
            lambda f: f.assign(click=["yes"] * len(f)),
            InvalidInputError,
            r"Column 'click' of .* must hold numbers \(the reward\). Got 'yes' in row 1",
        ),
        (lambda f: f.assign(offer="a"), InvalidInputError, r"holds a single action \('a'\)"),
        (lambda f: f.assign(click=0), TargetError, r"Every reward in column 'click' .* is 0"),
        (lambda f: f.drop(columns=["offer"]), ColumnNotFoundError, r"Column 'offer' is not in"),
        (lambda f: f[["offer", "click", "p"]], InvalidInputError, r"no context column"),
    ],
)
def test_train_bandit_refuses_bad_logs_before_any_work(change, error, match, settings):
    with pytest.raises(error, match=match):
        train_bandit(change(offer_log(40)), **COLUMNS, name="offers", settings=settings)
    with Store.from_settings(settings) as store:
        assert store.list_models() == [] and store.list_runs() == []


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"learner": "dr", "propensity": None}, "Learner 'dr' .* needs the logging policy's"),
        ({"learner": "greedy"}, "learner must be one of reward, dr, ips, rule"),
        ({"learner": "rule"}, "--baseline-action COL"),
        ({"epsilon": 2.0}, r"epsilon must be a number in \[0, 1\]"),
        ({"reward_wait": "soon"}, "reward_wait must be a positive duration"),
        ({"learner": "dr", "time_budget": 5}, "too small for learner 'dr'"),
    ],
)
def test_train_bandit_refuses_bad_options(options, match, settings):
    with pytest.raises(ConfigurationError, match=match):
        train_bandit(offer_log(40), **{**COLUMNS, **options}, settings=settings)


def test_read_bandit_log_joins_action_features_and_checks_them():
    log = offer_log(30)
    table = pd.DataFrame({"offer": ["a", "b", "c", "d"], "price": [1.0, 2.5, 4.0, 9.0]})
    read = read_bandit_log(log, action="offer", reward="click", propensity="p", actions=table)
    assert read.actions == ["a", "b", "c", "d"] or set(read.actions) == {"a", "b", "c", "d"}
    assert read.action_features["b"] == {"price": 2.5}
    assert read.context == ["segment", "x"]
    assert not [n for n in read.notes if "'p'" in n]  # a constant propensity is no context
    with pytest.raises(InvalidInputError, match=r"1 logged action\(s\) have no row .*: c"):
        read_bandit_log(log, action="offer", reward="click", actions=table[table.offer != "c"])
    with pytest.raises(InvalidInputError, match="names action a more than once"):
        read_bandit_log(log, action="offer", reward="click", actions=pd.concat([table, table]))
    clash = table.assign(segment=["p", "q", "r", "s"])
    with pytest.raises(InvalidInputError, match="has column\\(s\\) 'segment'"):
        read_bandit_log(log, action="offer", reward="click", actions=clash)


def test_a_log_without_propensities_trains_but_is_not_evaluated(settings):
    frame = offer_log(60).drop(columns=["p"])
    result = train_bandit(
        frame, action="offer", reward="click", learner="rule", baseline_action="segment",
        name="rules", settings=settings,
    )  # fmt: skip
    assert result.evaluation is None
    assert "value_dr" not in result.metrics and "logging_value" in result.metrics
    assert any("cannot be estimated off-policy" in note for note in result.notes)
    with pytest.raises(InvalidInputError, match="without propensities, and none was named"):
        evaluate_policy("rules", frame, settings=settings)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A reward-model policy learned from a uniform log of 800 decisions, registered."""
    from modelloop.config import Settings

    settings = Settings(home=tmp_path_factory.mktemp("bandit") / "home")
    result = train_bandit(
        offer_log(800), **COLUMNS, name="offers", aliases=["production"],
        models=["decision_tree"], max_trials=2, cv=3, time_budget=60, epsilon=0.1,
        n_bootstrap=300, settings=settings,
    )  # fmt: skip
    return {"settings": settings, "result": result}


@pytest.mark.slow
def test_train_bandit_learns_the_best_offer_and_estimates_its_value(trained):
    result = trained["result"]
    policy = result.model
    contexts = pd.DataFrame({"segment": ["new", "old"], "x": [0.0, 0.0]})
    assert policy.predict(contexts).tolist() == ["a", "c"]
    truth = true_value(policy.action_probabilities(contexts), ["new", "old"])
    assert truth == pytest.approx(0.6 * 0.9333 + 0.1 * 0.0667, abs=0.01)
    metrics = result.metrics
    assert metrics["value_dr_low"] <= truth <= metrics["value_dr_high"]
    assert metrics["value_dr"] > metrics["logging_value"]  # 0.57 against about 0.27
    assert result.version == 1 and result.task == "bandit"
    with Store.from_settings(trained["settings"]) as store:
        record = store.resolve("offers@production")
        assert record.task == "bandit" and record.metrics["test"]["value_dr"] == metrics["value_dr"]
        reference = store.reference_data(record)
        assert {"offer", "click", "p", "segment", "x"} <= set(reference.columns)
        run = store.get_run(record.run_id)
        assert run.params["learner"] == "reward" and run.params["propensity"] == "p"


@pytest.mark.slow
def test_evaluate_policy_on_a_log_of_another_logging_policy(trained):
    log = offer_log(3000, seed=5, uniform=False)
    result = evaluate_policy("offers", log, settings=trained["settings"], n_bootstrap=300)
    policy = trained["result"].model
    truth = true_value(policy.action_probabilities(log[["segment", "x"]]), log.segment.tolist())
    report = result.report
    for name in ("ips", "snips", "dr"):
        assert report[name].covers(truth), (name, report[name], truth)
    assert report.logging_value == pytest.approx(log.click.mean())
    assert 0 < report.ess < report.n
    as_dict = result.to_dict()
    assert as_dict["model"] == "offers:1" and set(as_dict["estimates"]) == {
        "ips",
        "snips",
        "dr",
        "dm",
    }


@pytest.mark.slow
def test_evaluate_policy_bad_logs(trained):
    settings = trained["settings"]
    log = offer_log(50)
    with pytest.raises(InvalidInputError, match="has no propensity column 'p'"):
        evaluate_policy("offers", log.drop(columns=["p"]), settings=settings)
    with pytest.raises(SchemaMismatchError, match="lacks context column\\(s\\) 'x'"):
        evaluate_policy("offers", log.drop(columns=["x"]), settings=settings)
    with pytest.raises(InvalidInputError, match=r"\(0, 1\]. Got 0.0"):
        evaluate_policy("offers", log.assign(p=0.0), settings=settings)


@pytest.mark.slow
def test_predict_file_of_a_policy_gives_its_best_action_and_chances(trained):
    from modelloop.workflows import predict

    out = predict(
        "offers", pd.DataFrame({"segment": ["new"], "x": [1.0]}), settings=trained["settings"]
    )
    assert out["action"].tolist() == ["a"]
    assert out[["proba_a", "proba_b", "proba_c"]].to_numpy().sum() == pytest.approx(1.0)
