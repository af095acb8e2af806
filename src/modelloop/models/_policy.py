"""Decision policies: which action to take in a context, and with what probability.

A contextual-bandit policy scores every candidate action for a context and turns the scores
into probabilities by an *exploration* rule, so that the log of its decisions (each with the
probability it was taken with, its *propensity*) can later be learned from and evaluated
off-policy (see ``modelloop.evaluation.off_policy_report``):

* ``epsilon_greedy``: the best-scored action with probability ``1 - epsilon``, and
  ``epsilon`` spread evenly over every candidate (ties for the best share its part);
* ``softmax``: ``exp(score / temperature)``, normalised: close scores get close chances.

``min_propensity`` then mixes in the uniform distribution so that every candidate has at
least that probability: a floor on exploration, which keeps the importance weights of a
later evaluation bounded by ``1 / min_propensity``.

Two policies:

* :class:`RewardPolicy` scores an action by a *reward model*: any scikit-learn estimator
  fitted on rows of context columns, the action column and (optionally) the action's own
  features, predicting the reward. A classifier's score is its expected reward
  (``sum_c c * P(c)``, the click probability for 0/1 rewards). The same class serves a model
  of doubly-robust or inverse-propensity pseudo-rewards (counterfactual learning: the model
  predicts what each action *would* have earned).
* :class:`RulePolicy` follows an existing rule: the action named in one context column,
  with exploration around it (a safe start that logs decisions while serving the rule).

Both follow the scikit-learn estimator contract (parameters stored as given, state learned
in ``fit`` ending in ``_``), with ``fit(X, actions, rewards)`` in place of ``fit(X, y)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from modelloop.data import json_value
from modelloop.evaluation import action_text
from modelloop.exceptions import ConfigurationError, InvalidInputError

__all__ = [
    "EXPLORATIONS",
    "RewardPolicy",
    "RulePolicy",
    "action_probabilities",
    "check_exploration",
    "crossed_columns",
    "crossed_row",
    "expected_reward",
    "sample_actions",
]

EXPLORATIONS = ("epsilon_greedy", "softmax")


def check_exploration(
    exploration: str, epsilon: float, temperature: float, min_propensity: float
) -> None:
    """Raise ``ConfigurationError`` naming the first exploration parameter out of range."""
    if exploration not in EXPLORATIONS:
        raise ConfigurationError(
            f"exploration must be one of {', '.join(EXPLORATIONS)}. Got {exploration!r}."
        )
    if not _number(epsilon) or not 0.0 <= epsilon <= 1.0:
        raise ConfigurationError(f"epsilon must be a number in [0, 1]. Got {epsilon!r}.")
    if not _number(temperature) or not temperature > 0:
        raise ConfigurationError(f"temperature must be a number > 0. Got {temperature!r}.")
    if not _number(min_propensity) or not 0.0 <= min_propensity < 1.0:
        raise ConfigurationError(
            f"min_propensity must be a number in [0, 1). Got {min_propensity!r}."
        )


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def action_probabilities(
    scores: Any,
    available: Any = None,
    *,
    exploration: str = "epsilon_greedy",
    epsilon: float = 0.05,
    temperature: float = 0.1,
    min_propensity: float = 0.0,
) -> np.ndarray:
    """Per row, the probability of each action: exploration applied to ``scores``.

    ``scores`` is ``(n, K)``; ``available`` an ``(n, K)`` boolean mask of the candidates of
    each row (default: every action). Unavailable actions get probability 0; each row sums
    to 1 over its candidates. With ``min_propensity`` every candidate gets at least that
    (when a row has more than ``1 / min_propensity`` candidates, they all get an equal share).

    Examples
    --------
    >>> action_probabilities([[0.1, 0.5, 0.2]], epsilon=0.3).round(3).tolist()
    [[0.1, 0.8, 0.1]]
    >>> action_probabilities([[0.1, 0.5, 0.2]], [[True, False, True]], epsilon=0.0).tolist()
    [[0.0, 0.0, 1.0]]
    """
    s = np.asarray(scores, dtype=float)
    if s.ndim != 2:
        raise InvalidInputError(f"scores must be an (n, K) matrix. Got shape {s.shape}.")
    mask = np.ones(s.shape, dtype=bool) if available is None else np.asarray(available, bool)
    if mask.shape != s.shape:
        raise InvalidInputError(
            f"available must have the shape of scores {s.shape}. Got {mask.shape}."
        )
    if not mask.any(axis=1).all():
        row = int(np.flatnonzero(~mask.any(axis=1))[0])
        raise InvalidInputError(f"Row {row} has no candidate action to choose from.")
    s = np.where(np.isfinite(s), s, np.nan)
    filled = np.where(mask & ~np.isnan(s), s, -np.inf)
    # a row whose candidates are all unscored: treat them as tied
    filled = np.where(np.isneginf(filled).all(axis=1, keepdims=True) & mask, 0.0, filled)
    k = mask.sum(axis=1, keepdims=True).astype(float)
    uniform = mask / k
    if exploration == "softmax":
        z = (filled - filled.max(axis=1, keepdims=True)) / temperature
        e = np.where(mask, np.exp(z), 0.0)
        proba = e / e.sum(axis=1, keepdims=True)
    else:
        best = mask & (filled == filled.max(axis=1, keepdims=True))
        greedy = best / best.sum(axis=1, keepdims=True)
        proba = (1.0 - epsilon) * greedy + epsilon * uniform
    if min_propensity > 0:
        # mix with uniform just enough that each candidate reaches the floor
        low = np.where(mask, proba, np.inf).min(axis=1, keepdims=True)
        floor = np.minimum(min_propensity, 1.0 / k)
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where(low < floor, (floor - low) / (1.0 / k - low), 0.0)
        lam = np.clip(np.nan_to_num(lam, nan=1.0), 0.0, 1.0)
        proba = (1.0 - lam) * proba + lam * uniform
    return proba


def expected_reward(model: Any, X: Any) -> np.ndarray:
    """A reward model's prediction: ``predict`` of a regressor, ``sum_c c * P(c)`` of a
    classifier whose classes are numbers (the click probability for 0/1 rewards)."""
    proba_fn = getattr(model, "predict_proba", None)
    classes = getattr(model, "classes_", None)
    if proba_fn is not None and classes is not None:
        values = np.asarray(classes, dtype=float)
        return np.asarray(proba_fn(X), dtype=float) @ values
    return np.asarray(model.predict(X), dtype=float).ravel()


def crossed_columns(
    frame: pd.DataFrame,
    action_column: str,
    actions: Sequence[Any],
    interactions: Mapping[str, str],
) -> pd.DataFrame:
    """``frame`` (context, action, ...) with each interaction column crossed with the action.

    A ``numeric`` column ``c`` gives one column per action, ``c*ACTION``: its value in the
    rows of that action, 0 elsewhere (a linear reward model then has one slope per action);
    a ``categorical`` column gives ``c*action``: ``'value|ACTION'``. Without such crosses a
    reward model that is additive in context and action ranks the actions alike in every
    context (the quadratic interactions of Vowpal Wabbit's ``-q``, as columns).

    Examples
    --------
    >>> f = pd.DataFrame({"x": [2.0, 3.0], "a": ["l", "r"]})
    >>> crossed_columns(f, "a", ["l", "r"], {"x": "numeric"}).to_dict("list")
    {'x': [2.0, 3.0], 'a': ['l', 'r'], 'x*l': [2.0, 0.0], 'x*r': [0.0, 3.0]}
    """
    if not interactions:
        return frame
    chosen = frame[action_column].map(action_text)
    new: dict[str, Any] = {}
    for column, kind in interactions.items():
        values = frame[column]
        if kind == "numeric":
            numbers = pd.to_numeric(values, errors="coerce")
            for action in actions:
                text = action_text(action)
                new[f"{column}*{text}"] = numbers.where(chosen == text, 0.0)
        else:
            text_values = values.astype(object).where(values.notna(), None)
            new[f"{column}*action"] = [
                None if v is None else f"{v}|{a}" for v, a in zip(text_values, chosen, strict=True)
            ]
    return pd.concat([frame, pd.DataFrame(new, index=frame.index)], axis=1)


def crossed_row(
    row: Mapping[str, Any], action: Any, actions: Sequence[Any], interactions: Mapping[str, str]
) -> dict[str, Any]:
    """One row's crosses, as :func:`crossed_columns` makes them (for the server's rows)."""
    out = dict(row)
    chosen = action_text(action)
    for column, kind in interactions.items():
        value = row.get(column)
        if kind == "numeric":
            for other in actions:
                text = action_text(other)
                out[f"{column}*{text}"] = (
                    (None if value is None else float(value)) if text == chosen else 0.0
                )
        else:
            out[f"{column}*action"] = None if value is None else f"{value}|{chosen}"
    return out


class _Policy(BaseEstimator):
    """What every policy shares: its actions, candidates, exploration and sampling."""

    exploration: str
    epsilon: float
    temperature: float
    min_propensity: float

    def _check_params(self) -> None:
        check_exploration(self.exploration, self.epsilon, self.temperature, self.min_propensity)

    def _set_actions(self, given: Sequence[Any] | None, logged: Any) -> None:
        values = list(given) if given is not None else list(pd.unique(pd.Series(logged).dropna()))
        texts = [action_text(a) for a in values]
        if len(set(texts)) != len(texts):
            raise InvalidInputError("The actions of a policy must be distinct.")
        if len(values) < 2:
            shown = ", ".join(map(str, values)) or "none"
            raise InvalidInputError(
                f"A policy chooses between at least 2 actions. Got {len(values)} ({shown})."
            )
        order = sorted(range(len(values)), key=lambda i: _sort_key(values[i]))
        self.actions_ = [json_value(values[i], unknown="keep") for i in order]
        self.action_index_ = {action_text(a): i for i, a in enumerate(self.actions_)}
        self.classes_ = np.asarray(self.actions_, dtype=object)

    def index_of(self, action: Any) -> int:
        """The column of ``action`` in this policy's matrices; ``InvalidInputError`` if unknown."""
        check_is_fitted(self, "actions_")
        j = self.action_index_.get(action_text(action))
        if j is None:
            shown = ", ".join(map(str, self.actions_[:20]))
            more = "" if len(self.actions_) <= 20 else f", ... ({len(self.actions_)} in all)"
            raise InvalidInputError(
                f"Action {action!r} is not one this policy knows. Its actions: {shown}{more}."
            )
        return j

    def available(self, n: int, candidates: Sequence[Sequence[Any] | None] | None) -> np.ndarray:
        """The ``(n, K)`` mask of each row's candidate actions (``None``: every action)."""
        check_is_fitted(self, "actions_")
        mask = np.ones((n, len(self.actions_)), dtype=bool)
        if candidates is None:
            return mask
        if len(candidates) != n:
            raise InvalidInputError(
                f"candidates must give one list of actions per row: {n} rows, "
                f"{len(candidates)} lists."
            )
        for i, row in enumerate(candidates):
            if row is None:
                continue
            if not isinstance(row, Sequence) or isinstance(row, str) or not row:
                raise InvalidInputError(
                    f"The candidate actions of row {i} must be a non-empty list. Got {row!r:.60}."
                )
            mask[i] = False
            for action in row:
                mask[i, self.index_of(action)] = True
        return mask

    def scores(self, X: Any, candidates: Any = None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def probabilities_from_scores(self, scores: Any, available: Any = None) -> np.ndarray:
        """This policy's exploration rule applied to ``scores``."""
        return action_probabilities(
            scores,
            available,
            exploration=self.exploration,
            epsilon=self.epsilon,
            temperature=self.temperature,
            min_propensity=self.min_propensity,
        )

    def action_probabilities(self, X: Any, candidates: Any = None) -> np.ndarray:
        """``(n, K)``: the probability of each of ``actions_`` in each row's context."""
        mask = self.available(len(X), candidates)
        return self.probabilities_from_scores(self.scores(X), mask)

    def predict(self, X: Any) -> np.ndarray:
        """The best-scored action of each row (what the policy takes when it exploits)."""
        s = np.nan_to_num(self.scores(X), nan=-np.inf)
        return self.classes_[np.argmax(s, axis=1)]

    def decide(
        self, X: Any, candidates: Any = None, random_state: Any = None
    ) -> tuple[list[Any], np.ndarray, np.ndarray]:
        """Sample one action per row: ``(actions, their propensities, all probabilities)``."""
        proba = self.action_probabilities(X, candidates)
        chosen = sample_actions(proba, random_state)
        rows = np.arange(len(chosen))
        return [self.actions_[j] for j in chosen], proba[rows, chosen], proba


def sample_actions(proba: np.ndarray, random_state: Any = None) -> np.ndarray:
    """One column index per row, drawn with the row's probabilities."""
    rng = np.random.default_rng(random_state)
    cum = np.cumsum(proba, axis=1)
    u = rng.random((proba.shape[0], 1)) * cum[:, -1:]
    return np.minimum((cum <= u).sum(axis=1), proba.shape[1] - 1)


class RewardPolicy(_Policy):
    """Take the action whose predicted reward is highest, exploring around it.

    Parameters
    ----------
    reward_model : estimator
        Fitted in ``fit`` (a clone of it) on the context columns, ``action_column`` and the
        action's features; predicts the reward (a classifier: its expected reward). Wrap an
        already fitted model in ``sklearn.frozen.FrozenEstimator`` to keep it as it is.
    action_column : str
        The name the action has among the reward model's input columns.
    actions : list, optional
        Every action the policy may take (default: those in the training log).
    action_features : dict, optional
        ``{action: {feature: value}}``: columns joined to each (context, action) row.
    interactions : dict, optional
        ``{context column: 'numeric' | 'categorical'}``: columns crossed with the action
        (see :func:`crossed_columns`) in every row of the reward model.
    exploration, epsilon, temperature, min_propensity
        See :func:`action_probabilities`.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> X = pd.DataFrame({"x": [0.0, 0.0, 1.0, 1.0]})
    >>> policy = RewardPolicy(DecisionTreeRegressor(), action_column="a", epsilon=0.0)
    >>> policy = policy.fit(X, [0, 1, 0, 1], [1.0, 0.0, 0.0, 1.0])
    >>> policy.predict(pd.DataFrame({"x": [0.0, 1.0]})).tolist()
    [0, 1]
    """

    def __init__(
        self,
        reward_model: Any = None,
        *,
        action_column: str = "action",
        actions: Sequence[Any] | None = None,
        action_features: Mapping[Any, Mapping[str, Any]] | None = None,
        interactions: Mapping[str, str] | None = None,
        exploration: str = "epsilon_greedy",
        epsilon: float = 0.05,
        temperature: float = 0.1,
        min_propensity: float = 0.0,
    ) -> None:
        self.reward_model = reward_model
        self.action_column = action_column
        self.actions = actions
        self.action_features = action_features
        self.interactions = interactions
        self.exploration = exploration
        self.epsilon = epsilon
        self.temperature = temperature
        self.min_propensity = min_propensity

    def fit(self, X: Any, actions: Any, rewards: Any = None) -> RewardPolicy:
        """Learn the actions and fit the reward model on ``(context, action) -> reward``."""
        self._check_params()
        if self.reward_model is None:
            raise ConfigurationError("RewardPolicy needs a reward_model. Got None.")
        X = _frame(X)
        if len(actions) != len(X):
            raise InvalidInputError(
                f"actions must have one value per row of X: {len(X)} rows, {len(actions)} actions."
            )
        if self.action_column in X.columns:
            raise InvalidInputError(
                f"The context already has a column '{self.action_column}', the name of the "
                "action: rename one of them."
            )
        self._set_actions(self.actions, actions)
        self.action_table_ = _action_table(self.action_features, self.actions_)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        model = clone(self.reward_model)
        if rewards is not None:
            model.fit(self.joined(X, list(actions)), np.asarray(rewards))
        elif not isinstance(model, FrozenEstimator):
            raise InvalidInputError(
                "RewardPolicy.fit needs the rewards, unless its reward_model is already "
                "fitted (wrapped in sklearn.frozen.FrozenEstimator)."
            )
        self.reward_model_ = model
        return self

    def joined(self, X: Any, actions: Sequence[Any]) -> pd.DataFrame:
        """Rows of the reward model's input: each context with its action (and features)."""
        X = _frame(X)
        frame = X.reset_index(drop=True).copy()
        frame[self.action_column] = [json_value(a, unknown="keep") for a in actions]
        table = getattr(self, "action_table_", None)
        if table:
            texts = [action_text(a) for a in actions]
            names = next(iter(table.values())).keys()
            for name in names:
                frame[name] = [table.get(t, {}).get(name) for t in texts]
        if self.interactions:
            frame = crossed_columns(frame, self.action_column, self.actions_, self.interactions)
        return frame

    def row(self, context: Mapping[str, Any], action: Any) -> dict[str, Any]:
        """One row of the reward model's input: a context with an action (as text), its
        features and its crosses (what :meth:`joined` makes, for one row)."""
        row = {**context, self.action_column: action_text(action)}
        table = getattr(self, "action_table_", None)
        if table:
            row.update(table[action_text(action)])
        if self.interactions:
            row = crossed_row(row, action, self.actions_, self.interactions)
        return row

    def expanded(self, X: Any) -> pd.DataFrame:
        """Every (row, action) pair, row-major: ``len(X) * K`` rows for the reward model."""
        check_is_fitted(self, "actions_")
        X = _frame(X).reset_index(drop=True)
        k = len(self.actions_)
        repeated = X.loc[X.index.repeat(k)].reset_index(drop=True)
        return self.joined(repeated, self.actions_ * len(X))

    def scores(self, X: Any, candidates: Any = None) -> np.ndarray:
        """``(n, K)``: the predicted reward of each action in each row's context."""
        check_is_fitted(self, "reward_model_")
        n = len(X)
        if n == 0:
            return np.zeros((0, len(self.actions_)))
        values = expected_reward(self.reward_model_, self.expanded(X))
        return values.reshape(n, len(self.actions_))


class RulePolicy(_Policy):
    """Follow an existing rule (the action named in a context column), exploring around it.

    Parameters
    ----------
    rule_column : str
        The context column that names the rule's action for each row.
    actions : list, optional
        Every action (default: those in the training log and the rule column).
    exploration, epsilon, temperature, min_propensity
        See :func:`action_probabilities`; with the default ``epsilon_greedy`` the rule's
        action gets ``1 - epsilon`` (plus its share of ``epsilon``).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"rule": ["a", "b"]})
    >>> policy = RulePolicy("rule", epsilon=0.2).fit(X, ["a", "b"])
    >>> policy.action_probabilities(X).round(6).tolist()
    [[0.9, 0.1], [0.1, 0.9]]
    """

    def __init__(
        self,
        rule_column: str = "rule",
        *,
        actions: Sequence[Any] | None = None,
        exploration: str = "epsilon_greedy",
        epsilon: float = 0.1,
        temperature: float = 0.1,
        min_propensity: float = 0.0,
    ) -> None:
        self.rule_column = rule_column
        self.actions = actions
        self.exploration = exploration
        self.epsilon = epsilon
        self.temperature = temperature
        self.min_propensity = min_propensity

    def fit(self, X: Any, actions: Any = None, rewards: Any = None) -> RulePolicy:
        """Learn the action set (logged actions and the rule's); nothing else to learn."""
        self._check_params()
        X = _frame(X)
        if self.rule_column not in X.columns:
            raise InvalidInputError(
                f"The rule column '{self.rule_column}' is not among the context columns "
                f"({', '.join(map(str, X.columns[:20]))})."
            )
        logged = [] if actions is None else list(actions)
        seen = logged + X[self.rule_column].dropna().tolist()
        self._set_actions(self.actions, seen)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def scores(self, X: Any, candidates: Any = None) -> np.ndarray:
        """1 for the rule's action in each row, 0 for the others."""
        check_is_fitted(self, "actions_")
        X = _frame(X)
        out = np.zeros((len(X), len(self.actions_)))
        if self.rule_column not in X.columns:
            raise InvalidInputError(
                f"The context lacks the rule column '{self.rule_column}' that names the "
                "existing rule's action."
            )
        for i, value in enumerate(X[self.rule_column].tolist()):
            j = self.action_index_.get(action_text(value)) if value is not None else None
            if j is not None:
                out[i, j] = 1.0
        return out


def _action_table(
    features: Mapping[Any, Mapping[str, Any]] | None, actions: list[Any]
) -> dict[str, dict[str, Any]]:
    """``{action text: {feature: value}}`` for every action, checked."""
    if not features:
        return {}
    table = {action_text(k): dict(v) for k, v in features.items()}
    missing = [a for a in actions if action_text(a) not in table]
    if missing:
        shown = ", ".join(map(str, missing[:10]))
        raise InvalidInputError(
            f"action_features has no row for {len(missing)} action(s): {shown}. Every action "
            "needs its features."
        )
    names = {tuple(v) for v in table.values()}
    if len(names) != 1:
        raise InvalidInputError("Every action in action_features must have the same features.")
    return {action_text(a): table[action_text(a)] for a in actions}


def _frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, Sequence) and all(isinstance(r, Mapping) for r in X):
        return pd.DataFrame.from_records(list(X))
    raise InvalidInputError(
        f"A policy takes its contexts as a DataFrame (or a list of records). Got {type(X).__name__}."
    )


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))
