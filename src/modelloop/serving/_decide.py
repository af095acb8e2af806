"""A decision policy, ready to serve: score the candidates, explore, sample one action.

:class:`ServedPolicy` wraps a fitted ``models.RewardPolicy`` or ``models.RulePolicy``. For a
reward policy the reward model is compiled like any served pipeline (``_fastpath``): each
request's context becomes one row per candidate action (context, action, the action's
features), and one call scores the rows of every request of a micro-batch. The policy's own
exploration rule turns the scores into probabilities, and one action per request is drawn
with a generator seeded from the operating system (a fresh one in every worker process).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modelloop.data import Schema
from modelloop.evaluation import action_text
from modelloop.exceptions import InvalidInputError
from modelloop.models import RewardPolicy, expected_reward, sample_actions
from modelloop.serving._fastpath import FrameBuilder, compile_pipeline

__all__ = ["Decision", "ServedPolicy"]

Decision = tuple[Any, float, dict[str, float]]  # action, its propensity, every candidate's


class ServedPolicy:
    """Decisions of one policy version.

    Parameters
    ----------
    policy : RewardPolicy or RulePolicy
        Fitted.
    bandit : dict
        The model's ``bandit`` description (columns, reward wait, default reward).
    """

    def __init__(self, policy: Any, bandit: Mapping[str, Any]) -> None:
        self.policy = policy
        self.bandit = dict(bandit)
        self.actions: list[Any] = list(policy.actions_)
        self.index = dict(policy.action_index_)
        self._rng = np.random.default_rng()
        self._pid = os.getpid()
        self._score = self._scorer()

    @property
    def reward_wait_s(self) -> float:
        return float(self.bandit.get("reward_wait_s") or 3600.0)

    def _scorer(self) -> Any:
        """``rows, pairs -> scores`` for the policy; compiled where the reward model allows."""
        policy = self.policy
        if not isinstance(policy, RewardPolicy):
            return None
        model = getattr(policy.reward_model_, "estimator", policy.reward_model_)
        first = model.steps[0][1] if hasattr(model, "steps") else None
        schema = getattr(first, "schema_", None)
        compiled = None
        if isinstance(schema, Schema):
            compiled = compile_pipeline(model, schema)
        if compiled is not None:
            classes = getattr(compiled, "classes_", None)
            if hasattr(compiled, "predict_proba") and classes is not None:
                values = np.asarray(classes, dtype=float)
                return lambda rows: np.asarray(compiled.predict_proba(rows)) @ values
            return lambda rows: np.asarray(compiled.predict(rows), dtype=float)
        builder = FrameBuilder(schema) if isinstance(schema, Schema) else None

        def slow(rows: list[dict[str, Any]]) -> np.ndarray:
            import pandas as pd

            frame = builder.build(rows) if builder is not None else pd.DataFrame(rows)
            return expected_reward(model, frame)

        return slow

    def candidates(self, actions: Any, where: str = "actions") -> list[int] | None:
        """Column indexes of a request's candidate actions (``None``: every action)."""
        if actions is None:
            return None
        if not isinstance(actions, list) or not actions:
            raise InvalidInputError(
                f"Field '{where}' must be a non-empty list of candidate actions. Got {actions!r:.80}."
            )
        out = []
        for i, action in enumerate(actions):
            if isinstance(action, dict | list):
                raise InvalidInputError(
                    f"Field '{where}[{i}]' must be an action (a string or a number). Got {action!r:.60}."
                )
            j = self.index.get(action_text(action))
            if j is None:
                shown = ", ".join(map(str, self.actions[:20]))
                more = "" if len(self.actions) <= 20 else f", ... ({len(self.actions)} in all)"
                raise InvalidInputError(
                    f"Field '{where}[{i}]': action {action!r} is not one this policy knows "
                    f"(its actions: {shown}{more})."
                )
            if j not in out:
                out.append(j)
        return out

    def decide(self, requests: Sequence[tuple[dict[str, Any], list[int] | None]]) -> list[Decision]:
        """One decision per ``(typed context, candidate indexes)``; one model call for all."""
        n, k = len(requests), len(self.actions)
        mask = np.zeros((n, k), dtype=bool)
        for i, (_, cand) in enumerate(requests):
            if cand is None:
                mask[i] = True
            else:
                mask[i, cand] = True
        scores = self._scores(requests, mask)
        proba = self.policy.probabilities_from_scores(scores, mask)
        if os.getpid() != self._pid:  # a forked worker: never share the parent's stream
            self._rng, self._pid = np.random.default_rng(), os.getpid()
        chosen = sample_actions(proba, self._rng)
        out = []
        for i, j in enumerate(chosen.tolist()):
            cols = np.flatnonzero(mask[i])
            dist = {action_text(self.actions[c]): float(proba[i, c]) for c in cols}
            out.append((self.actions[j], float(proba[i, j]), dist))
        return out

    def _scores(self, requests: Sequence[Any], mask: np.ndarray) -> np.ndarray:
        scores = np.full(mask.shape, np.nan)
        if self._score is None:  # a rule policy scores from the context alone
            import pandas as pd

            frame = pd.DataFrame.from_records([ctx for ctx, _ in requests])
            return np.where(mask, self.policy.scores(frame), np.nan)
        make = self.policy.row  # context, action (as text), its features and crosses
        where = np.nonzero(mask)
        rows = [make(requests[i][0], self.actions[j]) for i, j in zip(*where, strict=True)]
        scores[where] = self._score(rows)
        return scores
