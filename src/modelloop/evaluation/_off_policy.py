"""Off-policy evaluation: the value a policy would have had, estimated from a log it did not make.

A log of ``n`` decisions holds, for each row ``i``, the context ``x_i``, the action ``a_i``
the logging policy took with probability ``p_i`` (its *propensity*) and the reward ``r_i``.
A target policy ``pi`` gives action ``a`` probability ``pi(a | x)``. With the importance
weight ``w_i = pi(a_i | x_i) / p_i``:

* **IPS** (inverse propensity scoring): ``mean(w_i r_i)``. Unbiased when every action ``pi``
  takes has ``p > 0``; its variance grows with the weights.
* **SNIPS** (self-normalised IPS): ``sum(w_i r_i) / sum(w_i)``. A little biased, far less
  variable; equal to IPS when the weights average 1.
* **DR** (doubly robust): ``mean(q_pi(x_i) + w_i (r_i - q(x_i, a_i)))`` where ``q`` is a
  reward model and ``q_pi(x) = sum_a pi(a | x) q(x, a)``. Unbiased when the propensities are
  right *or* the reward model is; usually the least variable of the three.
* **DM** (direct method): ``mean(q_pi(x_i))``, the reward model alone (biased when it is).

Intervals are percentile bootstrap intervals over the rows of the log (the reward model held
fixed). The *effective sample size* ``(sum w)^2 / sum w^2`` says how many rows of an
on-policy log the estimate is worth: far below ``n``, it is dominated by a few rows.

References: Horvitz & Thompson (1952); Swaminathan & Joachims (2015) for SNIPS; Dudík,
Langford & Li, "Doubly Robust Policy Evaluation and Learning" (ICML 2011).

Examples
--------
>>> import numpy as np
>>> rewards = np.array([1.0, 0.0, 1.0, 0.0])
>>> propensity = np.array([0.5, 0.5, 0.25, 0.25])
>>> target = np.array([1.0, 0.0, 0.5, 1.0])      # pi(a_i | x_i)
>>> weights = target / propensity                 # 2, 0, 2, 4: exact in binary
>>> ips(rewards, weights), snips(rewards, weights)  # 4 / 4 rows, 4 / 8 weight
(1.0, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelloop.data import json_value
from modelloop.exceptions import InvalidInputError

__all__ = [
    "ESTIMATORS",
    "NEAR_ZERO_PROPENSITY",
    "OffPolicyReport",
    "PolicyEstimate",
    "action_text",
    "check_propensities",
    "direct_method",
    "doubly_robust",
    "effective_sample_size",
    "ips",
    "off_policy_report",
    "snips",
]

ESTIMATORS = ("ips", "snips", "dr", "dm")
NEAR_ZERO_PROPENSITY = 1e-3
"""Propensities below this make weights of 1,000 and more: a handful of rows can dominate."""

_BOOT_CHUNK = 200  # resamples drawn at once (memory: chunk x n indices)


def ips(rewards: Any, weights: Any) -> float:
    """Inverse propensity scoring: ``mean(w * r)``."""
    r, w = _floats(rewards), _floats(weights)
    return float(np.mean(w * r)) if len(r) else float("nan")


def snips(rewards: Any, weights: Any) -> float:
    """Self-normalised IPS: ``sum(w * r) / sum(w)`` (NaN when every weight is 0)."""
    r, w = _floats(rewards), _floats(weights)
    total = float(np.sum(w))
    return float(np.sum(w * r) / total) if total > 0 else float("nan")


def doubly_robust(rewards: Any, weights: Any, q_logged: Any, q_policy: Any) -> float:
    """``mean(q_policy + w * (r - q_logged))``.

    ``q_logged[i]`` is the reward model's prediction for the logged action of row ``i``;
    ``q_policy[i]`` its prediction averaged over the target policy's actions.
    """
    r, w = _floats(rewards), _floats(weights)
    return float(np.mean(_floats(q_policy) + w * (r - _floats(q_logged)))) if len(r) else math.nan


def direct_method(q_policy: Any) -> float:
    """The reward model's value of the target policy: ``mean(q_policy)``."""
    q = _floats(q_policy)
    return float(np.mean(q)) if len(q) else float("nan")


def effective_sample_size(weights: Any) -> float:
    """``(sum w)^2 / sum w^2``: ``n`` for equal weights, 1 when one row has all the weight.

    Examples
    --------
    >>> effective_sample_size([1, 1, 1, 1]), effective_sample_size([0, 0, 3, 0])
    (4.0, 1.0)
    """
    w = _floats(weights)
    squares = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / squares if squares > 0 else 0.0


def check_propensities(
    propensity: Any, *, column: str = "propensity", source: str = "the log"
) -> np.ndarray:
    """Propensities as floats, each in (0, 1]; ``InvalidInputError`` naming the first bad row.

    Examples
    --------
    >>> check_propensities([0.5, 1.0]).tolist()
    [0.5, 1.0]
    >>> check_propensities([0.5, 0.0])
    Traceback (most recent call last):
    ...
    modelloop.exceptions.InvalidInputError: Column 'propensity' of the log must hold probabilities in (0, 1]. Got 0.0 in row 1.
    """
    values = np.asarray(propensity, dtype=object)
    out = np.empty(len(values), dtype=float)
    for i, v in enumerate(values):
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"Column '{column}' of {source} must hold probabilities in (0, 1]. Got {v!r} in "
                f"row {i}."
            ) from None
        out[i] = f
    bad = ~((out > 0) & (out <= 1))  # NaN fails both
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        shown = "a missing value" if math.isnan(out[i]) else repr(float(out[i]))
        raise InvalidInputError(
            f"Column '{column}' of {source} must hold probabilities in (0, 1]. Got {shown} in "
            f"row {i}."
        )
    return out


@dataclass(frozen=True)
class PolicyEstimate:
    """One estimator's value of the target policy, with a bootstrap interval."""

    estimator: str
    value: float
    low: float
    high: float
    std_error: float

    def covers(self, value: float) -> bool:
        """Whether the interval contains ``value``."""
        return bool(self.low <= value <= self.high)

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimator": self.estimator,
            "value": _finite(self.value),
            "low": _finite(self.low),
            "high": _finite(self.high),
            "std_error": _finite(self.std_error),
        }


@dataclass(frozen=True)
class OffPolicyReport:
    """Every estimate of a target policy's value on one log, and how far to trust them.

    ``logging_value`` is the log's mean reward (the logging policy's own value, on-policy);
    ``ess`` the effective sample size of the importance weights; ``warnings`` one sentence
    each (propensities near zero, weights dominated by few rows, actions the log never
    tried).
    """

    estimates: dict[str, PolicyEstimate]
    n: int
    ess: float
    logging_value: float
    max_weight: float
    min_propensity: float
    confidence: float
    n_bootstrap: int
    unsupported_share: float = 0.0
    unsupported_actions: tuple[Any, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def __getitem__(self, name: str) -> PolicyEstimate:
        return self.estimates[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "estimates": {k: v.to_dict() for k, v in self.estimates.items()},
            "ess": round(self.ess, 2),
            "logging_value": _finite(self.logging_value),
            "max_weight": _finite(self.max_weight),
            "min_propensity": _finite(self.min_propensity),
            "confidence": self.confidence,
            "n_bootstrap": self.n_bootstrap,
            "unsupported_share": round(self.unsupported_share, 6),
            "unsupported_actions": [
                json_value(a, unknown="keep") for a in self.unsupported_actions
            ],
            "warnings": list(self.warnings),
        }

    def metrics(self) -> dict[str, float]:
        """Flat numbers for a model version's metrics: ``value_dr``, ``value_dr_low``, ..."""
        out: dict[str, float] = {}
        for name, est in self.estimates.items():
            out[f"value_{name}"] = est.value
            out[f"value_{name}_low"] = est.low
            out[f"value_{name}_high"] = est.high
        out.update(
            ess=self.ess,
            logging_value=self.logging_value,
            max_weight=self.max_weight,
            n_rows=float(self.n),
        )
        return {k: v for k, v in out.items() if isinstance(v, float) and math.isfinite(v)}


def off_policy_report(
    rewards: Any,
    propensity: Any,
    target_proba: Any,
    *,
    q_logged: Any = None,
    q_policy: Any = None,
    policy_proba: Any = None,
    actions: Sequence[Any] | None = None,
    logged_actions: Any = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> OffPolicyReport:
    """IPS, SNIPS (and with a reward model DR and DM) with bootstrap intervals and diagnostics.

    Parameters
    ----------
    rewards, propensity : per logged row, the reward and the logging policy's probability of
        the logged action (each in (0, 1]).
    target_proba : per logged row, the target policy's probability of the logged action.
    q_logged, q_policy : the reward model's prediction for the logged action, and averaged
        over the target policy's actions (both or neither; they add DR and DM). The model
        must not have been fitted on these rows.
    policy_proba, actions, logged_actions : the target policy's full ``(n, K)`` action
        probabilities over ``actions`` and the logged actions: the share of its probability
        on actions the log never tried is reported (IPS and SNIPS cannot see it).
    n_bootstrap, confidence, seed : the percentile bootstrap over rows.

    Examples
    --------
    >>> report = off_policy_report([1, 0, 1, 0], [0.5] * 4, [1, 0, 1, 0], n_bootstrap=200)
    >>> report["ips"].value, report.ess
    (1.0, 2.0)
    """
    r = _floats(rewards)
    p = check_propensities(propensity)
    t = _floats(target_proba)
    n = len(r)
    if n == 0:
        raise InvalidInputError("Off-policy evaluation needs at least one logged row. Got none.")
    if len(p) != n or len(t) != n:
        raise InvalidInputError(
            f"rewards, propensity and target_proba must have one value per row. Got {n}, "
            f"{len(p)} and {len(t)}."
        )
    if not np.all(np.isfinite(r)):
        raise InvalidInputError("Rewards must be finite numbers. Got a missing or infinite value.")
    if np.any((t < 0) | (t > 1) | ~np.isfinite(t)):
        raise InvalidInputError("target_proba must hold probabilities in [0, 1].")
    if (q_logged is None) != (q_policy is None):
        raise InvalidInputError("Give both q_logged and q_policy (a reward model), or neither.")
    if not 0 < confidence < 1:
        raise InvalidInputError(f"confidence must be in (0, 1). Got {confidence!r}.")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 10:
        raise InvalidInputError(f"n_bootstrap must be an integer >= 10. Got {n_bootstrap!r}.")
    w = t / p
    has_model = q_logged is not None
    ql = _floats(q_logged) if has_model else None
    qp = _floats(q_policy) if has_model else None

    point = {"ips": ips(r, w), "snips": snips(r, w)}
    if has_model:
        point["dr"] = doubly_robust(r, w, ql, qp)
        point["dm"] = direct_method(qp)
    boot = _bootstrap(r, w, ql, qp, n_bootstrap, seed)
    tail = (1 - confidence) / 2
    estimates = {}
    for name, value in point.items():
        draws = boot[name]
        draws = draws[np.isfinite(draws)]
        if len(draws) == 0:
            low = high = se = float("nan")
        else:
            low, high = (float(x) for x in np.quantile(draws, [tail, 1 - tail]))
            se = float(np.std(draws, ddof=1)) if len(draws) > 1 else float("nan")
        estimates[name] = PolicyEstimate(name, value, low, high, se)

    unsupported_share, unsupported = 0.0, ()
    if policy_proba is not None and actions is not None and logged_actions is not None:
        unsupported_share, unsupported = _unsupported(policy_proba, actions, logged_actions)
    ess = effective_sample_size(w)
    report = OffPolicyReport(
        estimates=estimates,
        n=n,
        ess=ess,
        logging_value=float(np.mean(r)),
        max_weight=float(np.max(w)),
        min_propensity=float(np.min(p)),
        confidence=confidence,
        n_bootstrap=n_bootstrap,
        unsupported_share=unsupported_share,
        unsupported_actions=unsupported,
    )
    return _with_warnings(report, p, w)


def _unsupported(policy_proba: Any, actions: Sequence[Any], logged: Any) -> tuple[float, tuple]:
    """The policy's mean probability on actions that never appear in the log, and those."""
    proba = np.asarray(policy_proba, dtype=float)
    seen = {action_text(a) for a in np.asarray(logged, dtype=object).tolist()}
    missing = [j for j, a in enumerate(actions) if action_text(a) not in seen]
    if not missing:
        return 0.0, ()
    mass = proba[:, missing].sum(axis=1)
    used = [
        actions[j] for j, m in zip(missing, proba[:, missing].max(axis=0), strict=True) if m > 0
    ]
    return float(np.mean(mass)), tuple(used)


def _with_warnings(report: OffPolicyReport, p: np.ndarray, w: np.ndarray) -> OffPolicyReport:
    notes = []
    tiny = int(np.sum(p < NEAR_ZERO_PROPENSITY))
    if tiny:
        notes.append(
            f"{tiny} of {report.n} rows have a propensity below {NEAR_ZERO_PROPENSITY:g} (the "
            f"smallest is {report.min_propensity:.3g}): their weights reach "
            f"{report.max_weight:,.0f}, so IPS and DR lean on a handful of rows; prefer SNIPS "
            "or DR and read the intervals."
        )
    if report.n and report.ess < max(30.0, 0.01 * report.n):
        notes.append(
            f"The effective sample size is {report.ess:.1f} of {report.n} rows: the policy "
            "rarely agrees with the log, and the estimates rest on few rows."
        )
    if report.unsupported_share > 0:
        shown = ", ".join(map(str, report.unsupported_actions[:10]))
        more = "" if len(report.unsupported_actions) <= 10 else ", ..."
        notes.append(
            f"The policy puts {report.unsupported_share:.1%} of its probability on actions the "
            f"log never tried ({shown}{more}): IPS and SNIPS count those decisions as reward "
            "0, and DR relies on the reward model for them."
        )
    if not np.any(w > 0):
        notes.append(
            "The policy never takes a logged action (every weight is 0): IPS is 0 and SNIPS "
            "undefined whatever the rewards."
        )
    return OffPolicyReport(**{**report.__dict__, "warnings": tuple(notes)})


def _bootstrap(
    r: np.ndarray,
    w: np.ndarray,
    ql: np.ndarray | None,
    qp: np.ndarray | None,
    n_boot: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Each estimator on ``n_boot`` resamples of the rows (with replacement)."""
    rng = np.random.default_rng(seed)
    n = len(r)
    wr = w * r
    dr_terms = None if ql is None or qp is None else qp + w * (r - ql)
    out: dict[str, list[np.ndarray]] = {"ips": [], "snips": [], "dr": [], "dm": []}
    done = 0
    while done < n_boot:
        k = min(_BOOT_CHUNK, n_boot - done)
        idx = rng.integers(0, n, size=(k, n))
        sum_wr = wr[idx].sum(axis=1)
        sum_w = w[idx].sum(axis=1)
        out["ips"].append(sum_wr / n)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["snips"].append(np.where(sum_w > 0, sum_wr / sum_w, np.nan))
        if dr_terms is not None and qp is not None:
            out["dr"].append(dr_terms[idx].mean(axis=1))
            out["dm"].append(qp[idx].mean(axis=1))
        done += k
    return {k: np.concatenate(v) if v else np.array([]) for k, v in out.items()}


def _floats(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=float).ravel()


def _finite(value: float) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def action_text(value: Any) -> str:
    """An action as text, so that 3, 3.0 and '3' name the same action.

    Examples
    --------
    >>> action_text(3), action_text(3.0), action_text("3"), action_text("shoes")
    ('3', '3', '3', 'shoes')
    """
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)
