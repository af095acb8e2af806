"""Off-policy estimators against closed-form cases."""

from __future__ import annotations

import numpy as np
import pytest

from modelloop.evaluation import (
    action_text,
    check_propensities,
    direct_method,
    doubly_robust,
    effective_sample_size,
    ips,
    off_policy_report,
    snips,
)
from modelloop.exceptions import InvalidInputError


def test_ips_and_snips_hand_computed():
    rewards = np.array([1.0, 0.0, 1.0])
    propensity = np.array([0.5, 0.25, 0.5])
    target = np.array([1.0, 0.5, 0.0])  # weights 2, 2, 0
    w = target / propensity
    assert ips(rewards, w) == pytest.approx(2 / 3)
    assert snips(rewards, w) == pytest.approx(2 / 4)


def test_snips_equals_ips_when_weights_average_one():
    rewards = np.array([0.3, 0.9, 0.1, 0.5])
    w = np.array([0.5, 1.5, 1.0, 1.0])
    assert snips(rewards, w) == pytest.approx(ips(rewards, w))


def test_estimators_of_the_logging_policy_itself_are_its_mean_reward():
    rng = np.random.default_rng(0)
    rewards = rng.random(50)
    w = np.ones(50)  # target == logging policy
    assert ips(rewards, w) == pytest.approx(rewards.mean())
    assert snips(rewards, w) == pytest.approx(rewards.mean())


def test_doubly_robust_with_an_exact_reward_model_is_the_direct_method():
    # deterministic rewards and q equal to them: every residual is 0, DR == DM == truth
    rewards = np.array([1.0, 0.0, 1.0, 1.0])
    q_logged = rewards.copy()
    q_policy = np.array([0.2, 0.7, 1.0, 0.0])
    w = np.array([3.0, 0.0, 1.5, 0.25])
    assert doubly_robust(rewards, w, q_logged, q_policy) == pytest.approx(q_policy.mean())
    assert direct_method(q_policy) == pytest.approx(0.475)


def test_doubly_robust_with_a_zero_reward_model_is_ips():
    rewards = np.array([1.0, 0.0, 2.0])
    w = np.array([2.0, 1.0, 0.5])
    zeros = np.zeros(3)
    assert doubly_robust(rewards, w, zeros, zeros) == pytest.approx(ips(rewards, w))


def test_effective_sample_size_closed_forms():
    assert effective_sample_size([1, 1, 1, 1]) == 4.0
    assert effective_sample_size([0, 0, 5, 0]) == 1.0
    assert effective_sample_size([1, 3]) == pytest.approx(16 / 10)
    assert effective_sample_size([0, 0]) == 0.0


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([0.5, 0.0], r"Got 0\.0 in row 1"),
        ([1.5], r"Got 1\.5 in row 0"),
        ([0.2, "high"], r"Got 'high' in row 1"),
        ([0.2, float("nan")], r"Got a missing value in row 1"),
        ([-0.1], r"Got -0\.1 in row 0"),
    ],
)
def test_check_propensities_names_the_first_bad_row(values, match):
    with pytest.raises(InvalidInputError, match=match):
        check_propensities(values, column="p", source="log.csv")


def test_report_intervals_cover_the_truth_of_a_simulated_policy():
    # 3 actions, uniform logging, a target policy with known value: the 95% intervals of
    # IPS and DR cover it in most of 40 simulated logs (a fixed seed: deterministic)
    rng = np.random.default_rng(7)
    means = np.array([0.2, 0.5, 0.8])
    target_dist = np.array([0.1, 0.2, 0.7])
    truth = float(target_dist @ means)
    covered = {"ips": 0, "snips": 0, "dr": 0}
    for rep in range(40):
        n = 400
        actions = rng.integers(0, 3, n)
        rewards = (rng.random(n) < means[actions]).astype(float)
        q = np.tile(means + 0.1, (n, 1))  # a biased reward model: DR must still cover
        report = off_policy_report(
            rewards,
            np.full(n, 1 / 3),
            target_dist[actions],
            q_logged=q[np.arange(n), actions],
            q_policy=q @ target_dist,
            n_bootstrap=200,
            seed=rep,
        )
        for name in covered:
            covered[name] += report[name].covers(truth)
        assert report["dm"].value == pytest.approx(truth + 0.1)  # DM inherits the bias
    assert all(c >= 34 for c in covered.values()), covered


def test_report_warns_about_near_zero_propensities_and_unsupported_actions():
    rewards = np.array([1.0, 0.0, 0.0, 1.0])
    propensity = np.array([0.0005, 0.5, 0.5, 0.5])
    proba = np.array([[0.5, 0.0, 0.5], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.0, 0.5]])
    logged = ["a", "a", "b", "b"]  # action 'c' never logged; b is never taken
    target = np.array([0.5, 1.0, 0.0, 0.0])
    report = off_policy_report(
        rewards,
        propensity,
        target,
        policy_proba=proba,
        actions=["a", "b", "c"],
        logged_actions=logged,
        n_bootstrap=50,
    )
    text = " ".join(report.warnings)
    assert "propensity below 0.001" in text
    assert "1 of 4 rows" in text
    assert "never tried (c)" in text
    assert report.unsupported_share == pytest.approx(0.25)
    assert report.max_weight == pytest.approx(1000.0)
    assert report.to_dict()["unsupported_actions"] == ["c"]


def test_report_of_a_policy_that_never_agrees_with_the_log():
    report = off_policy_report([1.0, 1.0], [0.5, 0.5], [0.0, 0.0], n_bootstrap=20)
    assert report["ips"].value == 0.0
    assert np.isnan(report["snips"].value)
    assert any("never takes a logged action" in w for w in report.warnings)


def test_report_refuses_mismatched_inputs():
    with pytest.raises(InvalidInputError, match="one value per row"):
        off_policy_report([1.0, 0.0], [0.5], [1.0, 0.0])
    with pytest.raises(InvalidInputError, match="both q_logged and q_policy"):
        off_policy_report([1.0], [0.5], [1.0], q_logged=[0.5])
    with pytest.raises(InvalidInputError, match="at least one logged row"):
        off_policy_report([], [], [])


def test_report_metrics_are_flat_finite_numbers():
    report = off_policy_report(
        [1.0, 0.0, 1.0], [0.5] * 3, [1.0, 0.0, 0.5], q_logged=[0.5] * 3, q_policy=[0.5] * 3,
        n_bootstrap=50,
    )  # fmt: skip
    metrics = report.metrics()
    assert {"value_ips", "value_dr_low", "value_dr_high", "ess", "logging_value"} <= set(metrics)
    assert all(np.isfinite(v) for v in metrics.values())
    assert metrics["value_dr_low"] <= metrics["value_dr"] <= metrics["value_dr_high"]


def test_action_text_treats_numbers_and_their_text_alike():
    assert action_text(np.int64(3)) == action_text(3.0) == action_text("3") == "3"
