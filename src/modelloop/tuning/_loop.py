"""The one ask/tell loop every strategy of the search feeds.

Each stage is an Optuna study and a way to read a trial's model and parameters from it:

- the *portfolio*: its configurations are enqueued (``study.enqueue_trial``) and asked in
  order (``_portfolio``);
- the *model-based* stage: a TPE sampler over the best families' search spaces (``_optuna``);
- *grid* and *random*: Optuna's ``GridSampler`` and ``RandomSampler`` (``_grid``).

:func:`run_study` asks the study for a trial whenever a slot of the executor is free, runs
it (``_runner.TrialRunner``) and tells the study its cross-validated score. It stops when the
study has nothing more to try, the trial budget is spent, the time left cannot fit another
trial, or (``patience``) that many trials in a row brought no new best.

In a deterministic search (a trial budget, see ``_context``) trials are asked in batches of
``slots`` and told in the order they were asked, so the study's history, and therefore every
later suggestion, is the same however long each trial took.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelloop.tuning._records import CandidateResult
from modelloop.tuning._runner import Running, TrialRunner

__all__ = ["StudySource", "run_study"]

Decode = Callable[[Any], "tuple[str, dict[str, Any]] | None"]


class StudySource:
    """An Optuna study as a source of trials: ``decode(trial)`` reads ``(model, params)``
    from an asked trial; ``has_next(study)`` says whether the study has more to try."""

    def __init__(
        self,
        study: Any,
        decode: Decode,
        has_next: Callable[[Any], bool] | None = None,
    ) -> None:
        self.study, self.decode = study, decode
        self.has_next = has_next or (lambda study: True)

    def ask(self) -> tuple[Any, str, dict[str, Any]] | None:
        """The next trial and its ``(model, params)``; None when the study is done. A trial
        ``decode`` refuses (``None``: a repeat of one already run) is told as pruned."""
        import optuna

        while self.has_next(self.study):
            trial = self.study.ask()
            decoded = self.decode(trial)
            if decoded is not None:
                return trial, *decoded
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return None

    def tell(self, trial: Any, result: CandidateResult | None) -> None:
        import optuna

        if result is not None and result.status == "ok":
            self.study.tell(trial, result.cv_mean)
        elif result is not None and result.status == "pruned":
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)


def run_study(
    runner: TrialRunner,
    source: StudySource,
    *,
    cap: float | None = None,
    max_trials: int | None = None,
    patience: int | None = None,
    prune: bool = False,
) -> str:
    """Ask, run and tell until the study stops (see the module docstring).

    ``cap`` bounds one trial's time limit once a model exists; ``max_trials`` counts every
    trial of the search (earlier stages too); ``prune`` stops a trial after a fold when its
    mean is far behind the best. Returns why the loop stopped: 'exhausted', 'trials',
    'time' or 'patience'.
    """
    deterministic = runner.policy.deterministic
    slots = max(1, runner.executor.slots)
    running: list[tuple[Running, Any]] = []
    stopped = ""
    stale, best = 0, runner.best()
    try:
        while True:
            # A deterministic search starts a new batch only when the last one has ended.
            may_start = not running if deterministic else len(running) < slots
            while not stopped and may_start and len(running) < slots:
                if max_trials is not None and runner.started >= max_trials:
                    stopped = "trials"
                    break
                if patience is not None and stale >= patience:
                    stopped = "patience"
                    break
                runner.executor.prepare()  # a worker's start is not a trial's time
                limit = runner.timeout(cap)
                if limit is None:
                    stopped = "time"
                    break
                asked = source.ask()
                if asked is None:
                    stopped = "exhausted"
                    break
                trial, model, params = asked
                prune_below = runner.prune_threshold() if prune else None
                started = runner.start(model, params, limit=limit, prune_below=prune_below)
                running.append((started, trial))
            if not running:
                return stopped or "exhausted"
            if deterministic:  # the whole batch ends before any of it is told
                ended = []
                pending = list(running)
                while pending:
                    for r, result in runner.collect([r for r, _ in pending]):
                        ended.append((r, result))
                        pending = [(p, t) for p, t in pending if p is not r]
            else:
                ended = runner.collect([r for r, _ in running])
            trials = {id(r): t for r, t in running}
            for r, result in sorted(ended, key=lambda pair: pair[0].job.number):
                source.tell(trials[id(r)], result)
                running = [(p, t) for p, t in running if p is not r]
                now = runner.best()
                stale = 0 if now is not best and now is not None else stale + 1
                best = now
    finally:  # an error or an interrupt: nothing is left running
        for r, trial in running:
            runner.cancel(r)
            source.tell(trial, None)
