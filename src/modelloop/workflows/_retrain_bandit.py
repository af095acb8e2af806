"""``retrain`` of a decision policy: a challenger from the logged decisions, promoted on its
doubly-robust lower confidence bound.

The served policy logged each decision with the probability of every candidate action, and
rewards joined them later (``store._rewards``). A decision whose reward did not come within
the policy's reward wait counts with its default reward (``--default-reward``; with none it
is left out); decisions still inside their wait are pending and not used yet.

The most recent decisions (``holdout``, at least ``min_holdout``) are held out. A challenger
is learned (``train_bandit``, the champion's settings) from the champion's reference log
plus the older decisions. On the held-out decisions, a reward model fitted on the training
part gives both policies a doubly-robust estimate with a bootstrap interval; the challenger
is promoted only when the *lower* bound of its interval beats the champion's estimated
value by ``min_improvement``: a promotion must be likely, not just possible. The champion's
own decisions make its estimate nearly on-policy (its weights are close to 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from modelloop.config import Settings
from modelloop.data import content_hash
from modelloop.evaluation import action_text
from modelloop.exceptions import InvalidInputError, NotFoundError
from modelloop.store import ModelVersionRecord, Store
from modelloop.tuning import SearchEvent
from modelloop.workflows._bandit import LEARNERS, policy_evaluation, quick_reward_q, train_bandit
from modelloop.workflows._bandit_log import read_bandit_log
from modelloop.workflows._predict import load_model

__all__ = ["logged_decisions", "retrain_policy"]


def logged_decisions(
    records: list[Any], bandit: dict[str, Any], *, at: datetime | None = None
) -> tuple[pd.DataFrame, list[datetime], dict[str, int]]:
    """The decisions of a policy's log as a bandit log, oldest first.

    Columns: the contexts, then the action, reward and propensity columns named as the
    policy names them. Returns the frame, each row's decision time and counts: ``rewarded``,
    ``defaulted`` (no reward within the wait: the default reward), ``pending`` (still within
    the wait), ``dropped`` (no reward and no default, or no propensity).
    """
    at = at or datetime.now(UTC)
    wait = timedelta(seconds=float(bandit.get("reward_wait_s") or 3600.0))
    default = bandit.get("default_reward")
    action, reward = bandit["action"], bandit["reward"]
    propensity = bandit.get("propensity") or "propensity"
    rows, times = [], []
    counts = {"rewarded": 0, "defaulted": 0, "pending": 0, "dropped": 0}
    for r in records:
        probabilities = r.probabilities if isinstance(r.probabilities, dict) else {}
        p = probabilities.get(action_text(r.prediction)) if r.prediction is not None else None
        if r.labeled_at is not None:
            value, kind = r.label, "rewarded"
        elif at - r.created_at <= wait:
            counts["pending"] += 1
            continue
        elif default is not None:
            value, kind = default, "defaulted"
        else:
            counts["dropped"] += 1
            continue
        if p is None or not 0 < float(p) <= 1:
            counts["dropped"] += 1
            continue
        counts[kind] += 1
        rows.append({**r.inputs, action: r.prediction, reward: value, propensity: float(p)})
        times.append(r.created_at)
    return pd.DataFrame.from_records(rows), times, counts


def _champion(store: Store, name: str, alias: str) -> tuple[ModelVersionRecord, bool]:
    record = store.get_model_version(name)
    try:
        return store.get_model_version(name, alias=alias), True
    except NotFoundError:
        return record, False


def _actions_table(policy: Any, action: str) -> pd.DataFrame | None:
    table = getattr(policy, "action_table_", None) or {}
    if not table:
        return None
    return pd.DataFrame([{action: key, **features} for key, features in table.items()])


def _aligned(frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Logged values (JSON) in the reference's number types, its columns in its order."""
    frame = frame.reindex(columns=list(reference.columns))
    for column in frame.columns:
        if reference[column].dtype.kind in "iuf":
            numbers = pd.to_numeric(frame[column], errors="coerce")
            if numbers.notna().sum() == frame[column].notna().sum():
                frame[column] = numbers
    return frame


def retrain_policy(
    store: Store,
    settings: Settings,
    name: str,
    *,
    alias: str = "production",
    holdout: float = 0.2,
    min_holdout: int = 30,
    min_improvement: float = 0.0,
    time_budget: float | None = None,
    max_trials: int | None = None,
    learner: str | None = None,
    challenger_alias: str | None = "challenger",
    trigger: str = "retrain",
    emit: Callable[[SearchEvent], None] | None = None,
) -> Any:
    """Learn a challenger policy from the logged decisions; promote it on its DR lower bound.

    Returns a ``RetrainResult`` whose scores are doubly-robust values on the held-out
    decisions (``challenger_score`` the challenger's, ``improvement`` the lower bound of its
    interval minus the champion's value). See the module docstring.
    """
    from modelloop.workflows._retrain import RetrainResult

    emit = emit or (lambda event: None)
    champion, aliased = _champion(store, name, alias)
    loaded = load_model(champion.ref, store=store)
    bandit = dict(loaded.bandit or {})
    params = dict(store.get_run(champion.run_id).params) if champion.run_id else {}
    learner = learner or params.get("learner") or bandit.get("learner") or "reward"
    if learner == "rule":  # a rule was the safe start: its decisions now teach a policy
        learner = "reward"
    if learner not in LEARNERS:
        raise InvalidInputError(f"learner must be one of {', '.join(LEARNERS)}. Got {learner!r}.")
    records = store.get_predictions(name)
    frame, times, counts = logged_decisions(records, bandit)
    n = len(frame)
    if n == 0:
        raise InvalidInputError(
            f"Policy '{name}' has no logged decision with a reward yet ({counts['pending']} "
            f"pending within the reward wait, {counts['dropped']} without a reward or default). "
            f"Serve it (POST /v1/models/{name}/decide) and send rewards (POST "
            f"/v1/models/{name}/reward) first."
        )
    n_hold = max(min_holdout, math.ceil(holdout * n))
    if n <= n_hold:
        raise InvalidInputError(
            f"Policy '{name}' has {n} logged decisions with a reward; retrain needs more than "
            f"{n_hold}: the most recent {n_hold} are held out to compare champion and "
            "challenger, and at least one more is learned from. Wait for more decisions, or "
            "lower --min-holdout / --holdout."
        )
    notes: list[str] = []
    try:
        reference = store.reference_data(champion)
    except NotFoundError:
        reference = frame.iloc[:0]
        notes.append(
            f"Version {champion.version} has no reference log: learned from decisions only."
        )
    action, reward = bandit["action"], bandit["reward"]
    propensity = bandit.get("propensity") or "propensity"
    if propensity not in reference.columns:
        if learner in ("dr", "ips") and len(reference):
            notes.append(
                f"The reference log has no propensities: learner '{learner}' learned from the "
                "logged decisions only."
            )
            reference = reference.iloc[:0]
        reference = reference.assign(**{propensity: np.nan})
    context = [c for c in frame.columns if c not in (action, reward, propensity)]
    reference = reference[
        [c for c in [*context, action, reward, propensity] if c in reference.columns]
    ]
    frame = _aligned(frame, reference) if len(reference.columns) else frame
    held = frame.iloc[n - n_hold :].reset_index(drop=True)
    older = frame.iloc[: n - n_hold]
    learn_from = pd.concat([reference, older], ignore_index=True)
    if learner in ("dr", "ips"):
        learn_from = learn_from[learn_from[propensity].notna()]
    emit(SearchEvent("stage", message=f"Learning a challenger policy for '{name}'"))
    table = _actions_table(loaded.pipeline, action)
    result = train_bandit(
        learn_from,
        action=action,
        reward=reward,
        propensity=propensity,
        actions=table,
        action_key=action if table is not None else None,
        learner=learner,
        exploration=bandit.get("exploration", "epsilon_greedy"),
        epsilon=float(bandit.get("epsilon", 0.05)),
        temperature=float(bandit.get("temperature", 0.1)),
        min_propensity=float(bandit.get("min_propensity", 0.0)),
        default_reward=bandit.get("default_reward", 0.0),
        reward_wait=float(bandit.get("reward_wait_s") or 3600.0),
        name=name,
        register=False,
        models=None if params.get("candidates") in (None, "portfolio") else params["candidates"],
        cv=int(params.get("cv") or 5),
        time_budget=time_budget if time_budget is not None else params.get("time_budget", 120.0),
        max_trials=max_trials if max_trials is not None else params.get("max_trials"),
        seed=int(params.get("seed", settings.seed) or 0),
        n_bootstrap=int(params.get("n_bootstrap") or 1000),
        test=held,
        settings=settings,
        store=store,
        on_event=emit,
    )
    emit(SearchEvent("stage", message="Estimating both policies on the held-out decisions"))
    log = read_bandit_log(
        pd.concat([learn_from, held], ignore_index=True),
        action=action,
        reward=reward,
        propensity=propensity,
        actions=table,
        action_key=action if table is not None else None,
    )
    kept = log.kept if log.kept is not None else np.arange(log.n)
    train_rows = np.flatnonzero(kept < len(learn_from))
    test_rows = np.flatnonzero(kept >= len(learn_from))
    seed = int(params.get("seed", settings.seed) or 0)
    boot = int(params.get("n_bootstrap") or 1000)
    challenger_policy = result.model
    q = quick_reward_q(log, train_rows, test_rows, challenger_policy.actions_, seed=seed)
    champ_report, _ = policy_evaluation(
        loaded.pipeline, log, test_rows, _reorder(q, challenger_policy, loaded.pipeline),
        n_bootstrap=boot, seed=seed,
    )  # fmt: skip
    chall_report, _ = policy_evaluation(
        challenger_policy, log, test_rows, q, n_bootstrap=boot, seed=seed
    )
    champ_value = champ_report["dr"].value
    chall = chall_report["dr"]
    improvement = chall.low - champ_value
    scores = (
        f"challenger DR value {chall.value:.4g} ({chall_report.confidence:.0%} interval "
        f"[{chall.low:.4g}, {chall.high:.4g}]) vs champion {champ_value:.4g} on the {n_hold} "
        "most recent decisions"
    )
    if not (math.isfinite(chall.low) and math.isfinite(champ_value)):
        promoted, reason = False, f"{scores}: the estimates are undefined; the champion is kept"
    elif improvement > min_improvement or (improvement > 0 and min_improvement == 0):
        promoted, reason = True, f"{scores}: its lower bound is higher by {improvement:.4g}"
    elif improvement > 0:
        promoted = False
        reason = (
            f"{scores}: its lower bound is higher by {improvement:.4g}, less than the required "
            f"min_improvement {min_improvement:g}; the champion is kept"
        )
    else:
        promoted = False
        reason = f"{scores}: its lower bound does not beat the champion; the champion is kept"
    notes += list(chall_report.warnings)
    if not aliased:
        store.set_alias(name, alias, champion.version)
        notes.append(f"Model '{name}' had no alias '{alias}': it now points at the champion.")
    result.lineage = {
        **result.lineage,
        "trigger": trigger,
        "parent": champion.version,
        "data": {
            "reference_snapshot": champion.reference_snapshot,
            "reference_rows": len(reference),
            "production_rows": len(older),
            "holdout_rows": n_hold,
            "decisions": counts,
            "labeled_until": times[n - n_hold - 1].isoformat() if n - n_hold > 0 else None,
        },
        "evaluation": {
            "metric": "value_dr",
            "champion": champ_value,
            "challenger": chall.value,
            "challenger_low": chall.low,
            "challenger_high": chall.high,
            "improvement": improvement,
            "min_improvement": min_improvement,
            "promoted": promoted,
            "reason": reason,
        },
    }
    info = result.registration()
    info["reference"] = learn_from.reset_index(drop=True)
    info["reference_hash"] = content_hash(info["reference"])
    model = info.pop("model")
    aliases = [*([challenger_alias] if challenger_alias else []), *([alias] if promoted else [])]
    emit(SearchEvent("stage", message=f"Registering the challenger of '{name}'"))
    record = store.register_model(name, model, aliases=aliases, **info)
    result.version = record.version
    return RetrainResult(
        name=name,
        alias=alias,
        metric="value_dr",
        champion_version=champion.version,
        challenger_version=record.version,
        promoted=promoted,
        reason=reason,
        champion_score=champ_value,
        challenger_score=chall.value,
        improvement=improvement,
        min_improvement=min_improvement,
        champion_metrics=champ_report.metrics(),
        challenger_metrics=chall_report.metrics(),
        n_reference=len(reference),
        n_production=len(older),
        n_holdout=n_hold,
        window=None,
        recent_weight=1.0,
        trigger=trigger,
        notes=list(dict.fromkeys(notes + result.notes)),  # one line for a warning seen twice
        train_result=result,
    )


def _reorder(q: np.ndarray, source: Any, target: Any) -> np.ndarray:
    """``q``'s columns (``source.actions_``) in the order of ``target.actions_``; an action
    ``source`` does not know gets the mean prediction."""
    index = {action_text(a): j for j, a in enumerate(source.actions_)}
    fill = q.mean(axis=1)
    cols = [
        q[:, index[action_text(a)]] if action_text(a) in index else fill for a in target.actions_
    ]
    return np.column_stack(cols)
