"""A log of logged feedback, read and checked: contexts, actions, rewards, propensities.

A *bandit log* has one row per decision that was taken: context columns (what was known
when deciding), the action taken, the reward that followed and, when the logging policy
recorded it, the probability with which that action was taken (its *propensity*). Actions
may have features of their own, in a second table joined by key (``--actions items.csv
--action-key item_id``).

Every check runs before anything is learned or stored, and each problem is one line naming
the column, the row and the value: a column that is missing, rewards that are not numbers,
propensities outside (0, 1], a single action, an action without a row in the action table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelloop.config import Settings
from modelloop.data import Dataset, Role, Schema, load
from modelloop.data._names import column_not_found
from modelloop.evaluation import action_text, check_propensities
from modelloop.exceptions import InvalidInputError, TargetError
from modelloop.models import crossed_columns
from modelloop.store import Store
from modelloop.workflows._ingest import load_source

__all__ = ["BanditLog", "read_bandit_log", "reward_frame"]


@dataclass(frozen=True, eq=False)
class BanditLog:
    """A checked bandit log.

    ``dataset`` is the log with its schema: ``reward`` is the target, the action and
    propensity columns are marked as not features, so ``dataset.schema.feature_columns()``
    are the context columns (what a request to ``decide`` carries). ``rewards``,
    ``actions`` and ``propensities`` are per row (``propensities`` is ``None`` for a log
    without them). ``action_features`` maps each action (as text, see
    ``evaluation.action_text``) to its features; ``feature_roles`` holds the roles of the
    context and action-feature columns.
    """

    dataset: Dataset
    action: str
    reward: str
    propensity: str | None
    actions: list[Any]
    logged_actions: list[Any]
    rewards: np.ndarray
    propensities: np.ndarray | None
    action_features: dict[str, dict[str, Any]] = field(default_factory=dict)
    feature_roles: dict[str, str] = field(default_factory=dict)
    action_key: str | None = None
    actions_source: str | None = None
    notes: list[str] = field(default_factory=list)
    kept: np.ndarray | None = None  # positions of the rows kept, in the table as read
    # context columns crossed with the action in the reward model's rows (see
    # models.crossed_columns): {column: 'numeric' | 'categorical'}
    interactions: dict[str, str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.rewards)

    @property
    def name(self) -> str:
        return self.dataset.name

    @property
    def context(self) -> list[str]:
        """The context columns, in order."""
        return self.dataset.schema.feature_columns()

    def contexts(self, rows: Any = None) -> pd.DataFrame:
        """The context columns of ``rows`` (positions; default all), indexed 0..n-1."""
        frame = self.dataset.frame[self.context]
        if rows is not None:
            frame = frame.iloc[rows]
        return frame.reset_index(drop=True)

    @property
    def binary_rewards(self) -> bool:
        """Whether every reward is 0 or 1 (a click): the reward model is then a classifier."""
        return bool(np.isin(self.rewards, (0.0, 1.0)).all())


def _column(frame: pd.DataFrame, name: str | None, what: str, source: str) -> None:
    if name is not None and name not in frame.columns:
        raise column_not_found(name, list(frame.columns), f"{source} (the {what})")


def _numbers(values: pd.Series, column: str, source: str, what: str) -> np.ndarray:
    """Values as floats; ``InvalidInputError`` naming the first one that is not a number."""
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values.tolist()):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if isinstance(v, bool | np.bool_):
            out[i] = float(v)
            continue
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"Column '{column}' of {source} must hold numbers ({what}). Got {v!r} in row "
                f"{i + 1}."
            ) from None
        if not math.isfinite(out[i]):
            raise InvalidInputError(
                f"Column '{column}' of {source} must hold finite numbers ({what}). Got {v!r} "
                f"in row {i + 1}."
            )
    return out


def read_bandit_log(
    source: str | Path | pd.DataFrame | Dataset,
    *,
    action: str,
    reward: str,
    propensity: str | None = None,
    actions: str | Path | pd.DataFrame | None = None,
    action_key: str | None = None,
    rule_column: str | None = None,
    require_rewards: bool = True,
    drop: Sequence[str] = (),
    types: Mapping[str, str] | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
) -> BanditLog:
    """Load ``source`` as a bandit log and check it (see the module docstring).

    Rows with a missing reward or action are left out, with a note. ``require_rewards``
    False (the rule policy) lets a log without any reward through.

    Examples
    --------
    >>> log = read_bandit_log("random_men.csv", action="item_id", reward="click",
    ...                       propensity="propensity_score")  # doctest: +SKIP
    >>> log.n, len(log.actions)  # doctest: +SKIP
    (10000, 34)
    """
    if isinstance(source, Dataset):
        dataset = source
    else:
        dataset = load_source(source, drop=drop, types=types, settings=settings, store=store)
    frame = dataset.frame
    where = dataset.name
    for name, what in (
        (action, "action"),
        (reward, "reward"),
        (propensity, "propensity"),
        (rule_column, "rule's action"),
    ):
        _column(frame, name, what, where)
    named = [c for c in (action, reward, propensity) if c is not None]
    if len(set(named)) != len(named):
        raise InvalidInputError(
            f"The action, reward and propensity must be three different columns. Got "
            f"action='{action}', reward='{reward}', propensity='{propensity}'."
        )
    notes: list[str] = []
    rewards = _numbers(frame[reward], reward, where, "the reward")
    acts = frame[action]
    keep = acts.notna().to_numpy().copy()
    if require_rewards:
        keep &= ~np.isnan(rewards)
    kept = np.flatnonzero(keep)
    n_out = int((~keep).sum())
    if n_out:
        notes.append(f"{n_out} rows without a reward or an action were left out.")
        frame = frame.loc[keep].reset_index(drop=True)
        rewards = rewards[keep]
        dataset = replace(dataset, frame=frame)
    if len(frame) == 0:
        raise TargetError(
            f"{where} has no row with both an action ('{action}') and a reward ('{reward}')."
        )
    if require_rewards and np.all(rewards == rewards[0]):
        raise TargetError(
            f"Every reward in column '{reward}' of {where} is {rewards[0]:g}: there is nothing "
            "to learn about which action does better."
        )
    props = None
    if propensity is not None:
        props = check_propensities(frame[propensity].tolist(), column=propensity, source=where)
    logged = [_plain(a) for a in frame[action].tolist()]
    distinct = list(dict.fromkeys(action_text(a) for a in logged))
    table: dict[str, dict[str, Any]] = {}
    roles: dict[str, str] = {}
    table_source = None
    if actions is not None:
        table, roles, table_source = _action_table(actions, action_key or action, distinct)
    if len(distinct) < 2 and len(table) < 2:
        raise InvalidInputError(
            f"Column '{action}' of {where} holds a single action ({logged[0]!r}): a policy needs "
            "at least 2 actions to choose between. Check --action, or log more actions."
        )
    every = list(dict.fromkeys([*logged, *(_key_value(k) for k in table)]))
    every = list({action_text(a): a for a in every}.values())
    context_names = [
        c.name
        for c in dataset.schema.columns
        if c.is_feature and c.name not in (action, reward, propensity)
    ]
    clash = [n for n in roles if n in context_names or n == action]
    if clash:
        raise InvalidInputError(
            f"The action table {table_source} has column(s) {', '.join(map(repr, clash))} that "
            f"{where} has too: rename them in one of the two tables."
        )
    if not context_names:
        raise InvalidInputError(
            f"{where} has no context column besides the action, reward and propensity: a "
            "policy needs something to decide on."
        )
    schema = _log_schema(dataset.schema, action, reward, propensity)
    own = tuple(f"Column '{c}'" for c in named)
    roles = {**{c: schema[c].role.value for c in context_names}, **roles}
    return BanditLog(
        dataset=replace(dataset, schema=schema),
        action=action,
        reward=reward,
        propensity=propensity,
        actions=every,
        logged_actions=logged,
        rewards=rewards,
        propensities=props,
        action_features=table,
        feature_roles=roles,
        action_key=action_key if actions is not None else None,
        actions_source=table_source,
        # the profile's notes on the action, reward and propensity ("constant: dropped") do
        # not apply: those columns are read as what they are, never as contexts
        notes=notes + [n for n in dataset.schema.notes if not n.startswith(own)],
        kept=kept,
    )


def _log_schema(schema: Schema, action: str, reward: str, propensity: str | None) -> Schema:
    """The log's schema: the reward is the target; action and propensity are not contexts."""
    cols = []
    for col in schema.columns:
        if col.name == action:
            col = replace(col, role=Role.IDENTIFIER, note="the action taken: not a context")
        elif col.name == propensity:
            col = replace(col, role=Role.IDENTIFIER, note="the logging policy's propensity")
        elif col.role is Role.BOOLEAN and col.dtype.startswith(("float", "int")):
            # 0/1 numbers in a log are usually counts or flags that may take other values
            # later (an affinity of 2): a number accepts them, a boolean would refuse them
            col = replace(col, role=Role.NUMERIC, categories=None, note="0/1 numbers: numeric")
        cols.append(col)
    return Schema(tuple(cols), target=reward, notes=schema.notes)


def _action_table(
    source: str | Path | pd.DataFrame, key: str, logged: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, str], str]:
    """``({action text: features}, {feature: role}, source name)``, checked."""
    table = load(source, name=None if not isinstance(source, pd.DataFrame) else "actions")
    where = table.name if isinstance(source, pd.DataFrame) else str(source)
    if key not in table.frame.columns:
        raise column_not_found(key, list(table.frame.columns), f"{where} (the action key)")
    keys = [action_text(_plain(k)) for k in table.frame[key].tolist()]
    dup = pd.Series(keys)[pd.Series(keys).duplicated()].tolist()
    if dup:
        raise InvalidInputError(
            f"Column '{key}' of {where} names action {dup[0]} more than once: each action needs "
            "exactly one row of features."
        )
    missing = [a for a in logged if a not in set(keys)]
    if missing:
        shown = ", ".join(missing[:10])
        raise InvalidInputError(
            f"{len(missing)} logged action(s) have no row in {where} (by '{key}'): {shown}. "
            "Add their features."
        )
    features = [c for c in table.schema.feature_columns() if c != key]
    if not features:
        raise InvalidInputError(
            f"{where} has no feature column besides the key '{key}' (the others are "
            "identifiers or constant)."
        )
    rows = table.frame[features].astype(object).where(table.frame[features].notna(), None)
    out = {
        k: {f: _plain(v) for f, v in r.items()}
        for k, r in zip(keys, rows.to_dict("records"), strict=True)
    }
    roles = {f: table.schema[f].role.value for f in features}
    return out, roles, where


def reward_frame(log: BanditLog, rows: Any, actions: Sequence[Any]) -> pd.DataFrame:
    """The reward model's input for ``rows`` (positions) of the log, each with ``actions``.

    Columns: the contexts, the action column and the action's features.
    """
    frame = log.contexts(rows)
    frame[log.action] = [_plain(a) for a in actions]
    if log.action_features:
        texts = [action_text(a) for a in actions]
        names = next(iter(log.action_features.values())).keys()
        for name in names:
            frame[name] = [log.action_features[t][name] for t in texts]
    if log.interactions:
        frame = crossed_columns(frame, log.action, _sorted(log.actions), log.interactions)
    return frame


def _sorted(actions: list[Any]) -> list[Any]:
    """The actions in the order ``models.RewardPolicy`` keeps them (numbers first)."""

    def key(value: Any) -> tuple[int, Any]:
        if isinstance(value, int | float | np.number) and not isinstance(value, bool):
            return (0, float(value))
        return (1, str(value))

    return sorted(actions, key=key)


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones; a whole-number float as an int (action 3, not 3.0)."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _key_value(text: str) -> Any:
    """An action table's key back as a number when it reads as one (keys are matched as text)."""
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number
