"""Running trials: a time limit for each, the executor's slots, and one record per trial.

:class:`TrialRunner` is the one mutable part of a search: it holds the trials recorded so
far (frozen :class:`CandidateResult` records, in the order they ended) and the executor that
runs them. Each trial gets a time limit from the clock (what is left, less what the final
fit needs), is started on a free slot, and is recorded when it ends: with its fold scores,
out-of-fold predictions, a temperature and a decision threshold where they help (see
``_scoring``), or as failed with the reason (an error, out of memory, its time limit).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelloop.tuning._budget import available_memory
from modelloop.tuning._context import Clock, Policy, Problem
from modelloop.tuning._records import TEMPERATURE, THRESHOLD, CandidateResult, SearchEvent, rank
from modelloop.tuning._scoring import calibrate, tune_threshold
from modelloop.tuning._worker import Job, Outcome, WorkerError, refit_estimator_params

__all__ = ["Running", "TrialRunner"]

# Rough peak memory of one fit, in multiples of the training frame's size.
_MEMORY_FACTOR = {"knn": 4.0, "svm": 6.0, "random_forest": 12.0, "extra_trees": 12.0}
# Before any model exists a trial may run at least this long, whatever is left of the budget.
_NO_MODEL_FLOOR_S = 10.0


@dataclass
class Running:
    """A trial in flight: its name, job, executor handle, start and time limit."""

    name: str
    job: Job
    handle: Any
    started: float
    limit: float
    folds: list[float] = field(default_factory=list)


class TrialRunner:
    """Runs and records the trials of one search (see the module docstring).

    ``reserve()`` gives the seconds to keep back from the trials for the final fit (see
    ``_final.reserve``); ``emit`` receives :class:`SearchEvent` for progress display.
    """

    def __init__(
        self,
        problem: Problem,
        policy: Policy,
        executor: Any,
        clock: Clock,
        emit: Callable[[SearchEvent], None] | None = None,
        reserve: Callable[[TrialRunner], float] | None = None,
    ) -> None:
        self.problem, self.policy, self.executor, self.clock = problem, policy, executor, clock
        self.emit_raw = emit or (lambda event: None)
        self.reserve = reserve or (lambda runner: 0.0)
        self.results: list[CandidateResult] = []
        self.stage = ""
        self.in_flight = 0
        self._numbers = 0
        self._owed = False  # a trial was started past the deadline, no model existing yet
        self._names: dict[str, int] = {}
        self._frame_bytes = int(problem.X.memory_usage(deep=True).sum())

    # -- what has been recorded ------------------------------------------------------

    def ok(self) -> list[CandidateResult]:
        return [c for c in self.results if c.status == "ok"]

    def best(self) -> CandidateResult | None:
        ok = self.ok()
        return rank(ok, self.problem.greater)[0] if ok else None

    def ranked(self) -> list[CandidateResult]:
        return rank(self.results, self.problem.greater)

    def emit(self, kind: str, **kw: Any) -> None:
        best = self.best()
        left = None if self.clock.deadline is None else max(0.0, self.clock.left())
        self.emit_raw(
            SearchEvent(
                kind,
                stage=self.stage,
                trials=len(self.results),
                best=None if best is None else best.cv_mean,
                elapsed=self.clock.elapsed(),
                left=left,
                **kw,
            )
        )

    @property
    def started(self) -> int:
        """Trials started so far (by every stage)."""
        return self._numbers

    def next_number(self) -> int:
        """The number of the next trial (or ensemble): 1, 2, ... in the order they start."""
        self._numbers += 1
        return self._numbers

    def label(self, model: str) -> str:
        n = self._names.get(model, 0) + 1
        self._names[model] = n
        return model if n == 1 else f"{model}_{n}"

    def prune_threshold(self) -> float | None:
        """A score: a trial whose mean after a fold is worse than this is stopped."""
        best = self.best()
        if best is None:
            return None
        margin = 2.0 * best.cv_std + 0.01 * abs(best.cv_mean)
        return best.cv_mean - margin if self.problem.greater else best.cv_mean + margin

    # -- running trials ----------------------------------------------------------------

    def timeout(self, cap: float | None) -> float | None:
        """The time limit of a trial started now, or None when no time is left for one.

        What is left of the budget, less what the final fit needs and a worker restart (a
        trial stopped at its limit takes its worker with it). Before any model exists, the
        first fits may use the promised margin over the budget, and at least
        ``_NO_MODEL_FLOOR_S`` (on a busy machine a logistic regression can take seconds):
        better late than no model at all; once the deadline has passed, only one more
        trial is started without a model. ``cap`` bounds one trial once a model exists.
        """
        timeout = self.clock.left() - self.reserve(self)
        if not self.ok():
            if timeout < 1.0:
                # Past the deadline without a model: one trial more may use the grace,
                # then the search ends (each further try would cost a worker's restart).
                if self._owed:
                    return None
                self._owed = True
            timeout = max(timeout, _NO_MODEL_FLOOR_S) + self.clock.grace
        else:
            if self.executor.alive:
                timeout -= self.executor.startup_s
            if timeout < 1.0:
                return None
            if cap is not None:
                timeout = min(timeout, cap)
        return timeout if math.isfinite(timeout) else 1e9

    def memory_problem(self, model: str) -> str | None:
        free = available_memory()
        need = self._frame_bytes * _MEMORY_FACTOR.get(model, 6.0) + 200e6
        if free is not None and need > 0.8 * free:
            return f"needs about {need / 1e9:.1f} GB of memory; {free / 1e9:.1f} GB are free"
        return None

    def start(
        self,
        model: str,
        params: dict[str, Any],
        *,
        limit: float,
        prune_below: float | None = None,
    ) -> Running:
        """Start one trial on a free slot of the executor, with a time limit of ``limit`` s.

        A trial that cannot run (not enough memory) is already finished when returned.
        """
        name = self.label(model)
        number = self.next_number()
        self.emit("candidate", candidate=name, total=self.problem.k)
        job = Job(number, model, params, prune_below=prune_below)
        running = Running(name, job, None, time.monotonic(), limit)
        problem = self.memory_problem(model)
        if problem is not None:
            running.handle = Outcome(number, model, params, "failed", reason=problem)
            return running

        def on_fold(i: int, s: float) -> None:
            running.folds.append(s)
            self.emit("fold", candidate=name, fold=i + 1, total=self.problem.k, score=s)

        running.handle = self.executor.submit("trial", job, on_fold=on_fold)
        self.in_flight += 1
        return running

    def collect(self, running: list[Running]) -> list[tuple[Running, CandidateResult]]:
        """Wait for the first of ``running`` to end (or pass its time limit); record and
        return those that ended, in the order they were started."""
        ended: list[tuple[Running, Outcome]] = []
        waiting = []
        for r in running:
            if isinstance(r.handle, Outcome):  # failed before it could start
                ended.append((r, r.handle))
            else:
                waiting.append(r)
        if waiting and not ended:
            now = time.monotonic()
            first = min(r.started + r.limit for r in waiting) - now
            done = {id(h) for h in self.executor.wait([r.handle for r in waiting], first)}
            now = time.monotonic()
            for r in waiting:
                if id(r.handle) in done:
                    try:
                        outcome = self.executor.result(r.handle)
                    except WorkerError as exc:
                        outcome = Outcome(r.job.number, r.job.model, r.job.params, "failed",
                                          list(r.folds), reason=str(exc))  # fmt: skip
                elif now - r.started >= r.limit:
                    self.executor.cancel(r.handle)
                    outcome = Outcome(r.job.number, r.job.model, r.job.params, "failed",
                                      list(r.folds),
                                      reason=f"stopped at its time limit of {r.limit:.1f} s")  # fmt: skip
                else:
                    continue
                self.in_flight -= 1
                ended.append((r, outcome))
        ended.sort(key=lambda pair: pair[0].job.number)
        return [(r, self.record(r, outcome)) for r, outcome in ended]

    def cancel(self, running: Running) -> None:
        """Stop a trial still in flight (its worker is killed); nothing is recorded."""
        if not isinstance(running.handle, Outcome):
            self.executor.cancel(running.handle)
            self.in_flight -= 1

    def run(self, model: str, params: dict[str, Any], *, cap: float | None = None):
        """Run one trial to its end: its record, or None when no time is left to start it."""
        limit = self.timeout(cap)
        if limit is None:
            return None
        running = [self.start(model, params, limit=limit)]
        while True:
            ended = self.collect(running)
            if ended:
                return ended[0][1]

    # -- recording ---------------------------------------------------------------------

    def record(self, running: Running, outcome: Outcome) -> CandidateResult:
        """The frozen record of an ended trial, appended to ``results`` and announced."""
        status, reason = outcome.status, outcome.reason
        limit, most = self.policy.max_latency_ms, self.policy.max_model_mb
        if status == "ok" and limit is not None and (outcome.latency_ms or 0.0) > limit:
            status = "excluded"
            reason = f"latency {outcome.latency_ms:.1f} ms > --max-latency-ms {limit:g}"
        elif status == "ok" and most is not None and (outcome.size_mb or 0.0) > most:
            status = "excluded"
            reason = f"model of about {outcome.size_mb:.1f} MB > --max-model-mb {most:g}"
        cv_scores, oof = tuple(outcome.fold_scores), outcome.oof
        refit_params = refit_estimator_params(outcome)
        if self.policy.calibration and status == "ok" and oof is not None:
            calibrated = calibrate(self.problem, oof)
            if calibrated is not None:
                cv_scores, oof, temperature = calibrated
                refit_params[TEMPERATURE] = temperature
        if self.policy.thresholding and status == "ok" and oof is not None:
            tuned = tune_threshold(self.problem, oof, cv_scores)
            if tuned is not None:
                cv_scores, refit_params[THRESHOLD] = tuned
        result = CandidateResult(
            running.name,
            outcome.model,
            status,
            cv_scores=cv_scores,
            fit_time=float(np.mean(outcome.fit_times)) if outcome.fit_times else 0.0,
            error=reason or None,
            oof=oof if status == "ok" else None,
            number=outcome.number,
            stage=self.stage,
            params=dict(outcome.params),
            refit_params=refit_params,
            latency_ms=outcome.latency_ms,
            rows_per_s=outcome.rows_per_s,
            duration=time.monotonic() - running.started,
            size_mb=outcome.size_mb,
        )
        self.results.append(result)
        if status == "ok":
            self.emit("done", candidate=result.name, score=result.cv_mean)
        else:
            kind = "failed" if status == "failed" else status
            self.emit(kind, candidate=result.name, total=self.problem.k, message=reason)
        return result
