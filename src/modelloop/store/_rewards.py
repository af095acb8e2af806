"""Rewards for logged decisions: the feedback of a decision policy (task ``bandit``).

A served decision is a row of the prediction log: its ``request_id`` is the decision's
*event id*, ``prediction`` the action taken and ``probabilities`` the policy's probability
of each candidate action (the taken one's is its propensity). A reward is stored in the
row's ``label`` (with ``labeled_at``), once:

* a reward for an event id the log does not have is **unknown** (nothing written);
* a reward arriving after the model's *reward wait* has passed since the decision is
  **expired** (nothing written: by then the decision counts with its default reward);
* a second reward for the same event is a **duplicate** when it repeats the first value
  (nothing written, reported so a retried request is harmless) and a **conflict** when it
  differs (nothing written: the first reward stands);
* a reward that is not a finite number is **rejected**.

Every item is judged on its own; the accepted rewards are written in one transaction, each
only where the row has no reward yet (so two servers racing on one event cannot both win).
Functions here take a connection; the :class:`~modelloop.store.Store` methods decide the
transaction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from modelloop.exceptions import InvalidInputError
from modelloop.store._db import now
from modelloop.store._tables import predictions

__all__ = ["RewardResult", "attach_rewards", "check_reward", "reward_counts"]

_CHUNK = 500
_MAX_SHOWN = 100


@dataclass(frozen=True)
class RewardResult:
    """What became of a batch of rewards (see the module docstring for each outcome).

    ``recorded`` counts rewards written; ``duplicates`` / ``conflicts`` / ``expired`` /
    ``unknown`` list event ids (at most 100 shown; the ``n_*`` counts are exact);
    ``rejected`` holds ``{"index", "event_id", "reason"}``; ``details`` per event id the
    time of the decision and, for duplicates and conflicts, the reward already recorded.
    """

    model_name: str
    received: int
    recorded: int
    duplicates: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_duplicates: int = 0
    n_conflicts: int = 0
    n_expired: int = 0
    n_unknown: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (``modelloop feedback --json`` for a policy)."""
        return {
            "model": self.model_name,
            "received": self.received,
            "recorded": self.recorded,
            "duplicates": list(self.duplicates),
            "n_duplicates": self.n_duplicates,
            "conflicts": list(self.conflicts),
            "n_conflicts": self.n_conflicts,
            "expired": list(self.expired),
            "n_expired": self.n_expired,
            "unknown": list(self.unknown),
            "n_unknown": self.n_unknown,
            "rejected": list(self.rejected),
        }


def check_reward(value: Any) -> tuple[float | None, str]:
    """``(reward as a float, '')``, or ``(None, reason)`` when it is not a finite number.

    ``true`` / ``false`` count as 1 and 0 (a click); text that reads as a number is one.

    Examples
    --------
    >>> check_reward(1), check_reward("0.5"), check_reward(True)
    ((1.0, ''), (0.5, ''), (1.0, ''))
    >>> check_reward("yes")[1]
    "reward must be a number. Got 'yes'"
    """
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, "reward is missing"
    if isinstance(value, bool):
        return float(value), ""
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None, f"reward must be a number. Got {value!r}"
    else:
        return None, f"reward must be a number. Got {value!r:.60}"
    if not math.isfinite(number):
        return None, f"reward must be a finite number. Got {value!r}"
    return number, ""


def _event(item: Any) -> tuple[str | None, str]:
    if not isinstance(item, Mapping):
        return None, f"an item must be an object with event_id and reward. Got {item!r:.60}"
    event = item.get("event_id", item.get("request_id"))
    if not isinstance(event, str) or not event.strip():
        return None, f"event_id must be a non-empty string. Got {event!r:.60}"
    if "reward" not in item:
        return event.strip(), "the item lacks 'reward'"
    return event.strip(), ""


def attach_rewards(
    conn: sa.Connection,
    model_name: str,
    items: Sequence[Any],
    *,
    wait: timedelta,
    at: datetime | None = None,
) -> RewardResult:
    """Check every item and store the rewards that may be stored (module docstring)."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise InvalidInputError(
            f"Rewards must be a list of {{'event_id', 'reward'}} items. Got {type(items).__name__}."
        )
    stamp = at or now()
    rejected: list[dict[str, Any]] = []
    wanted: dict[str, tuple[int, float]] = {}  # event -> (index, reward): the first item wins
    repeats: list[tuple[int, str, float]] = []
    for index, item in enumerate(items):
        event, reason = _event(item)
        if not reason:
            value, reason = check_reward(item["reward"])
        if reason:
            rejected.append({"index": index, "event_id": event, "reason": reason})
            continue
        if event in wanted:
            repeats.append((index, event, value))  # type: ignore[arg-type]
        else:
            wanted[event] = (index, value)  # type: ignore[index,assignment]

    found: dict[str, Any] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = list(wanted)[start : start + _CHUNK]
        query = sa.select(
            predictions.c.id,
            predictions.c.request_id,
            predictions.c.created_at,
            predictions.c.label,
            predictions.c.labeled_at,
        ).where(predictions.c.model_name == model_name, predictions.c.request_id.in_(chunk))
        for hit in conn.execute(query):
            found[hit.request_id] = hit
    unknown: list[str] = []
    expired: list[str] = []
    duplicates: list[str] = []
    conflicts: list[str] = []
    details: dict[str, dict[str, Any]] = {}
    writes = []
    for event, (_, value) in wanted.items():
        row = found.get(event)
        if row is None:
            unknown.append(event)
            continue
        details[event] = {"decided_at": row.created_at.isoformat()}
        if row.labeled_at is not None:
            details[event].update(reward=row.label, rewarded_at=row.labeled_at.isoformat())
            (duplicates if _same(row.label, value) else conflicts).append(event)
            continue
        if stamp - row.created_at > wait:
            details[event]["late_by_s"] = round((stamp - row.created_at - wait).total_seconds(), 1)
            expired.append(event)
            continue
        writes.append({"b_id": row.id, "b_reward": value, "b_at": stamp, "event": event})
    recorded = 0
    for w in writes:  # only where no reward is stored yet: a racing writer cannot overwrite
        done = conn.execute(
            predictions.update()
            .where(predictions.c.id == w["b_id"], predictions.c.labeled_at.is_(None))
            .values(label=w["b_reward"], labeled_at=w["b_at"])
        ).rowcount
        if done:
            recorded += 1
            details[w["event"]].update(reward=w["b_reward"], rewarded_at=stamp.isoformat())
        else:
            conflicts.append(w["event"])
    for _, event, value in repeats:  # a second item for an event of this batch
        first = wanted[event][1]
        if event in unknown or event in expired:
            continue
        (duplicates if _same(first, value) else conflicts).append(event)
    return RewardResult(
        model_name=model_name,
        received=len(items),
        recorded=recorded,
        duplicates=duplicates[:_MAX_SHOWN],
        conflicts=conflicts[:_MAX_SHOWN],
        expired=expired[:_MAX_SHOWN],
        unknown=unknown[:_MAX_SHOWN],
        rejected=rejected,
        details={k: v for k, v in list(details.items())[: 4 * _MAX_SHOWN]},
        n_duplicates=len(duplicates),
        n_conflicts=len(conflicts),
        n_expired=len(expired),
        n_unknown=len(unknown),
    )


def _same(stored: Any, value: float) -> bool:
    try:
        return math.isclose(float(stored), value, rel_tol=1e-12, abs_tol=1e-12)
    except (TypeError, ValueError):
        return False


def reward_counts(
    conn: sa.Connection, model_name: str, *, since: datetime | None = None
) -> dict[str, int]:
    """``{"decisions", "rewarded"}``: logged decisions of ``model_name`` and those with a reward."""
    base = sa.select(sa.func.count()).where(predictions.c.model_name == model_name)
    if since is not None:
        base = base.where(predictions.c.created_at >= since)
    decisions = int(conn.execute(base).scalar_one())
    rewarded = int(conn.execute(base.where(predictions.c.labeled_at.is_not(None))).scalar_one())
    return {"decisions": decisions, "rewarded": rewarded}
