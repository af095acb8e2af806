"""``evaluate_policy``: a registered policy's value on a log it did not produce.

The log needs the logging policy's propensities. A reward model for the doubly-robust and
direct-method estimates is cross-fitted on the log itself (each row predicted by a model
fitted on the other folds, gradient boosting with default settings), so no row is used to
predict its own reward. See ``evaluation.off_policy_report`` for the estimators.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelloop.config import Settings
from modelloop.evaluation import OffPolicyReport, action_text
from modelloop.exceptions import ConfigurationError, InvalidInputError, SchemaMismatchError
from modelloop.store import Store
from modelloop.workflows._bandit import policy_evaluation, quick_reward_q
from modelloop.workflows._bandit_log import read_bandit_log
from modelloop.workflows._predict import LoadedModel, load_model

__all__ = ["PolicyEvaluation", "evaluate_policy", "load_policy"]


@dataclass(frozen=True)
class PolicyEvaluation:
    """The off-policy estimates of one policy on one log."""

    model: str
    log: str
    report: OffPolicyReport
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (what ``modelloop evaluate-policy --json`` prints)."""
        return {"model": self.model, "log": self.log, **self.report.to_dict(), "notes": self.notes}


def load_policy(ref: str, *, store: Store) -> tuple[LoadedModel, dict[str, Any]]:
    """A registered decision policy and its ``bandit`` description; other models refused."""
    loaded = load_model(ref, store=store)
    if loaded.task != "bandit":
        raise ConfigurationError(
            f"Model '{loaded.ref}' is a {loaded.task} model, not a decision policy: train one "
            "with modelloop train LOG --task bandit --action COL --reward COL."
        )
    return loaded, dict(loaded.bandit or {})


def evaluate_policy(
    model: str,
    source: str | Path | pd.DataFrame,
    *,
    action: str | None = None,
    reward: str | None = None,
    propensity: str | None = None,
    drop: Sequence[str] = (),
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    folds: int = 5,
    seed: int | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
) -> PolicyEvaluation:
    """Estimate the value policy ``model`` would have had on the log ``source``.

    ``action``, ``reward`` and ``propensity`` name the log's columns (default: the names the
    policy was trained with). The log must have propensities; its context columns must be
    the policy's. Returns IPS, SNIPS, DR and DM estimates with bootstrap intervals, the
    effective sample size and warnings (propensities near zero, few effective rows, actions
    the log never tried).

    Examples
    --------
    >>> from modelloop.workflows import evaluate_policy
    >>> ev = evaluate_policy("offers", "bts_men.csv")  # doctest: +SKIP
    >>> ev.report["dr"].value, ev.report["dr"].low, ev.report["dr"].high  # doctest: +SKIP
    """
    settings = settings or Settings()
    seed = settings.seed if seed is None else seed
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ConfigurationError(f"folds must be an integer >= 2. Got {folds!r}.")
    owns = store is None
    store = store or Store.from_settings(settings)
    try:
        loaded, bandit = load_policy(model, store=store)
    finally:
        if owns:
            store.close()
    policy = loaded.pipeline
    action = action or bandit.get("action")
    reward = reward or bandit.get("reward")
    propensity = propensity or bandit.get("propensity")
    where = source if isinstance(source, str | Path) else "the log"
    if not action or not reward:
        raise ConfigurationError("Name the log's action and reward columns (--action, --reward).")
    if propensity is None:
        raise InvalidInputError(
            f"Policy '{loaded.ref}' was trained on a log without propensities, and none was "
            f"named for {where}: off-policy estimates need the logging policy's probability of "
            "each logged action. Name the column with --propensity COL."
        )
    frame = source if isinstance(source, pd.DataFrame) else None
    try:
        log = read_bandit_log(
            frame if frame is not None else source,
            action=action,
            reward=reward,
            propensity=propensity,
            drop=drop,
            settings=settings,
        )
    except InvalidInputError as exc:
        if propensity and f"'{propensity}' is not in" in str(exc):
            raise InvalidInputError(
                f"{where} has no propensity column '{propensity}': off-policy estimates need "
                "the logging policy's probability of each logged action (learning from such a "
                "log is possible, evaluating on it is not). Name the column with "
                "--propensity COL."
            ) from None
        raise
    needed = [str(c) for c in getattr(policy, "feature_names_in_", [])]
    missing = [c for c in needed if c not in log.dataset.frame.columns]
    if missing:
        shown = ", ".join(f"'{c}'" for c in missing[:10])
        raise SchemaMismatchError(
            f"{log.name} lacks context column(s) {shown} that policy '{loaded.ref}' decides on."
        )
    table = getattr(policy, "action_table_", None) or {}
    if table:  # the policy knows its actions' features: the cross-fitted model uses them too
        log = replace(log, action_features=dict(table), feature_roles=_roles(log, table))
    notes = list(log.notes)
    unknown = sorted(
        {action_text(a) for a in log.logged_actions} - set(policy.action_index_), key=str
    )
    if unknown:
        notes.append(
            f"{len(unknown)} logged action(s) are not among the policy's ({', '.join(unknown[:10])}): "
            "it never takes them, so their rows weigh 0."
        )
    rows = np.arange(log.n)
    q = quick_reward_q(log, rows, rows, policy.actions_, seed=seed, folds=folds)
    report, _ = policy_evaluation(
        policy, log, rows, q, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed
    )
    return PolicyEvaluation(loaded.ref, log.name, report, notes + list(report.warnings))


def _roles(log: Any, table: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Roles of the log's context columns and of the policy's action features (by type)."""
    roles = dict(log.feature_roles)
    sample = next(iter(table.values()))
    for name, value in sample.items():
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        roles[name] = "numeric" if numeric else "categorical"
    return roles
