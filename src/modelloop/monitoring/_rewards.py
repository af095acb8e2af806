"""The rewards of a decision policy over time: decisions, rewards, the reward rate.

Each logged decision is ``rewarded`` (its reward came), ``defaulted`` (no reward within
the policy's reward wait: it counts with the default reward), ``pending`` (still within
the wait) or ``dropped`` (no reward and no default). The reward rate of a window is the
mean reward of its resolved decisions (rewarded and defaulted). The rule ``reward_drop``
fires when the rate of the whole window falls short of the value the policy was expected
to have (its off-policy estimate at training) by ``max_drop`` or more, relatively.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from modelloop.evaluation import OffPolicyReport
from modelloop.monitoring._alerts import Alert

__all__ = ["STATUSES", "RewardReport", "RewardWindow", "reward_alert", "reward_report"]

STATUSES = ("rewarded", "defaulted", "pending", "dropped")
_MIN_WINDOW = 50


@dataclass(frozen=True)
class RewardWindow:
    """One slice of time: how many decisions, how they stand, the mean reward."""

    start: datetime
    end: datetime
    decisions: int
    rewarded: int
    defaulted: int
    pending: int
    reward_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "decisions": self.decisions,
            "rewarded": self.rewarded,
            "defaulted": self.defaulted,
            "pending": self.pending,
            "reward_rate": _finite(self.reward_rate),
        }


@dataclass(frozen=True)
class RewardReport:
    """Decisions and rewards of a window of the decision log, and the policy's values.

    ``expected_value`` is the policy's estimated value at training (its test ``value_dr``);
    ``estimates`` the off-policy estimates of the served version on the window's resolved
    decisions (the log may mix versions; for the version that made them it is on-policy).
    """

    decisions: int
    counts: dict[str, int]
    reward_rate: float | None
    windows: tuple[RewardWindow, ...] = ()
    expected_value: float | None = None
    estimates: OffPolicyReport | None = None
    actions: dict[str, int] = field(default_factory=dict)

    @property
    def drop(self) -> float | None:
        """How far the reward rate is below the expected value, relatively (None: unknown)."""
        if self.reward_rate is None or self.expected_value is None or self.expected_value <= 0:
            return None
        return (self.expected_value - self.reward_rate) / self.expected_value

    def to_dict(self) -> dict[str, Any]:
        return {
            "decisions": self.decisions,
            **self.counts,
            "reward_rate": _finite(self.reward_rate),
            "expected_value": _finite(self.expected_value),
            "drop": _finite(self.drop),
            "actions": dict(self.actions),
            "windows": [w.to_dict() for w in self.windows],
            "estimates": None if self.estimates is None else self.estimates.to_dict(),
        }


def reward_report(
    times: Sequence[datetime],
    status: Sequence[str],
    rewards: Sequence[float | None],
    *,
    actions: Sequence[Any] = (),
    expected_value: float | None = None,
    estimates: OffPolicyReport | None = None,
    max_windows: int = 8,
) -> RewardReport:
    """Counts, the reward rate and up to ``max_windows`` time slices of equal decision counts.

    ``status[i]`` is one of :data:`STATUSES`; ``rewards[i]`` the reward of a rewarded or
    defaulted decision (ignored otherwise). Decisions are in time order.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = [datetime(2026, 1, 1, tzinfo=UTC)] * 4
    >>> r = reward_report(t, ["rewarded", "defaulted", "pending", "rewarded"], [1, 0, None, 1])
    >>> round(r.reward_rate, 4), r.counts["pending"]
    (0.6667, 1)
    """
    n = len(times)
    if len(status) != n or len(rewards) != n:
        raise ValueError("times, status and rewards need one value per decision")
    st = np.asarray(status, dtype=object)
    values = np.array([np.nan if v is None else float(v) for v in rewards], dtype=float)
    resolved = (st == "rewarded") | (st == "defaulted")
    counts = {s: int(np.sum(st == s)) for s in STATUSES}
    rate = float(np.mean(values[resolved])) if resolved.any() else None
    windows = []
    k = max(1, min(max_windows, n // _MIN_WINDOW)) if n else 0
    for idx in np.array_split(np.arange(n), k) if k else []:
        sel = resolved[idx]
        windows.append(
            RewardWindow(
                start=times[idx[0]],
                end=times[idx[-1]],
                decisions=len(idx),
                rewarded=int(np.sum(st[idx] == "rewarded")),
                defaulted=int(np.sum(st[idx] == "defaulted")),
                pending=int(np.sum(st[idx] == "pending")),
                reward_rate=float(np.mean(values[idx][sel])) if sel.any() else None,
            )
        )
    mix: dict[str, int] = {}
    for a in actions:
        mix[str(a)] = mix.get(str(a), 0) + 1
    return RewardReport(
        decisions=n,
        counts=counts,
        reward_rate=rate,
        windows=tuple(windows),
        expected_value=expected_value,
        estimates=estimates,
        actions=dict(sorted(mix.items(), key=lambda kv: -kv[1])),
    )


def reward_alert(report: RewardReport, max_drop: float | None) -> Alert | None:
    """``reward_drop`` when the reward rate is ``max_drop`` (relative) below the expected value."""
    drop = report.drop
    if max_drop is None or drop is None or drop < max_drop:
        return None
    return Alert(
        "reward_drop",
        float(drop),
        float(max_drop),
        f"The reward rate {report.reward_rate:.4g} is {drop:.0%} below the value the policy was "
        f"expected to have ({report.expected_value:.4g}, its off-policy estimate at training) "
        f"(>= {max_drop:.0%}).",
    )


def _finite(value: float | None) -> float | None:
    return value if isinstance(value, int | float) and math.isfinite(value) else None
