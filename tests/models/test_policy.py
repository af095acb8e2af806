"""Decision policies: exploration, scoring, candidates, sampling, the estimator contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.tree import DecisionTreeRegressor

from modelloop.exceptions import ConfigurationError, InvalidInputError
from modelloop.models import (
    RewardPolicy,
    RulePolicy,
    action_probabilities,
    check_exploration,
    sample_actions,
)


def test_epsilon_greedy_gives_the_best_action_one_minus_epsilon_plus_its_share():
    p = action_probabilities([[0.1, 0.5, 0.2, 0.0]], epsilon=0.2)
    np.testing.assert_allclose(p, [[0.05, 0.85, 0.05, 0.05]])


def test_epsilon_greedy_splits_ties_and_skips_unavailable_actions():
    p = action_probabilities([[0.9, 0.9, 0.1]], [[True, True, True]], epsilon=0.0)
    np.testing.assert_allclose(p, [[0.5, 0.5, 0.0]])
    p = action_probabilities([[0.9, 0.2, 0.1]], [[False, True, True]], epsilon=0.0)
    np.testing.assert_allclose(p, [[0.0, 1.0, 0.0]])


def test_softmax_follows_the_scores_and_the_temperature():
    scores = np.array([[0.0, np.log(3.0)]])
    np.testing.assert_allclose(
        action_probabilities(scores, exploration="softmax", temperature=1.0), [[0.25, 0.75]]
    )
    cold = action_probabilities(scores, exploration="softmax", temperature=0.01)
    assert cold[0, 1] > 0.999


def test_min_propensity_floor_holds_for_every_candidate_and_rows_sum_to_one():
    rng = np.random.default_rng(0)
    scores = rng.random((50, 6))
    mask = rng.random((50, 6)) < 0.7
    mask[:, 0] = True
    for exploration in ("epsilon_greedy", "softmax"):
        p = action_probabilities(
            scores, mask, exploration=exploration, epsilon=0.0, temperature=0.01,
            min_propensity=0.1,
        )  # fmt: skip
        assert np.allclose(p.sum(axis=1), 1.0)
        assert (p[mask] >= 0.1 - 1e-12).all()
        assert (p[~mask] == 0).all()


def test_min_propensity_above_one_over_k_gives_uniform():
    p = action_probabilities([[1.0, 0.0, 0.0, 0.0]], epsilon=0.0, min_propensity=0.4)
    np.testing.assert_allclose(p, [[0.25] * 4])


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("boltzmann", 0.1, 1.0, 0.0), "exploration must be one of epsilon_greedy, softmax"),
        (("epsilon_greedy", 1.5, 1.0, 0.0), r"epsilon must be a number in \[0, 1\]. Got 1.5"),
        (("softmax", 0.1, 0.0, 0.0), "temperature must be a number > 0. Got 0.0"),
        (("softmax", 0.1, 1.0, 1.0), r"min_propensity must be a number in \[0, 1\)"),
    ],
)
def test_check_exploration_names_the_bad_parameter(args, match):
    with pytest.raises(ConfigurationError, match=match):
        check_exploration(*args)


def test_a_row_without_candidates_is_refused():
    with pytest.raises(InvalidInputError, match="Row 1 has no candidate action"):
        action_probabilities([[1.0, 0.0], [1.0, 0.0]], [[True, False], [False, False]])


def _crossed_log(n: int = 200) -> tuple[pd.DataFrame, list[int], np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2, n).astype(float)
    actions = rng.integers(0, 2, n).tolist()
    rewards = (x == np.asarray(actions)).astype(float)  # the best action equals x
    return pd.DataFrame({"x": x}), actions, rewards


def test_reward_policy_learns_the_best_action_per_context():
    X, actions, rewards = _crossed_log()
    policy = RewardPolicy(DecisionTreeRegressor(), action_column="a", epsilon=0.1)
    policy = policy.fit(X, actions, rewards)
    assert policy.actions_ == [0, 1]
    new = pd.DataFrame({"x": [0.0, 1.0]})
    assert policy.predict(new).tolist() == [0, 1]
    np.testing.assert_allclose(policy.action_probabilities(new), [[0.95, 0.05], [0.05, 0.95]])
    chosen, propensity, proba = policy.decide(new, candidates=[[1], None], random_state=0)
    assert chosen[0] == 1 and propensity[0] == 1.0
    assert proba.shape == (2, 2)


def test_reward_policy_joins_action_features():
    X, actions, rewards = _crossed_log()
    features = {0: {"price": 10.0}, 1: {"price": 20.0}}
    policy = RewardPolicy(
        DecisionTreeRegressor(), action_column="a", action_features=features, epsilon=0.0
    ).fit(X, actions, rewards)
    joined = policy.expanded(pd.DataFrame({"x": [1.0]}))
    assert joined.to_dict("list") == {"x": [1.0, 1.0], "a": [0, 1], "price": [10.0, 20.0]}
    assert policy.predict(pd.DataFrame({"x": [1.0]})).tolist() == [1]


def test_reward_policy_refuses_unknown_candidates_and_missing_features():
    X, actions, rewards = _crossed_log()
    policy = RewardPolicy(DecisionTreeRegressor(), action_column="a").fit(X, actions, rewards)
    with pytest.raises(InvalidInputError, match="Action 7 is not one this policy knows"):
        policy.action_probabilities(X.head(1), candidates=[[0, 7]])
    with pytest.raises(InvalidInputError, match="no row for 1 action"):
        RewardPolicy(
            DecisionTreeRegressor(), action_column="a", action_features={0: {"p": 1.0}}
        ).fit(X, actions, rewards)


def test_reward_policy_needs_two_actions():
    X, _, rewards = _crossed_log()
    with pytest.raises(InvalidInputError, match=r"at least 2 actions\. Got 1"):
        RewardPolicy(DecisionTreeRegressor(), action_column="a").fit(X, [3] * len(X), rewards)


def test_reward_policy_follows_the_estimator_contract():
    policy = RewardPolicy(DecisionTreeRegressor(max_depth=2), action_column="a", epsilon=0.2)
    copy = clone(policy)
    assert copy.get_params()["epsilon"] == 0.2
    assert copy.get_params()["reward_model__max_depth"] == 2
    with pytest.raises(NotFittedError):
        copy.scores(pd.DataFrame({"x": [0.0]}))
    X, actions, rewards = _crossed_log()
    assert policy.fit(X, actions, rewards) is policy
    assert not hasattr(copy, "reward_model_")


def test_reward_policy_keeps_a_frozen_model_as_fitted():
    X, actions, rewards = _crossed_log()
    joined = X.assign(a=actions)
    model = DecisionTreeRegressor().fit(joined, rewards)
    policy = RewardPolicy(FrozenEstimator(model), action_column="a").fit(X, actions)
    assert policy.predict(pd.DataFrame({"x": [0.0, 1.0]})).tolist() == [0, 1]
    with pytest.raises(InvalidInputError, match="needs the rewards"):
        RewardPolicy(DecisionTreeRegressor(), action_column="a").fit(X, actions)


def test_rule_policy_follows_its_column_with_exploration():
    X = pd.DataFrame({"rule": ["a", "b", "c", None]})
    policy = RulePolicy("rule", epsilon=0.3).fit(X, ["a", "b", "c", "a"])
    p = policy.action_probabilities(X)
    assert p[0].tolist() == pytest.approx([0.8, 0.1, 0.1])
    assert p[3].tolist() == pytest.approx([1 / 3] * 3)  # no rule action: uniform
    with pytest.raises(InvalidInputError, match="rule column 'other'"):
        RulePolicy("other").fit(X, ["a", "b", "c", "a"])


def test_sample_actions_draws_with_the_given_probabilities():
    proba = np.tile([0.2, 0.0, 0.8], (20_000, 1))
    chosen = sample_actions(proba, np.random.default_rng(3))
    counts = np.bincount(chosen, minlength=3) / len(chosen)
    assert counts[1] == 0
    assert counts[2] == pytest.approx(0.8, abs=0.02)


def test_interactions_let_a_linear_reward_model_rank_actions_per_context():
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(2)
    X = pd.DataFrame({"x": rng.normal(size=300)})
    actions = rng.integers(0, 2, 300).tolist()
    rewards = np.where(np.asarray(actions) == 1, X.x, -X.x)  # action 1 pays x, action 0 pays -x
    new = pd.DataFrame({"x": [-2.0, 2.0]})
    plain = RewardPolicy(LinearRegression(), action_column="a").fit(X, actions, rewards)
    assert len(set(plain.predict(new).tolist())) == 1  # additive: one ranking everywhere
    crossed = RewardPolicy(
        LinearRegression(), action_column="a", interactions={"x": "numeric"}
    ).fit(X, actions, rewards)
    assert crossed.predict(new).tolist() == [0, 1]


def test_crossed_row_matches_crossed_columns():
    from modelloop.models import crossed_columns, crossed_row

    frame = pd.DataFrame({"x": [1.5, None], "c": ["u", None], "a": ["l", "r"]})
    kinds = {"x": "numeric", "c": "categorical"}
    table = crossed_columns(frame, "a", ["l", "r"], kinds)
    assert table.columns.tolist() == ["x", "c", "a", "x*l", "x*r", "c*action"]
    for i, record in enumerate(frame.to_dict("records")):
        record = {
            k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()
        }
        row = crossed_row(record, record["a"], ["l", "r"], kinds)
        expected = table.iloc[i].to_dict()
        for key, value in expected.items():
            if isinstance(value, float) and np.isnan(value):
                assert row[key] is None, key
            else:
                assert row[key] == value, key
