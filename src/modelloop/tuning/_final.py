"""The final model: the winner refitted on every row, or its fold models kept (bagging).

After the trials, :func:`final_fit` makes the model the search returns:

- ``refit``: the best candidate (a single model or a blend) fitted on all rows, in what is
  left of the budget. A candidate whose refit cannot end in time is passed over for the
  next best; the fastest candidate is the last resort and is never passed over.
- ``bag``: the winner's k fold models, fitted exactly as in its trial, averaged
  (``models.FoldBag``), when the candidate allows it: every row was searched, and k models
  still predict within ``--min-rows-per-second`` and ``--max-latency-ms``.
- ``auto`` bags only when, on held-out folds neither saw, the fold models score better than
  one refit (``_worker._bag_check``), time allowing.

Then :func:`speed_check` times the final model on 10,000 rows; a refitted blend under the
speed floor keeps the fitted members that clear it (nothing is refitted).

:func:`reserve` is the time the trials keep back for all this. A deterministic search
(``_context``) never decides by the clock here: it compares bagging on every fold and never
passes a candidate over for a slow refit.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from modelloop.exceptions import TrainingError
from modelloop.tuning._ensemble import POOL, blend, blend_rows_per_s, fitted_subset, select_ensemble
from modelloop.tuning._records import TEMPERATURE, THRESHOLD, CandidateResult, rank
from modelloop.tuning._runner import TrialRunner
from modelloop.tuning._worker import WorkerError, WorkerTimeout, build_pipeline, measure_speed

__all__ = ["final_fit", "refit_members", "reserve", "speed_check", "unfitted"]

_MIN_OUTER = 2  # held-out folds the bagging check needs at least
_BAG_RESERVE = 0.1  # of the budget: at most this much is kept back for the bagging check
# The final model is timed itself; a blend under the floor keeps the members whose own
# timings, in the same process, clear it by this factor (noise between two timings).
_MEASURED_MARGIN = 1.05
_TIMED_BATCHES = 2  # the final model's speed is the fastest of this many 10,000-row batches
_REFIT_HERE_S = 1.0  # estimated refit seconds below which a refit may run in this process

Members = list[tuple[str, str, dict]]


def refit_members(c: CandidateResult, by_name: dict[str, CandidateResult]):
    """``(members, weights, threshold)`` of the refit request for ``c``.

    A single model's parameters carry its own threshold (``weights`` and ``threshold`` are
    None). An ensemble's members lose theirs: the blend is labelled by its own threshold,
    tuned on the blend's out-of-fold probabilities, or by its most probable class.
    """
    if c.family == "ensemble":
        members = [
            (n, by_name[n].family,
             {k: v for k, v in by_name[n].refit_params.items() if k != THRESHOLD})
            for n in c.weights
        ]  # fmt: skip
        return members, list(c.weights.values()), c.refit_params.get(THRESHOLD)
    return [(c.name, c.family, c.refit_params)], None, None


def unfitted(runner: TrialRunner, c: CandidateResult, by_name: dict[str, CandidateResult]):
    """The candidate as an unfitted estimator (what ``SearchResult.best_pipeline`` holds)."""
    from modelloop.models import with_threshold
    from modelloop.tuning._ensemble import build_ensemble

    p = runner.problem
    members, weights, threshold = refit_members(c, by_name)
    pipes = [
        (n, build_pipeline(p.schema, p.task, m, params, seed=p.seed, n_jobs=1))
        for n, m, params in members
    ]
    if weights is None:
        return pipes[0][1]
    voting = build_ensemble(pipes, weights, p.task)
    return voting if threshold is None else with_threshold(voting, float(threshold))


# ------------------------------------------------------------------ time estimates


def _members(runner: TrialRunner, c: CandidateResult) -> list[CandidateResult]:
    if c.family != "ensemble":
        return [c]
    return [m for m in runner.results if m.name in c.weights]


def refit_estimate(runner: TrialRunner, c: CandidateResult) -> float:
    """Seconds to refit ``c`` (all its members) on every row, from its fold fit times."""
    p = runner.problem
    return 1.3 * sum(m.fit_time for m in _members(runner, c)) * p.n_rows / p.fold_rows


def _bag_cost(runner: TrialRunner, c: CandidateResult, n_outer: int) -> float | None:
    """Seconds to compare bagging with the refit on ``n_outer`` held-out folds, then bag.

    None when ``c`` may not be bagged. Per held-out fold: one refit on the other folds'
    rows, and k-1 fold fits on k-2 folds' rows each; then k fold fits for the bag itself.
    """
    if bag_problem(runner, c) is not None:
        return None
    fit = sum(m.fit_time for m in _members(runner, c))
    k = runner.problem.k
    restart = 0.0 if runner.executor.alive else runner.executor.startup_s
    return n_outer * (1.3 * fit + (k - 2) * fit) + k * fit + restart


def reserve(runner: TrialRunner) -> float:
    """Seconds the trials keep back for the final fit of the best candidate so far."""
    ok = rank(runner.ok(), runner.problem.greater)
    if not ok:
        return 0.0
    p = runner.problem
    # The ensemble's members come from the top trials: keep room for the top three.
    fit = sum(c.fit_time for c in ok[:3])
    restart = 0.0 if runner.executor.alive else runner.executor.startup_s
    # Greedy ensemble selection scores blends of every candidate's out-of-fold rows.
    selection = 2e-5 * len(p.y) * min(len(ok), POOL) if runner.policy.ensemble else 0.0
    need = 1.3 * fit * len(p.y) / p.fold_rows + 1.0 + restart + selection
    budget = runner.clock.budget
    bag = _bag_cost(runner, ok[0], _MIN_OUTER) if runner.policy.final_fit != "refit" else None
    if bag is not None and budget is not None and bag <= _BAG_RESERVE * budget:
        need += bag  # bagging the best so far is cheap: keep room to compare it
    return need


# ------------------------------------------------------------------ refit


def _final_refit(runner: TrialRunner, ranked, by_name, notes):
    """Refit the best on all rows in what is left of the budget; fall back to a faster one."""
    ok = [c for c in ranked if c.status == "ok"]
    fastest = min(ok, key=lambda c: refit_estimate(runner, c))
    clock, executor = runner.clock, runner.executor
    passed_over: list[str] = []
    for c in ok:
        left = clock.left()
        # A model is owed: the refit may use the promised margin over the budget, all of it
        # for the fastest candidate (the last resort).
        grace = clock.grace if c is fastest else 0.5 * clock.grace
        timeout = 1e9 if not math.isfinite(left) else max(left, 0.0) + grace
        need = refit_estimate(runner, c)
        restart = 0.0 if executor.alive else executor.startup_s
        if not runner.policy.deterministic and c is not fastest and need + restart > timeout:
            # Waiting for a refit that cannot end in time would spend what the fallback needs.
            passed_over.append(f"{c.name} (~{need + restart:.1f} s, {max(left, 0.0):.1f} s left)")
            continue
        if passed_over:
            notes.append(
                f"Not refitted, too slow for the time left: {', '.join(passed_over[:3])}"
                + (f" and {len(passed_over) - 3} more" if len(passed_over) > 3 else "")
                + f"; refitted {c.name} instead."
            )
            passed_over.clear()
        runner.emit("stage", message=f"Refitting {c.name} on all {runner.problem.n_rows} rows")
        started = time.monotonic()
        members, weights, threshold = refit_members(c, by_name)
        try:
            if restart and need < _REFIT_HERE_S and executor.slots == 1:
                # A dead local worker takes seconds to restart; a refit this small is
                # quicker in this process.
                from modelloop.tuning._worker import refit_here

                model = refit_here(runner.problem.payload(), members, weights, threshold)
            else:
                model = executor.run("refit", (members, weights, None, threshold), timeout)
        except (WorkerTimeout, WorkerError) as exc:
            notes.append(f"Refit of {c.name} failed ({exc}); trying a faster model.")
            continue
        return model, c, time.monotonic() - started
    # Every refit ran out of time (a machine much busier than the search measured): the
    # fastest candidate gets one more try, bounded by its own measured cost rather than the
    # budget, because a run that searched must end with a model.
    timeout = max(30.0, 30.0 * fastest.fit_time) + clock.grace
    runner.emit("stage", message=f"Refitting {fastest.name} again, past the budget")
    started = time.monotonic()
    members, weights, threshold = refit_members(fastest, by_name)
    try:
        model = executor.run("refit", (members, weights, None, threshold), timeout)
    except (WorkerTimeout, WorkerError) as exc:
        raise TrainingError(
            f"No model could be refitted on all training rows: the last try, {fastest.name} "
            f"with {timeout:.0f} s, failed too ({exc}). Give a larger --time-budget."
        ) from exc
    notes.append(
        f"Every refit within the budget failed; {fastest.name} was refitted past the budget "
        f"in {time.monotonic() - started:.1f} s."
    )
    return model, fastest, time.monotonic() - started


# ------------------------------------------------------------------ bagging


def _bag_members(c: CandidateResult, by_name: dict[str, CandidateResult]):
    """``(name, model, trial params, weight)`` per member of ``c``, and ``c``'s threshold.

    Fold models are fitted as in the trials (early stopping included), with the member's
    temperature; the threshold is the single model's, or the blend's own (not its members').
    """
    pairs = (
        [(by_name[n], w) for n, w in c.weights.items()] if c.family == "ensemble" else [(c, 1.0)]
    )
    members = []
    for m, w in pairs:
        params = dict(m.params)
        if TEMPERATURE in m.refit_params:
            params[TEMPERATURE] = m.refit_params[TEMPERATURE]
        members.append((m.name, m.family, params, w))
    return members, c.refit_params.get(THRESHOLD)


def bag_problem(runner: TrialRunner, c: CandidateResult) -> str | None:
    """Why ``c`` may not be kept as fold models, or None when it may."""
    p, policy = runner.problem, runner.policy
    k = p.k
    if p.validation is not None and p.validation.kind == "time":
        return "time-ordered folds train on the past only; a refit uses the latest rows"
    if p.n_rows > len(p.y):
        return f"the search used a sample of the rows; a refit uses all {p.n_rows}"
    speed, floor = c.rows_per_s, policy.min_rows_per_s
    if floor is not None and speed is not None and speed / k < floor:
        return (
            f"{k} fold models would predict about {speed / k:,.0f} rows/s, "
            f"under --min-rows-per-second {floor:,.0f}"
        )
    latency, limit = c.latency_ms, policy.max_latency_ms
    if limit is not None and latency is not None and latency * k > limit:
        return (
            f"{k} fold models would take about {latency * k:.1f} ms per row, over "
            f"--max-latency-ms {limit:g}"
        )
    size, most = c.size_mb, policy.max_model_mb
    if most is not None and size is not None and size * k > most:
        return f"{k} fold models would take about {size * k:.1f} MB, over --max-model-mb {most:g}"
    return None


def _try_bag(runner: TrialRunner, c: CandidateResult, by_name, notes):
    """``(FoldBag, c, seconds)``, or None when the refit should be made instead."""
    members, threshold = _bag_members(c, by_name)
    k = runner.problem.k
    clock, executor, deterministic = runner.clock, runner.executor, runner.policy.deterministic
    fold_fit = sum(m.fit_time for m in _members(runner, c))
    started = time.monotonic()
    if runner.policy.final_fit == "auto":
        if k < 3:  # each held-out fold's bag needs two other folds to be made of
            notes.append(f"Refitted {c.name}: comparing bagging with it needs --cv 3 or more.")
            return None
        left = clock.left()
        refit_need = refit_estimate(runner, c)
        if deterministic:
            n_outer = k  # every fold, whatever the clock says
        else:
            costs = {n: _bag_cost(runner, c, n) for n in range(k, _MIN_OUTER - 1, -1)}
            n_outer = next(
                (n for n, cost in costs.items() if cost is not None and cost + refit_need <= left),
                0,
            )
        if n_outer == 0:
            notes.append(f"Refitted {c.name}: too little time left to compare bagging with it.")
            return None
        refit, weights, _ = refit_members(c, by_name)
        runner.emit(
            "stage",
            message=f"Comparing {k} fold models of {c.name} with one refit "
            f"on {n_outer} held-out folds",
        )
        try:
            pairs = executor.run(
                "bagcheck",
                (members, refit, weights, threshold, list(range(n_outer))),
                # what is left after the check must still cover the bag or the refit
                max(left - max(refit_need, k * fold_fit), 1.0) if math.isfinite(left) else 1e9,
            )
        except (WorkerTimeout, WorkerError) as exc:
            notes.append(f"Bagging check of {c.name} failed ({exc}); refitted instead.")
            return None
        bagged = float(np.mean([b for b, _ in pairs]))
        one = float(np.mean([r for _, r in pairs]))
        wins = bagged > one if runner.problem.greater else bagged < one
        notes.append(
            f"Bagging check of {c.name} on {n_outer} held-out folds: fold models "
            f"{bagged:.6g}, one refit {one:.6g} ({runner.problem.metric}); "
            + ("kept the fold models." if wins else "refitted.")
        )
        if not wins:
            return None
    left = clock.left()
    timeout = 1e9 if not math.isfinite(left) else max(left, 0.0) + 0.5 * clock.grace
    restart = 0.0 if executor.alive else executor.startup_s
    if not deterministic and 1.1 * k * fold_fit + restart > timeout:
        notes.append(f"Refitted {c.name}: too little time left to fit its {k} fold models.")
        return None
    runner.emit("stage", message=f"Keeping {k} fold models of {c.name} (bagging)")
    try:
        model = executor.run("bag", (members, threshold), timeout)
    except (WorkerTimeout, WorkerError) as exc:
        notes.append(f"Bagging {c.name} failed ({exc}); refitted instead.")
        return None
    return model, c, time.monotonic() - started


def final_fit(runner: TrialRunner, ranked, by_name, notes):
    """``(model, candidate, seconds, 'bagged' or 'refit')``: see the module docstring."""
    best = next(c for c in ranked if c.status == "ok")
    if runner.policy.final_fit != "refit":
        problem = bag_problem(runner, best)
        if problem is None:
            bagged = _try_bag(runner, best, by_name, notes)
            if bagged is not None:
                return (*bagged, "bagged")
        else:
            notes.append(f"Refitted rather than bagged: {problem}.")
    return (*_final_refit(runner, ranked, by_name, notes), "refit")


# ------------------------------------------------------------------ final speed


def _measured_speed(runner: TrialRunner, model: Any, expected: float | None):
    """``(latency_ms, rows_per_s)`` of ``model``, timed here as the trials were but on the
    fastest of two batches; None when timing it (at the ``expected`` rows/s) would overrun
    what the final fit may use."""
    cost = _TIMED_BATCHES * (10_000 / expected if expected else 1.0)
    if runner.clock.left() + runner.clock.grace < 1.2 * cost:
        return None
    return measure_speed(model, runner.problem.X, runner.problem.task, batches=_TIMED_BATCHES)


def speed_check(runner: TrialRunner, model: Any, c: CandidateResult, by_name, notes):
    """The final model's own speed, and a faster blend when a refitted one is too slow.

    The floor was applied to the blend's speed as estimated from its members' fold models.
    The refitted blend is timed itself; under ``--min-rows-per-second``, each of its (already
    fitted) members is timed, and greedy selection over the same out-of-fold predictions,
    now with the measured speeds, keeps the members that fit under the floor. Nothing is
    refitted. Returns ``(model, candidate, (latency_ms, rows_per_s) or None)``.
    """
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.model_selection import FixedThresholdClassifier

    from modelloop.models import FoldBag, thresholded, with_threshold

    expected = c.rows_per_s
    if expected is not None and isinstance(model, FoldBag):  # k fold models predict in turn
        expected /= runner.problem.k
    runner.emit("stage", message="Timing the final model on 10,000 rows")
    speed = _measured_speed(runner, model, expected)
    floor = runner.policy.min_rows_per_s
    if speed is None or floor is None or speed[1] >= floor:
        return model, c, speed
    voting = thresholded(model) if isinstance(model, FixedThresholdClassifier) else model
    under = (
        f"The final model predicts {speed[1]:,.0f} rows/s on a 10,000-row batch, under "
        f"--min-rows-per-second {floor:,.0f}"
    )
    if not isinstance(voting, VotingClassifier | VotingRegressor):
        # a single model is never left out for its speed; a bag was checked as k models
        notes.append(f"{under}.")
        return model, c, speed
    measured: dict[str, float] = {}
    for (name, _), member in zip(voting.estimators, voting.estimators_, strict=True):
        timed = _measured_speed(runner, member, by_name[name].rows_per_s)
        if timed is None:
            notes.append(f"{under}; no time was left to find a faster blend.")
            return model, c, speed
        measured[name] = timed[1]
    p = runner.problem
    rows = p.covered
    selection = select_ensemble(
        {n: by_name[n].oof[rows] for n in measured},
        p.y[rows],
        task=p.task,
        metric=p.metric,
        classes=p.classes,
        rows_per_s=measured,
        min_rows_per_s=floor * _MEASURED_MARGIN,
        sizes_mb={n: by_name[n].size_mb for n in measured},
        max_mb=runner.policy.max_model_mb,
        sample_weight=None if p.w is None else p.w[rows],
    )
    if selection.weights == c.weights:  # the members together clear it: a slow timing
        notes.append(
            f"{under}; its members, timed one by one, clear it together "
            f"({blend_rows_per_s(list(measured.values())):,.0f} rows/s), so it was kept."
        )
        return model, c, speed
    faster = fitted_subset(voting, selection.weights)
    if len(selection.weights) == 1:  # the best member alone, as its own trial labels rows
        chosen = by_name[next(iter(selection.weights))]
    else:
        chosen = blend(
            runner,
            by_name,
            selection.weights,
            "ensemble_fast",
            rows_per_s=blend_rows_per_s([measured[n] for n in selection.weights]),
        )
        runner.results.append(chosen)
        by_name[chosen.name] = chosen
    threshold = chosen.refit_params.get(THRESHOLD)
    if threshold is not None:
        faster = with_threshold(faster, float(threshold))
    timed = _measured_speed(runner, faster, chosen.rows_per_s)
    notes.append(
        f"{under}; its members measured "
        + ", ".join(f"{n} {s:,.0f}" for n, s in measured.items())
        + f" rows/s. Kept {chosen.members or chosen.name} of the fitted members"
        + ("" if timed is None else f" ({timed[1]:,.0f} rows/s)")
        + f", CV {p.metric} {chosen.cv_mean:.6g} against {c.cv_mean:.6g}."
    )
    return faster, chosen, timed
