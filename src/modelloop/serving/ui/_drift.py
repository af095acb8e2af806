"""The live view's drift panel: ``modelloop.workflows.monitor`` run in the background, cached.

A drift check reads the model's reference rows and its latest logged inputs, runs a test per
column and a domain classifier: a second or more of CPU. The dashboard never makes a page
(or a prediction) wait for it: :meth:`DriftCache.status` answers at once with the latest
result it has (or "computing") and starts a check in a background thread when that result
is older than ``ttl`` seconds. One check runs at a time per dashboard, at a lower CPU
priority on Linux, so the server's prediction threads go first. Only the drift report page
(:meth:`DriftCache.html`) waits for a fresh result, in FastAPI's thread pool.

States a panel shows: ``ready`` (a result), ``computing`` (the first check is running),
``not_enough_data`` (too few logged predictions for a verdict), ``no_reference`` (the
version was registered without its training rows), ``error`` (the check failed: its
message).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from modelloop.config import Settings
from modelloop.exceptions import EmptyDataError, ModelloopError, NotFoundError
from modelloop.monitoring import DriftConfig, FeatureDrift, drift_html
from modelloop.serving.ui._charts import Series, line_chart
from modelloop.store import Store

__all__ = [
    "DriftCache",
    "DriftStatus",
    "drift_charts",
    "top_features",
]

log = logging.getLogger("modelloop.serving.ui")

READY = "ready"
COMPUTING = "computing"
NOT_ENOUGH = "not_enough_data"
NO_REFERENCE = "no_reference"
ERROR = "error"

#: Seconds a cheap answer ("not enough data", "no reference data", an error) is kept: new
#: predictions may arrive at any time, and checking for them costs one query.
QUICK_TTL = 5.0


@dataclass(frozen=True)
class DriftStatus:
    """What the drift panel shows for one model.

    ``result`` is the :class:`~modelloop.workflows.MonitorResult` (``ready``, and
    ``not_enough_data`` when a check ran but no column got a verdict); ``stale`` says a
    newer check is running while this one is shown.
    """

    state: str
    message: str = ""
    ref: str = ""
    result: Any = None
    computed_at: datetime | None = None
    seconds: float | None = None
    stale: bool = False

    @property
    def ready(self) -> bool:
        return self.result is not None and self.state == READY

    @property
    def alerting(self) -> bool:
        return self.ready and bool(self.result.alerts)


@dataclass
class _Entry:
    status: DriftStatus | None = None
    at: float = -math.inf  # time.monotonic() of the last finished check
    ttl: float = 0.0
    running: threading.Event | None = None  # set when the running check finishes
    html: str | None = None
    html_of: Any = None  # the result ``html`` was drawn from
    lock: threading.Lock = field(default_factory=threading.Lock)


def _lower_priority() -> None:
    """Nice this thread (Linux: per thread) so prediction threads get the CPU first."""
    if sys.platform != "linux":  # elsewhere setpriority would name a process, not a thread
        return
    with contextlib.suppress(OSError):  # not permitted here: run at normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class DriftCache:
    """Drift checks of served models, made in a background thread and kept ``ttl`` seconds.

    Parameters
    ----------
    store : Store
        Where the models, their reference rows and the prediction log are read.
    settings : Settings
        The window (``monitor_window``) and alert rules (``monitor_*``) of the check.
    ttl : float
        Seconds a result is shown before a new check starts.
    check : callable, optional
        ``check(ref) -> DriftStatus`` (tests replace it); defaults to :meth:`compute`.

    Examples
    --------
    >>> cache = DriftCache(store, settings, ttl=60)  # doctest: +SKIP
    >>> cache.status("churn:3").state  # doctest: +SKIP
    'computing'
    >>> cache.wait("churn:3").result.report.drift_share  # doctest: +SKIP
    0.25
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        ttl: float = 60.0,
        size: int = 32,
        check: Callable[[str], DriftStatus] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.ttl = ttl
        self.size = size
        self._check = check or self.compute
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()

    # -- reading ------------------------------------------------------------------------

    def status(self, ref: str) -> DriftStatus:
        """The latest status of ``ref`` at once; starts a check when it is older than ttl."""
        entry = self._refresh(ref)
        current = entry.status
        if current is None:
            return DriftStatus(COMPUTING, "Checking for drift…", ref=ref)
        if entry.running is not None and not entry.running.is_set():
            return replace(current, stale=True)
        return current

    def wait(self, ref: str, timeout: float | None = None) -> DriftStatus:
        """A status no older than ttl, waiting (up to ``timeout`` s) for a running check."""
        entry = self._refresh(ref)
        running = entry.running
        if running is not None:
            running.wait(timeout)
        with self._lock:
            current, busy = entry.status, entry.running is not None and not entry.running.is_set()
        if current is None:
            return DriftStatus(COMPUTING, "Checking for drift…", ref=ref)
        return replace(current, stale=busy)

    def html(self, ref: str, timeout: float | None = None) -> tuple[DriftStatus, str | None]:
        """The fresh status of ``ref`` and, when it has a result, the drift report page."""
        status = self.wait(ref, timeout)
        if status.result is None:
            return status, None
        entry = self._entry(ref)
        with entry.lock:  # one request draws the figures; the others reuse them
            result = status.result
            if entry.html is None or entry.html_of is not result:
                stamp = f"{status.computed_at:%Y-%m-%d %H:%M:%S} UTC" if status.computed_at else ""
                entry.html = drift_html(
                    result.report,
                    title=f"Drift report: {result.model}",
                    subtitle=f"Current window: {result.window}; checked {stamp}.",
                    alerts=result.alerts,
                )
                entry.html_of = result
            return status, entry.html

    # -- checking -----------------------------------------------------------------------

    def _entry(self, ref: str) -> _Entry:
        with self._lock:
            entry = self._entries.get(ref)
            if entry is None:
                entry = self._entries[ref] = _Entry()
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(ref)
            return entry

    def _refresh(self, ref: str) -> _Entry:
        entry = self._entry(ref)
        with self._lock:
            busy = entry.running is not None and not entry.running.is_set()
            fresh = time.monotonic() - entry.at < entry.ttl
            if busy or fresh:
                return entry
            done = entry.running = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(ref, entry, done), name=f"modelloop-drift-{ref}", daemon=True
        )
        thread.start()
        return entry

    def _run(self, ref: str, entry: _Entry, done: threading.Event) -> None:
        _lower_priority()
        try:
            with self._one_at_a_time:
                started = time.perf_counter()
                try:
                    status = self._check(ref)
                except Exception as exc:  # the panel shows it; the server keeps going
                    log.exception("drift check of %s failed", ref)
                    status = DriftStatus(
                        ERROR, f"The drift check failed: {type(exc).__name__}: {exc}", ref=ref
                    )
                status = replace(status, seconds=time.perf_counter() - started)
            with self._lock:
                entry.status = status
                entry.at = time.monotonic()
                entry.ttl = self.ttl if status.state == READY else min(self.ttl, QUICK_TTL)
        finally:
            done.set()

    def compute(self, ref: str) -> DriftStatus:
        """Run ``modelloop.workflows.monitor`` on ``ref`` now (no webhook) and say what it found."""
        from modelloop.workflows import monitor

        now = datetime.now(UTC)
        try:
            record = self.store.resolve(ref)
        except ModelloopError as exc:
            return DriftStatus(ERROR, str(exc), ref=ref, computed_at=now)
        if not record.reference_snapshot:
            return DriftStatus(
                NO_REFERENCE,
                f"No reference data: version {record.version} of '{record.name}' was registered "
                "without its training rows, so there is nothing to compare production inputs "
                "with. Register versions with `modelloop train --register` to keep them.",
                ref=record.ref,
                computed_at=now,
            )
        need = DriftConfig.min_rows
        logged = self.store.prediction_activity(record.name, limit=need)
        if len(logged) < need:
            return DriftStatus(
                NOT_ENOUGH,
                f"Not enough data: {len(logged)} logged prediction"
                f"{'' if len(logged) == 1 else 's'} of '{record.name}'; a drift verdict needs "
                f"at least {need}.",
                ref=record.ref,
                computed_at=now,
            )
        try:
            result = monitor(record.ref, store=self.store, settings=self.settings, notify=False)
        except EmptyDataError as exc:
            return DriftStatus(
                NOT_ENOUGH, f"Not enough data: {exc}", ref=record.ref, computed_at=now
            )
        except NotFoundError as exc:
            return DriftStatus(NO_REFERENCE, str(exc), ref=record.ref, computed_at=now)
        except ModelloopError as exc:
            return DriftStatus(ERROR, str(exc), ref=record.ref, computed_at=now)
        report = result.report
        if all(f.drifted is None for f in report.features):
            return DriftStatus(
                NOT_ENOUGH,
                f"Not enough data: {report.n_current} rows in the current window ({result.window})"
                f" gave no column enough values for a verdict (at least "
                f"{report.config.min_rows} each).",
                ref=record.ref,
                result=result,
                computed_at=now,
            )
        return DriftStatus(READY, ref=record.ref, result=result, computed_at=now)


# -- what the panel draws ---------------------------------------------------------------


def top_features(features: Sequence[FeatureDrift], n: int = 8) -> list[FeatureDrift]:
    """The columns most worth a look: drifted first, then by adjusted p-value and statistic.

    Examples
    --------
    >>> from types import SimpleNamespace as F
    >>> cols = [F(name="a", drifted=False, p_adjusted=0.5, statistic=0.1),
    ...         F(name="b", drifted=True, p_adjusted=0.01, statistic=0.3),
    ...         F(name="c", drifted=None, p_adjusted=None, statistic=None)]
    >>> [f.name for f in top_features(cols)]
    ['b', 'a', 'c']
    """

    def key(f: Any) -> tuple[int, float, float]:
        rank = 0 if f.drifted else 1 if f.drifted is False else 2
        p = f.p_adjusted if f.p_adjusted is not None else math.inf
        stat = f.statistic if f.statistic is not None else -math.inf
        return rank, p, -stat

    return sorted(features, key=key)[:n]


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def drift_charts(
    windows: Sequence[dict[str, Any]], metric: str | None, training: float | None = None
) -> dict[str, Markup]:
    """Drift share and the followed metric per window of the current rows, oldest first.

    ``windows`` are the report's per-window figures (``DriftReport.windows``): the share of
    drifted features and the metric estimated from probabilities (``expected``) and
    measured on labels (``actual``); ``training`` is the metric at training time.

    Examples
    --------
    >>> w = [{"drift_share": 0.0, "expected": {"roc_auc": 0.8}, "actual": {}},
    ...      {"drift_share": 0.5, "expected": {"roc_auc": 0.7}, "actual": {"roc_auc": 0.6}}]
    >>> charts = drift_charts(w, "roc_auc", 0.82)
    >>> sorted(charts), 'data-series="measured roc_auc"' in charts["metric"]
    (['drift', 'metric'], True)
    """
    xs = [float(i + 1) for i in range(len(windows))]
    starts = [_when(w.get("start")) for w in windows]
    known = [s for s in starts if s is not None]
    span = (max(known) - min(known)).total_seconds() if known else 0.0
    form = "%H:%M:%S" if span < 600 else "%H:%M" if span < 2 * 86400 else "%m-%d %H:%M"
    ticks = [
        (x, s.strftime(form) if s is not None else f"w{int(x)}")
        for x, s in zip(xs, starts, strict=True)
    ]
    if len(ticks) > 6:
        step = math.ceil(len(ticks) / 6)
        ticks = ticks[::step]
    x_label = "window of the current rows (oldest first, start time UTC)"

    def points(values: Sequence[Any]) -> list[tuple[float, float]]:
        return [
            (x, float(v))
            for x, v in zip(xs, values, strict=True)
            if isinstance(v, int | float) and math.isfinite(v)
        ]

    empty = "one window needs at least 100 logged rows"
    charts = {
        "drift": line_chart(
            "Drift over time",
            [Series("share of drifted features", points([w.get("drift_share") for w in windows]))],
            x_label=x_label,
            y_label="share of features",
            x_ticks=ticks,
            empty=empty,
        )
    }
    if metric:
        series = [
            Series(
                f"estimated {metric}",
                points([(w.get("expected") or {}).get(metric) for w in windows]),
                dashed=True,
            ),
            Series(
                f"measured {metric}", points([(w.get("actual") or {}).get(metric) for w in windows])
            ),
        ]
        drawn = any(s.points for s in series)
        if drawn and training is not None and math.isfinite(training):
            line = [(xs[0], training), (xs[-1], training)] if len(xs) > 1 else [(xs[0], training)]
            series.append(Series("at training", line, dashed=True, markers=False))
        charts["metric"] = line_chart(
            f"{metric} over time",
            series,
            x_label=x_label,
            y_label=metric,
            x_ticks=ticks,
            empty="no estimate and no labels yet",
        )
    return charts
