"""A decision policy, ready to serve: score the candidates, explore, sample one action.

:class:`ServedPolicy` wraps a fitted ``models.RewardPolicy`` or ``models.RulePolicy``. For a
reward policy the reward model is compiled like any served pipeline (``_fastpath``): each
request's context becomes one row per candidate action (context, action, the action's
features), and one call scores the rows of every request of a micro-batch. The policy's own
exploration rule turns the scores into probabilities, and one action per request is drawn
with a generator seeded from the operating system (a fresh one in every worker process).
"""

from __future__ import annotations

import logging
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

log = logging.getLogger("modelloop.serving")

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
        self._factored: _Factored | None = None
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
        schema = _input_schema(model)
        compiled = None
        if isinstance(schema, Schema):
            compiled = compile_pipeline(model, schema)
        if compiled is not None and isinstance(schema, Schema) and not policy.interactions:
            self._factored = _Factored.build(compiled, model, schema, policy)
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
        where = np.nonzero(mask)
        if self._factored is not None:  # each context encoded once, each action once
            scores[where] = self._factored.scores([ctx for ctx, _ in requests], *where)
            return scores
        make = self.policy.row  # context, action (as text), its features and crosses

        rows = [make(requests[i][0], self.actions[j]) for i, j in zip(*where, strict=True)]
        scores[where] = self._score(rows)
        return scores


def _input_schema(model: Any, depth: int = 0) -> Schema | None:
    """The input schema of a modelloop model: its (first) pipeline's SchemaEnforcer's, through
    ensembles, bags and threshold / temperature wrappers."""
    if depth > 4 or model is None:
        return None
    steps = getattr(model, "steps", None)
    if steps:
        schema = getattr(steps[0][1], "schema_", None)
        return schema if isinstance(schema, Schema) else None
    for attr in ("estimators_", "estimators"):
        members = getattr(model, attr, None)
        if isinstance(members, list | tuple) and members:
            first = members[0][1] if isinstance(members[0], tuple) else members[0]
            return _input_schema(first, depth + 1)
    return _input_schema(getattr(model, "estimator_", getattr(model, "estimator", None)), depth + 1)


class _Factored:
    """Scores of (context, action) pairs from one encoding of each context and each action.

    Without crosses, every column of a reward model's input matrix depends on the context
    or on the action, never on both: the matrix of a pair is the context's row with the
    action's columns put in. The contexts of a batch go through the fast path once each
    (not once per candidate), the actions once when the policy is loaded. Which columns
    are the action's is read off probe rows (every known category, missing and unseen
    values); the factored matrices must equal the fast path's own on every probe pair, or
    the policy is scored row by row as before.
    """

    def __init__(self, members: list[tuple[Any, Any, np.ndarray, np.ndarray]], weights: Any,
                 values: np.ndarray | None, policy: Any) -> None:  # fmt: skip
        self.members = members  # (matrix of rows, score function, action columns, action rows)
        self.weights = weights
        self.values = values  # class values (expected reward) or None (a regressor)
        self.policy = policy
        self.compiled: Any = None  # the compiled reward model, set by ``build`` once checked

    @classmethod
    def build(cls, compiled: Any, model: Any, schema: Schema, policy: Any) -> _Factored | None:
        from modelloop.serving._fastpath import probe_rows

        try:
            members = getattr(compiled, "_members", None)
            if not members or any(blocks[1] for blocks, _, _ in members):  # sparse blocks
                return None
            pipelines = list(
                getattr(model, "estimators_", None) or getattr(model, "estimators", None) or [model]
            )
            probes = probe_rows(schema, pipelines)[:12]
            actions = policy.actions_
            base = actions[0]
            classifier = hasattr(compiled, "predict_proba")
            values = np.asarray(compiled.classes_, dtype=float) if classifier else None
            out = []
            for m, (_, proba, predict) in enumerate(members):
                fn = proba if classifier else predict
                act = compiled.matrix([policy.row(probes[0], a) for a in actions], m)
                ctx = compiled.matrix([policy.row(p, base) for p in probes], m)
                full = compiled.matrix([policy.row(p, a) for p in probes for a in actions], m)
                varies = np.any(act != act[:1], axis=0)
                built = np.repeat(ctx, len(actions), axis=0)
                built[:, varies] = np.tile(act[:, varies], (len(probes), 1))
                if not np.array_equal(built, full, equal_nan=True):
                    return None
                out.append((m, fn, varies, act))
            factored = cls(out, getattr(compiled, "_weights", None), values, policy)
            rows = [policy.row(p, a) for p in probes for a in actions]
            direct = compiled.predict_proba(rows) @ values if classifier else compiled.predict(rows)
            n, k = len(probes), len(actions)
            pairs = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
            if not np.allclose(factored._score(compiled, probes, *pairs), direct, equal_nan=True):
                return None
            factored.compiled = compiled
            return factored
        except Exception:  # anything unexpected: score row by row
            log.debug("no factored scoring for the policy", exc_info=True)
            return None

    def _score(
        self, compiled: Any, contexts: Sequence[dict[str, Any]], rows: Any, cols: Any
    ) -> np.ndarray:
        base = self.policy.actions_[0]
        outs = []
        encoded = [self.policy.row(c, base) for c in contexts]
        for m, fn, varies, act in self.members:
            X = compiled.matrix(encoded, m)[rows]
            X[:, varies] = act[cols][:, varies]
            outs.append(np.asarray(fn(X), dtype=float))
        out = (
            outs[0]
            if self.weights is None
            else np.average(np.asarray(outs), axis=0, weights=self.weights)
        )
        return out @ self.values if self.values is not None else out.ravel()

    def scores(self, contexts: Sequence[dict[str, Any]], rows: Any, cols: Any) -> np.ndarray:
        """The expected reward of each (row ``rows[i]``, action ``cols[i]``) pair."""
        return self._score(self.compiled, contexts, rows, cols)
