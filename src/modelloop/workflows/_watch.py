"""``watch``: the loop running by itself -- check the retrain policy, retrain when it says so.

Every ``interval_s`` seconds the watcher counts, for each watched model, the labels that
arrived since the model's newest version was registered (so a retrain, promoted or not,
resets the count). When there are at least ``min_new_labels`` -- or, with ``drift=True``,
when the drift monitor raises an alert and there is at least one new label -- it runs
:func:`retrain` with ``trigger='auto'``. A retrain that cannot run yet (too few labels for
a held-out set, say) is reported and tried again at the next check. Servers pick a promoted
challenger up by themselves (they poll the aliases).

``modelloop watch NAME`` runs this in the foreground; ``modelloop serve --auto-retrain``
runs it as a low-priority child process beside the server, so that training never takes
CPU time from predictions.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelloop.config import Settings
from modelloop.data import TASKS
from modelloop.exceptions import (
    ConfigurationError,
    EmptyDataError,
    ModelloopError,
    ModelNotFoundError,
)
from modelloop.store import Store
from modelloop.workflows._retrain import RetrainResult, retrain

__all__ = ["RetrainPolicy", "WatchEvent", "policy_due", "watch"]

log = logging.getLogger("modelloop.watch")


@dataclass(frozen=True)
class RetrainPolicy:
    """When to retrain: ``min_new_labels`` labels since the newest version, or a drift alert.

    Examples
    --------
    >>> RetrainPolicy(min_new_labels=200).min_new_labels
    200
    """

    min_new_labels: int = 100
    drift: bool = False

    def check(self) -> RetrainPolicy:
        if (
            isinstance(self.min_new_labels, bool)
            or not isinstance(self.min_new_labels, int)
            or self.min_new_labels < 1
        ):
            raise ConfigurationError(
                f"min_new_labels must be an integer >= 1. Got {self.min_new_labels!r}."
            )
        return self


@dataclass(frozen=True)
class WatchEvent:
    """One thing the watcher did: ``kind`` is 'check', 'retrain', 'skipped' or 'error'."""

    kind: str
    model: str
    message: str
    result: RetrainResult | None = field(default=None, repr=False)


def _drift_alert(name: str, alias: str, settings: Settings, store: Store) -> str | None:
    """The drift monitor's alerts for the champion of ``name`` as one sentence, or ``None``."""
    from modelloop.workflows._monitor import monitor

    try:
        store.get_model_version(name, alias=alias)
        ref = f"{name}@{alias}"
    except ModelNotFoundError:
        ref = name
    try:
        result = monitor(ref, settings=settings, store=store)
    except EmptyDataError:  # nothing logged yet: no drift to speak of
        return None
    if not result.alerts:
        return None
    return "; ".join(a.message for a in result.alerts)


def policy_due(
    store: Store,
    name: str,
    policy: RetrainPolicy,
    settings: Settings | None = None,
    *,
    alias: str = "production",
) -> tuple[bool, str]:
    """Whether ``policy`` calls for a retrain of ``name`` now, and why (or why not).

    Examples
    --------
    >>> policy_due(store, "churn", RetrainPolicy(min_new_labels=50))  # doctest: +SKIP
    (True, '64 new labels since version 3 was registered (policy: 50)')
    """
    newest = store.get_model_version(name)
    new = store.count_labels(name, since=newest.created_at)
    if new >= policy.min_new_labels:
        return True, (
            f"{new} new labels since version {newest.version} was registered "
            f"(policy: {policy.min_new_labels})"
        )
    if policy.drift and new > 0:
        alert = _drift_alert(name, alias, settings or Settings(), store)
        if alert:
            return True, f"drift alert ({alert}) and {new} new labels"
    return False, (
        f"{new} new labels since version {newest.version} was registered; waiting for "
        f"{policy.min_new_labels}"
    )


def watch(
    names: Sequence[str] | None = None,
    *,
    policy: RetrainPolicy | None = None,
    interval_s: float = 60.0,
    max_checks: int | None = None,
    stop: threading.Event | None = None,
    on_event: Callable[[WatchEvent], None] | None = None,
    retrain_options: dict[str, Any] | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
) -> list[RetrainResult]:
    """Check the retrain policy every ``interval_s`` seconds and retrain when it is due.

    Parameters
    ----------
    names : the models to watch; ``None``: every registered supervised model (re-read at
        every check, so models registered later are watched too).
    policy : when to retrain (default: 100 new labels).
    interval_s : seconds between checks.
    max_checks : stop after this many checks (``None``: until ``stop`` is set).
    stop : an event that ends the loop (set it from another thread or a signal handler).
    on_event : called with each :class:`WatchEvent` (the CLI prints them).
    retrain_options : keyword arguments for :func:`retrain` (``min_improvement``,
        ``window``, ``recent_weight``, ``time_budget``, ...).

    Returns
    -------
    list of RetrainResult
        Every retrain that ran.

    Examples
    --------
    >>> from modelloop.workflows import RetrainPolicy, watch
    >>> watch(["churn"], policy=RetrainPolicy(min_new_labels=500), interval_s=300)  # doctest: +SKIP
    """
    policy = (policy or RetrainPolicy()).check()
    if not (isinstance(interval_s, int | float) and math.isfinite(interval_s) and interval_s > 0):
        raise ConfigurationError(f"interval_s must be a number of seconds > 0. Got {interval_s!r}.")
    settings = settings or Settings()
    stop = stop or threading.Event()
    emit = on_event or (lambda event: log.info("%s %s: %s", event.kind, event.model, event.message))
    options = dict(retrain_options or {})
    owns_store = store is None
    store = store or Store.from_settings(settings)
    results: list[RetrainResult] = []
    checks = 0
    try:
        while not stop.is_set():
            for name in _watched(store, names):
                if stop.is_set():
                    break
                result = _check_one(store, settings, name, policy, options, emit)
                if result is not None:
                    results.append(result)
            checks += 1
            if max_checks is not None and checks >= max_checks:
                break
            stop.wait(interval_s)
        return results
    finally:
        if owns_store:
            store.close()


def _watched(store: Store, names: Sequence[str] | None) -> list[str]:
    if names:
        return list(names)
    return [m.name for m in store.list_models() if m.n_versions and m.task in (*TASKS, "bandit")]


def _check_one(
    store: Store,
    settings: Settings,
    name: str,
    policy: RetrainPolicy,
    options: dict[str, Any],
    emit: Callable[[WatchEvent], None],
) -> RetrainResult | None:
    try:
        due, why = policy_due(
            store, name, policy, settings, alias=options.get("alias", "production")
        )
    except ModelloopError as exc:
        emit(WatchEvent("error", name, str(exc)))
        return None
    if not due:
        emit(WatchEvent("check", name, why))
        return None
    emit(WatchEvent("check", name, f"retraining: {why}"))
    try:
        result = retrain(name, trigger="auto", settings=settings, store=store, **options)
    except ModelloopError as exc:
        emit(WatchEvent("skipped", name, str(exc)))
        return None
    except Exception as exc:  # keep watching: one failed retrain must not end the loop
        log.exception("retraining %s failed", name)
        emit(WatchEvent("error", name, f"{type(exc).__name__}: {exc}"))
        return None
    verdict = "promoted" if result.promoted else "kept the champion"
    emit(
        WatchEvent(
            "retrain",
            name,
            f"version {result.challenger_version} {verdict}: {result.reason}",
            result,
        )
    )
    return result
