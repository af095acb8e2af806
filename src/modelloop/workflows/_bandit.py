"""``train --task bandit``: a decision policy learned from logged feedback, evaluated off-policy.

The log (see ``_bandit_log``) is split into a training part and a held-out part. On the
training part a *learner* builds a policy (``models.RewardPolicy`` or ``models.RulePolicy``):

* ``reward`` (the default, the *direct method*): the tabular search (``tuning.search``)
  learns a reward model from ``(context, action, action features) -> reward`` (a classifier
  for 0/1 rewards, scored by log loss, else a regressor); the policy takes the action with
  the highest predicted reward.
* ``dr`` (*doubly robust policy optimisation*): the reward model above is cross-fitted on
  the training rows (each row predicted by a model that did not see it), and for every row
  and every action the doubly-robust pseudo-reward
  ``q(x, a) + 1[a = a_i] (r_i - q(x, a_i)) / p_i`` is formed; a second search learns a
  regressor of these, and the policy takes the action it ranks best. It corrects the
  reward model where the log says it is wrong (needs propensities).
* ``ips``: the same with the inverse-propensity pseudo-reward ``1[a = a_i] r_i / p_i``
  (no reward model; needs propensities).
* ``rule``: no learning: the existing rule, the action named in a context column
  (``rule_column``), with exploration around it: a safe start that logs decisions.

The policy explores by ``exploration`` (``epsilon_greedy`` or ``softmax``) with a floor
``min_propensity`` on every candidate's probability. On the held-out rows, its value is
estimated off-policy (IPS, SNIPS and doubly robust, with bootstrap intervals, and the
effective sample size): those are the version's test metrics, beside the logging policy's
own value (the held-out mean reward). Registered like any model (task ``bandit``), with its
reference data (the whole log) for monitoring and retraining.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from modelloop.config import Settings
from modelloop.data import Dataset, json_value, load
from modelloop.evaluation import OffPolicyReport, action_text, off_policy_report
from modelloop.exceptions import ConfigurationError, InvalidInputError
from modelloop.features import make_pipeline
from modelloop.models import RewardPolicy, RulePolicy, check_exploration, expected_reward, get_spec
from modelloop.store import Store
from modelloop.tuning import SearchEvent, SearchResult, minimum_budget, search
from modelloop.workflows._bandit_log import BanditLog, read_bandit_log, reward_frame
from modelloop.workflows._train import TrainResult, fail_run, record_dataset, register_and_finish

__all__ = [
    "LEARNERS",
    "BanditTrainResult",
    "bandit_info",
    "parse_duration",
    "policy_evaluation",
    "quick_reward_q",
    "train_bandit",
]

LEARNERS = ("reward", "dr", "ips", "rule")
_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: str | float | int, *, name: str = "reward_wait") -> float:
    """Seconds from ``3600``, ``'90s'``, ``'30m'``, ``'1h'``, ``'7d'`` or ``'2w'``.

    Examples
    --------
    >>> parse_duration("30m"), parse_duration(90)
    (1800.0, 90.0)
    """
    if isinstance(value, bool):
        raise ConfigurationError(f"{name} must be a duration such as 30m or 1h. Got {value!r}.")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        unit = _DURATION_UNITS.get(text[-1:]) if text else None
        try:
            seconds = float(text[:-1]) * unit if unit else float(text)
        except ValueError:
            seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigurationError(
            f"{name} must be a positive duration such as 90s, 30m, 1h or 7d. Got {value!r}."
        )
    return seconds


@dataclass
class BanditTrainResult(TrainResult):
    """What ``train_bandit`` produced: a ``TrainResult`` whose model is a policy.

    ``bandit`` holds what serving and retraining need (the action, reward and propensity
    columns, the actions, the learner and its exploration); ``evaluation`` the off-policy
    estimates on the held-out rows (``None`` for a log without propensities).
    """

    bandit: dict[str, Any] = field(default_factory=dict)
    evaluation: OffPolicyReport | None = None

    def bundle(self) -> dict[str, Any]:
        return {**super().bundle(), "bandit": self.bandit}

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["bandit"] = self.bandit
        out["off_policy"] = None if self.evaluation is None else self.evaluation.to_dict()
        return out


def _check_options(
    learner: str,
    propensity: str | None,
    rule_column: str | None,
    exploration: str,
    epsilon: float,
    temperature: float,
    min_propensity: float,
    test_size: float,
    time_budget: float | None,
    default_reward: float | None,
) -> None:
    if learner not in LEARNERS:
        raise ConfigurationError(f"learner must be one of {', '.join(LEARNERS)}. Got {learner!r}.")
    if learner in ("dr", "ips") and propensity is None:
        raise ConfigurationError(
            f"Learner '{learner}' weighs each logged reward by 1 / propensity and needs the "
            "logging policy's propensities: name their column (--propensity COL), or use "
            "learner 'reward', which learns without them."
        )
    if learner == "rule" and rule_column is None:
        raise ConfigurationError(
            "Learner 'rule' follows an existing rule: name the context column holding the "
            "rule's action (--baseline-action COL)."
        )
    check_exploration(exploration, epsilon, temperature, min_propensity)
    if not 0.0 < test_size < 1.0:
        raise ConfigurationError(f"test_size must be in (0, 1). Got {test_size!r}.")
    if time_budget is not None and not time_budget > 0:
        raise ConfigurationError(f"time_budget must be > 0 seconds. Got {time_budget!r}.")
    if default_reward is not None and not (
        isinstance(default_reward, int | float) and math.isfinite(default_reward)
    ):
        raise ConfigurationError(
            f"default_reward must be a finite number or None. Got {default_reward!r}."
        )


def _split(n: int, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_test = max(1, round(test_size * n)) if n > 1 else 0
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def _reward_dataset(log: BanditLog, rows: np.ndarray, targets: np.ndarray, name: str) -> Dataset:
    """The reward model's training table: contexts, action (a category), action features."""
    frame = reward_frame(log, rows, [log.logged_actions[i] for i in rows])
    target = "__reward__" if "__reward__" not in frame.columns else "__reward_target__"
    frame[target] = targets
    return load(frame, target=target, types=_types(log), name=name)


def _types(log: BanditLog) -> dict[str, str]:
    """Roles of the reward model's columns: contexts, the action (a category), the action's
    features and the crosses (``{c}*{action}`` numbers, ``{c}*action`` categories)."""
    types = {**log.feature_roles, log.action: "categorical"}
    for column, kind in log.interactions.items():
        if kind == "numeric":
            types.update({f"{column}*{action_text(a)}": "numeric" for a in log.actions})
        else:
            types[f"{column}*action"] = "categorical"
    return types


MAX_CROSSED = 300
"""Numeric crosses (numeric contexts x actions) at most; more would swamp a small log."""
MAX_CROSSED_ACTIONS = 20
"""Categorical contexts are crossed with at most this many actions (each cross has a level
per value and action; with more actions they are left to tree models to combine)."""


def _interactions(log: BanditLog) -> tuple[dict[str, str], list[str]]:
    """Which contexts to cross with the action, and a note on what was left uncrossed.

    Numeric contexts while they make at most ``MAX_CROSSED`` columns; categorical ones when
    there are at most ``MAX_CROSSED_ACTIONS`` actions."""
    roles = {c: log.feature_roles.get(c) for c in log.context}
    numeric = [c for c, r in roles.items() if r == "numeric"]
    categorical = [c for c, r in roles.items() if r in ("categorical", "boolean")]
    k = len(log.actions)
    out = {c: "categorical" for c in categorical} if k <= MAX_CROSSED_ACTIONS else {}
    if len(numeric) * k <= MAX_CROSSED:
        out.update({c: "numeric" for c in numeric})
    left = [c for c in [*numeric, *categorical] if c not in out]
    notes = []
    if left:
        notes.append(
            f"{len(left)} context column(s) were not crossed with the {k} actions (too many "
            "columns): a linear reward model ranks actions by them alike in every context; "
            "tree models still combine them."
        )
    return out, notes


def _expanded(log: BanditLog, rows: np.ndarray, actions: Sequence[Any]) -> pd.DataFrame:
    """Each of ``rows`` with each of ``actions`` (row-major): the reward model's input."""
    k = len(actions)
    positions = np.repeat(rows, k)
    return reward_frame(log, positions, list(actions) * len(rows))


def _search_reward(
    dataset: Dataset,
    task: str,
    *,
    candidates: Sequence[str] | None,
    cv: int,
    budget: float | None,
    max_trials: int | None,
    seed: int,
    n_jobs: int,
    emit: Callable[[SearchEvent], None],
    n_actions: int = 1,
) -> SearchResult:
    metric = "log_loss" if task == "binary" else "rmse"
    return search(
        dataset.features(),
        dataset.target_series(),
        schema=dataset.schema,
        task=task,  # type: ignore[arg-type]
        metric=metric,
        candidates=list(candidates) if candidates else None,
        cv=cv,
        time_budget=None if budget is None else max(budget, 1.0),
        max_trials=max_trials,
        seed=seed,
        n_jobs=n_jobs,
        final_fit="refit",  # one model: clonable for cross-fitting, compiled by the server
        # a decision scores one row per action: an ensemble keeps members only while it
        # still scores 1,000 decisions a second
        min_rows_per_s=max(10_000.0, 1_000.0 * n_actions),
        on_event=emit,
    )


def quick_reward_q(
    log: BanditLog,
    fit_rows: np.ndarray,
    predict_rows: np.ndarray,
    actions: Sequence[Any],
    *,
    seed: int = 0,
    folds: int = 0,
) -> np.ndarray:
    """``(len(predict_rows), K)`` predicted rewards of a quick gradient-boosting model.

    Fitted on ``fit_rows``; with ``folds`` > 1, ``predict_rows`` must equal ``fit_rows`` and
    each row is predicted by a model fitted on the other folds (cross-fitting), so that a
    doubly-robust estimate on those rows stays honest.
    """
    task = "binary" if log.binary_rewards else "regression"
    spec = get_spec("hist_gradient_boosting", task)

    def fit(rows: np.ndarray) -> Any:
        ds = _reward_dataset(log, rows, log.rewards[rows], "reward model")
        if ds.target_series().nunique() < 2:  # one reward value among these rows
            return float(ds.target_series().iloc[0])
        model = make_pipeline(ds.schema, spec.family, spec.make(task, seed=seed), task=task)
        return model.fit(ds.features(), ds.target_series())

    def predict(model: Any, rows: np.ndarray) -> np.ndarray:
        if isinstance(model, float):
            return np.full((len(rows), len(actions)), model)
        return expected_reward(model, _expanded(log, rows, actions)).reshape(len(rows), -1)

    # one thread: OpenMP pools on a busy machine cost ten times the work (measured)
    with threadpool_limits(1):
        if folds <= 1:
            return predict(fit(fit_rows), predict_rows)
        out = np.empty((len(predict_rows), len(actions)))
        splitter = KFold(n_splits=min(folds, len(fit_rows)), shuffle=True, random_state=seed)
        for train_idx, test_idx in splitter.split(fit_rows):
            out[test_idx] = predict(fit(fit_rows[train_idx]), fit_rows[test_idx])
        return out


def policy_evaluation(
    policy: Any,
    log: BanditLog,
    rows: np.ndarray,
    q: np.ndarray | None,
    *,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[OffPolicyReport, np.ndarray]:
    """The off-policy report of ``policy`` on ``rows`` of ``log`` (which has propensities).

    ``q`` is ``(len(rows), K)``: a reward model's prediction for each of ``policy.actions_``
    (not fitted on these rows), adding DR and DM; returns the report and the policy's
    ``(len(rows), K)`` action probabilities.
    """
    if log.propensities is None:
        raise InvalidInputError(
            f"{log.name} has no propensities: off-policy estimates need the logging policy's "
            "probability of each logged action."
        )
    needed = [str(c) for c in getattr(policy, "feature_names_in_", log.context)]
    contexts = log.dataset.frame[needed].iloc[rows].reset_index(drop=True)
    with threadpool_limits(1):
        proba = policy.action_probabilities(contexts)
    columns = [policy.action_index_.get(action_text(log.logged_actions[i])) for i in rows]
    known = np.array([c is not None for c in columns])
    cols = np.array([c if c is not None else 0 for c in columns])
    target = np.where(known, proba[np.arange(len(rows)), cols], 0.0)
    q_logged = q_policy = None
    if q is not None:
        q_logged = np.where(known, q[np.arange(len(rows)), cols], 0.0)
        q_policy = (proba * q).sum(axis=1)
    report = off_policy_report(
        log.rewards[rows],
        log.propensities[rows],
        target,
        q_logged=q_logged,
        q_policy=q_policy,
        policy_proba=proba,
        actions=policy.actions_,
        logged_actions=[log.logged_actions[i] for i in rows],
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
    )
    return report, proba


def train_bandit(
    source: str | Path | pd.DataFrame | Dataset,
    *,
    action: str,
    reward: str,
    propensity: str | None = None,
    actions: str | Path | pd.DataFrame | None = None,
    action_key: str | None = None,
    learner: str = "reward",
    baseline_action: str | None = None,
    exploration: str = "epsilon_greedy",
    epsilon: float = 0.05,
    temperature: float = 0.1,
    min_propensity: float = 0.0,
    default_reward: float | None = 0.0,
    reward_wait: str | float = "1h",
    name: str | None = None,
    register: bool | None = None,
    aliases: Sequence[str] = (),
    models: Sequence[str] | None = None,
    cv: int = 5,
    test_size: float = 0.2,
    time_budget: float | None = 120.0,
    max_trials: int | None = None,
    seed: int | None = None,
    drop: Sequence[str] = (),
    types: dict[str, str] | None = None,
    n_bootstrap: int = 1000,
    test: pd.DataFrame | None = None,
    lineage: dict[str, Any] | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    on_event: Callable[[SearchEvent], None] | None = None,
) -> BanditTrainResult:
    """Learn a decision policy from a log of contexts, actions, rewards (and propensities).

    Parameters
    ----------
    source : the log: a file, a SQLAlchemy URL, a DataFrame or ``data:NAME@VERSION``.
    action, reward, propensity : its columns: the action taken, the reward that followed
        (numbers; 0/1 for clicks) and the logging policy's probability of that action (in
        (0, 1]; without it the policy is still learned, but not evaluated off-policy).
    actions, action_key : a second table of action features, joined by ``action_key``
        (default: the action column's name).
    learner : 'reward', 'dr', 'ips' or 'rule' (see the module docstring); ``baseline_action``
        names the rule's context column and implies 'rule'.
    exploration, epsilon, temperature, min_propensity : how the served policy explores:
        ``epsilon_greedy`` (the best action with ``1 - epsilon``, the rest spread evenly) or
        ``softmax`` (``exp(score / temperature)``), every candidate at least
        ``min_propensity``.
    default_reward, reward_wait : a decision served later whose reward has not arrived
        within ``reward_wait`` (a duration: '1h', '30m', seconds) counts as
        ``default_reward`` (``None``: it is left out); a later reward for it is refused.
    models, cv, time_budget, max_trials : the reward model's search (see ``train``).
    test_size : share of the log held out for the off-policy estimates.
    test : a separate log (same columns) to estimate the value on, instead of holding out
        ``test_size`` of ``source`` (both DataFrames; retraining holds out recent decisions).

    Examples
    --------
    >>> from modelloop.workflows import train_bandit
    >>> result = train_bandit("random_men.csv", action="item_id", reward="click",
    ...                       propensity="propensity_score", name="offers")  # doctest: +SKIP
    >>> result.metrics["value_dr"], result.metrics["logging_value"]  # doctest: +SKIP
    """
    settings = settings or Settings()
    if baseline_action is not None and learner == "reward":
        learner = "rule"
    _check_options(
        learner, propensity, baseline_action, exploration, epsilon, temperature,
        min_propensity, test_size, time_budget, default_reward,
    )  # fmt: skip
    wait_s = parse_duration(reward_wait)
    if not isinstance(cv, int) or isinstance(cv, bool) or cv < 2:
        raise ConfigurationError(f"cv must be an integer >= 2. Got {cv!r}.")
    seed = settings.seed if seed is None else seed
    emit = on_event or (lambda event: None)
    t0 = time.monotonic()
    emit(SearchEvent("stage", message="Loading the log"))
    n_source = None
    if test is not None:
        if not isinstance(source, pd.DataFrame) or not isinstance(test, pd.DataFrame):
            raise ConfigurationError(
                "A separate test log needs the log and the test as DataFrames."
            )
        n_source = len(source)
        source = pd.concat([source, test[list(source.columns)]], ignore_index=True)
    log = read_bandit_log(
        source,
        action=action,
        reward=reward,
        propensity=propensity,
        actions=actions,
        action_key=action_key,
        rule_column=baseline_action,
        require_rewards=learner != "rule",
        drop=drop,
        types=types,
        settings=settings,
        store=store,
    )
    for candidate in models or ():
        get_spec(candidate, "binary" if log.binary_rewards else "regression")
    notes = list(log.notes)
    if propensity is None:
        notes.append(
            "The log has no propensities: the policy was learned, but its value cannot be "
            "estimated off-policy (IPS, SNIPS and DR need the logging policy's probability "
            "of each logged action). Log them (--propensity COL) to evaluate it."
        )
    if learner in ("dr", "ips") and time_budget is not None:
        # the pseudo-reward search gets half the budget at least, on 20,000 pairs at least
        needed = 2 * 3 * minimum_budget(20_000, len(log.feature_roles) + 1)
        if time_budget < needed:
            raise ConfigurationError(
                f"time_budget of {time_budget:g} s is too small for learner '{learner}' on "
                f"{log.name}: it searches a model of pseudo-rewards over (row, action) pairs. "
                f"Give at least {needed:g} s, or use learner 'reward'."
            )
    if n_source is None:
        train_rows, test_rows = _split(log.n, test_size, seed)
    else:
        kept = log.kept if log.kept is not None else np.arange(log.n)
        train_rows, test_rows = np.flatnonzero(kept < n_source), np.flatnonzero(kept >= n_source)
    if len(train_rows) < 10:
        raise InvalidInputError(
            f"{log.name} has {log.n} usable rows; learning a policy needs at least 10 for "
            "training besides the held-out share (--test-size)."
        )
    model_name = name or log.name
    do_register = register if register is not None else name is not None
    bandit = {
        "action": action,
        "reward": reward,
        "propensity": propensity,
        "actions": [json_value(a, unknown="keep") for a in log.actions],
        "action_key": log.action_key,
        "action_features": sorted(next(iter(log.action_features.values()), {})),
        "learner": learner,
        "rule_column": baseline_action,
        "exploration": exploration,
        "epsilon": epsilon,
        "temperature": temperature,
        "min_propensity": min_propensity,
        "default_reward": default_reward,
        "reward_wait_s": wait_s,
        "binary_rewards": log.binary_rewards,
    }
    owns_store = store is None
    store = store or Store.from_settings(settings)
    try:
        record_dataset(store, log.dataset)
        params = {
            **{k: v for k, v in bandit.items() if k not in ("actions", "action_features")},
            "actions_table": log.actions_source,
            "candidates": list(models) if models else "portfolio",
            "cv": cv,
            "test_size": test_size,
            "time_budget": time_budget,
            "max_trials": max_trials,
            "seed": seed,
            "drop": list(drop),
            "types": dict(types or {}),
            "n_train": len(train_rows),
            "n_test": len(test_rows),
            "n_bootstrap": n_bootstrap,
        }
        store.recover()  # runs and files a killed process left behind
        run = store.create_run(
            name=model_name,
            dataset_hash=log.dataset.hash,
            target=reward,
            task="bandit",
            metric="value_dr",
            params=params,
        )
        try:
            policy, found, q_test, learn_notes = _learn(
                log, learner, bandit, train_rows, test_rows, models, cv,
                None if time_budget is None else time_budget - (time.monotonic() - t0),
                max_trials, seed, settings.effective_n_jobs(), emit,
            )  # fmt: skip
            notes += learn_notes
            report = None
            if log.propensities is not None and len(test_rows):
                emit(SearchEvent("stage", message="Estimating the policy's value off-policy"))
                report, _ = policy_evaluation(
                    policy, log, test_rows, q_test, n_bootstrap=n_bootstrap, seed=seed
                )
                notes += list(report.warnings)
        except BaseException as exc:
            fail_run(store, run.id, exc)
            raise
        metrics = report.metrics() if report is not None else {}
        if report is None:
            metrics["logging_value"] = (
                float(np.mean(log.rewards[test_rows])) if len(test_rows) else math.nan
            )
            metrics = {k: v for k, v in metrics.items() if math.isfinite(v)}
        cv_metrics = {}
        if found is not None:
            cv_metrics = {
                found.metric: found.best.cv_mean,
                f"{found.metric}_std": found.best.cv_std,
            }
        result = BanditTrainResult(
            run_id=run.id,
            name=model_name,
            task="bandit",  # type: ignore[arg-type]
            metric="value_dr",
            target=reward,
            best_model=found.best.name if found is not None else "rule",
            model=policy,
            leaderboard=found.leaderboard if found is not None else pd.DataFrame(),
            metrics=metrics,
            cv_metrics=cv_metrics,
            dataset=log.dataset,
            classes=None,
            timings={"total_s": round(time.monotonic() - t0, 3)},
            notes=notes,
            best_params=found.best_params if found is not None else {},
            trials=found.trials if found is not None else [],
            final_fit=found.final_fit if found is not None else "",
            lineage={"bandit": {"learner": learner}, **(lineage or {})},
            bandit=bandit,
            evaluation=report,
        )
        if result.trials:
            store.record_trials(run.id, result.trials)
        register_and_finish(
            store,
            result,
            register=do_register,
            aliases=aliases,
            emit=emit,
            cv_metrics=cv_metrics,
            test_metrics=metrics,
        )
        return result
    finally:
        if owns_store:
            store.close()


def _learn(
    log: BanditLog,
    learner: str,
    bandit: dict[str, Any],
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    models: Sequence[str] | None,
    cv: int,
    budget: float | None,
    max_trials: int | None,
    seed: int,
    n_jobs: int,
    emit: Callable[[SearchEvent], None],
) -> tuple[Any, SearchResult | None, np.ndarray | None, list[str]]:
    """``(fitted policy, the search that made it, q on the test rows, notes)``."""
    started = time.monotonic()
    explore = {
        "exploration": bandit["exploration"],
        "epsilon": bandit["epsilon"],
        "temperature": bandit["temperature"],
        "min_propensity": bandit["min_propensity"],
    }
    contexts = log.contexts(train_rows)
    logged = [log.logged_actions[i] for i in train_rows]
    notes: list[str] = []
    reward_task = "binary" if log.binary_rewards else "regression"
    # keep back time for the off-policy estimates and the registration
    budget = None if budget is None else budget - 2.0 - 0.05 * budget
    if learner == "rule":
        policy = RulePolicy(bandit["rule_column"], actions=log.actions, **explore).fit(
            contexts, logged
        )
        q = None
        if log.propensities is not None and len(test_rows):
            q = quick_reward_q(log, train_rows, test_rows, policy.actions_, seed=seed)
        return policy, None, q, notes

    crosses, cross_notes = _interactions(log)
    log = replace(log, interactions=crosses)
    notes += cross_notes
    share = {"reward": 1.0, "dr": 0.3, "ips": 0.0}[learner]
    found = q_train = None
    reward_model = None
    if share > 0:
        emit(SearchEvent("stage", message="Searching the reward model"))
        ds = _reward_dataset(log, train_rows, log.rewards[train_rows], f"{log.name} (rewards)")
        found = _search_reward(
            ds, reward_task, candidates=models, cv=cv,
            budget=None if budget is None else budget * share,
            max_trials=max_trials, seed=seed, n_jobs=n_jobs, emit=emit,
            n_actions=len(log.actions),
        )  # fmt: skip
        reward_model = found.model
    actions = _sorted_actions(log.actions)
    if learner == "reward":
        policy = RewardPolicy(
            FrozenEstimator(reward_model),
            action_column=log.action,
            actions=log.actions,
            action_features=log.action_features or None,
            interactions=log.interactions or None,
            **explore,
        ).fit(contexts, logged, log.rewards[train_rows])
        q = None
        if len(test_rows):
            q = _predict_q(reward_model, log, test_rows, policy.actions_)
        return policy, found, q, notes

    # dr / ips: pseudo-rewards for every (row, action) of the training part
    if log.propensities is None:  # _check_options asks for a propensity column first
        raise ConfigurationError(f"Learner '{learner}' needs propensities.")
    k = len(actions)
    n = len(train_rows)
    if learner == "dr" and reward_model is not None:
        emit(SearchEvent("stage", message="Cross-fitting the reward model"))
        q_train = _crossfit(log, train_rows, actions, reward_model, cv, seed)
    else:
        q_train = np.zeros((n, k))
    index = {action_text(a): j for j, a in enumerate(actions)}
    cols = np.array([index[action_text(a)] for a in logged])
    pseudo = q_train.copy()
    residual = (log.rewards[train_rows] - q_train[np.arange(n), cols]) / log.propensities[
        train_rows
    ]
    pseudo[np.arange(n), cols] += residual
    emit(SearchEvent("stage", message=f"Searching a model of the {learner.upper()} pseudo-rewards"))
    left = None
    if budget is not None:  # what is left of the budget; half of it at least
        left = max(budget - (time.monotonic() - started), 0.5 * budget)
    keep = np.arange(n)
    limit = _pair_limit(left, len(log.feature_roles) + 1, cv)
    if n * k > limit:  # every action of a row stays together: its correction among them
        keep = np.sort(np.random.default_rng(seed).choice(n, max(limit // k, 10), replace=False))
        notes.append(
            f"The {learner.upper()} pseudo-rewards of {len(keep):,} of the {n:,} training rows "
            f"(x {k} actions) were learned from: what the time budget affords; a larger "
            "--time-budget uses more."
        )
    expanded = _expanded(log, train_rows[keep], actions)
    target = "__pseudo_reward__"
    expanded[target] = pseudo[keep].ravel()
    ds = load(
        expanded, target=target, types=_types(log), name=f"{log.name} ({learner} pseudo-rewards)"
    )
    second = _search_reward(
        ds, "regression", candidates=models, cv=cv, budget=left,
        max_trials=max_trials, seed=seed, n_jobs=n_jobs, emit=emit, n_actions=k,
    )  # fmt: skip
    notes.append(
        f"The policy ranks actions by a model of {learner.upper()} pseudo-rewards "
        f"({second.best.name}, CV rmse {second.best.cv_mean:.4g}) over {len(keep):,} rows x "
        f"{k} actions."
    )
    policy = RewardPolicy(
        FrozenEstimator(second.model),
        action_column=log.action,
        actions=log.actions,
        action_features=log.action_features or None,
        interactions=log.interactions or None,
        **explore,
    ).fit(contexts, logged, None)
    q = None
    if len(test_rows):
        if reward_model is not None:
            q = _predict_q(reward_model, log, test_rows, policy.actions_)
        else:
            q = quick_reward_q(log, train_rows, test_rows, policy.actions_, seed=seed)
    return policy, found if found is not None else second, q, notes


def _predict_q(model: Any, log: BanditLog, rows: np.ndarray, actions: list[Any]) -> np.ndarray:
    """``(len(rows), K)``: ``model``'s expected reward of each action for each row."""
    with threadpool_limits(1):
        q = expected_reward(model, _expanded(log, rows, actions))
    return q.reshape(len(rows), -1)


def _pair_limit(budget: float | None, n_cols: int, cv: int) -> int:
    """(row, action) pairs a pseudo-reward search can afford: about ten cross-validated
    trials at two million cells a second, between 20,000 and 1,000,000 pairs."""
    if budget is None:
        return 1_000_000
    return int(min(1_000_000, max(20_000, budget * 2e6 / (max(n_cols, 1) * cv * 10))))


def _crossfit(
    log: BanditLog, rows: np.ndarray, actions: list[Any], model: Any, folds: int, seed: int
) -> np.ndarray:
    """Each row's predicted reward for every action from a clone of ``model`` fitted on the
    other folds."""
    out = np.empty((len(rows), len(actions)))
    splitter = KFold(n_splits=min(folds, len(rows)), shuffle=True, random_state=seed)
    with threadpool_limits(1):
        _crossfit_folds(log, rows, actions, model, splitter, out)
    return out


def _crossfit_folds(
    log: BanditLog, rows: np.ndarray, actions: list[Any], model: Any, splitter: Any, out: Any
) -> None:
    for fit_idx, pred_idx in splitter.split(rows):
        ds = _reward_dataset(log, rows[fit_idx], log.rewards[rows[fit_idx]], "cross-fit")
        y = ds.target_series()
        if y.nunique() < 2:
            out[pred_idx] = float(y.iloc[0])
            continue
        fitted = clone(model).fit(ds.features(), y)
        q = expected_reward(fitted, _expanded(log, rows[pred_idx], actions))
        out[pred_idx] = q.reshape(len(pred_idx), -1)


def _sorted_actions(actions: Sequence[Any]) -> list[Any]:
    """The actions in the order ``models.RewardPolicy`` keeps them (numbers first)."""

    def key(value: Any) -> tuple[int, Any]:
        if isinstance(value, int | float | np.number) and not isinstance(value, bool):
            return (0, float(value))
        return (1, str(value))

    return sorted(actions, key=key)


def bandit_info(bundle: dict[str, Any]) -> dict[str, Any]:
    """The ``bandit`` part of a model bundle; ``ConfigurationError`` for other models."""
    info = bundle.get("bandit") if isinstance(bundle, dict) else None
    if not info:
        raise ConfigurationError("This model is not a decision policy (task 'bandit').")
    return dict(info)
