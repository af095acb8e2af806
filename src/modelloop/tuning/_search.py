"""The time-budgeted search: portfolio, then Optuna, then a greedy ensemble; then the final fit.

:func:`search` composes the stages, each in its own module:

1. *portfolio* (``_portfolio``): strong, diverse default configurations, best first; boosted
   trees stop early on a slice of each training fold. Twins where the data calls for them
   (text embeddings, a log target, class weights).
2. *optuna* (``_optuna``): TPE over the two model families that did best.
3. *ensemble* (``_ensemble``): greedy selection (Caruana) over the trials' out-of-fold
   predictions, kept only when it beats the best single trial.
4. *final fit* (``_final``): the winner refitted on all rows, or its fold models kept.

``strategy="grid"`` and ``"random"`` (``_grid``) evaluate the combinations of ``param_grid``
for each candidate model, like scikit-learn's ``GridSearchCV`` and ``RandomizedSearchCV``.

Every stage feeds the one ask/tell loop (``_loop``), which runs each trial (one
configuration of one catalog model, cross-validated on the same folds) in a worker process
with a time limit (``_runner``, ``_worker``): a slow fit is stopped, recorded as failed, and
the search goes on. Before each trial the search keeps back the time the final fit of the
best model so far needs, so the whole search, final fit included, ends by the deadline.
With ``max_trials`` the search is deterministic (see ``_context``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelloop._spare import libraries
from modelloop.data import Role, Schema, Task
from modelloop.exceptions import ConfigurationError, TrainingError
from modelloop.features import check_text_column
from modelloop.models import THRESHOLD_METRICS, accepts_sample_weight, get_spec, portfolio
from modelloop.tuning._budget import row_limits
from modelloop.tuning._context import Clock, Policy, Problem
from modelloop.tuning._cv import make_folds
from modelloop.tuning._ensemble import run_ensemble
from modelloop.tuning._executors import make_executor, parse_cluster
from modelloop.tuning._final import final_fit as fit_final_model
from modelloop.tuning._final import reserve, speed_check, unfitted
from modelloop.tuning._grid import check_param_grid, run_grid, run_random
from modelloop.tuning._optuna import run_optuna
from modelloop.tuning._portfolio import portfolio_configs, run_portfolio
from modelloop.tuning._records import CandidateResult, SearchEvent, SearchResult, rank
from modelloop.tuning._runner import TrialRunner
from modelloop.tuning._validation import Validation
from modelloop.tuning._worker import model_size_mb

__all__ = [
    "DEFAULT_MAX_MODEL_MB",
    "DEFAULT_MIN_ROWS_PER_S",
    "FINAL_FITS",
    "STRATEGIES",
    "CandidateResult",
    "SearchEvent",
    "SearchResult",
    "check_search_options",
    "search",
]

STRATEGIES = ("auto", "grid", "random")
FINAL_FITS = ("auto", "refit", "bag")
DEFAULT_MIN_ROWS_PER_S = 10_000.0
"""The speed floor of ensembles and bags when the caller sets none (and the search has a
time budget rather than a trial budget: see ``_context``)."""
# The libraries a model's first fit would import: a worker imports them as it starts.
_WEIGHT_COLUMN = "__modelloop_sample_weight__"  # carries the weights through _limit_rows
DEFAULT_MAX_MODEL_MB = 20.0
"""The largest final model (saved size) when the caller sets no limit."""


def search(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    schema: Schema,
    task: Task,
    metric: str,
    candidates: Sequence[str] | None = None,
    cv: int = 5,
    time_budget: float | None = None,
    max_trials: int | None = None,
    strategy: str = "auto",
    param_grid: dict[str, Any] | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    ensemble: bool = True,
    max_latency_ms: float | None = None,
    min_rows_per_s: float | None = None,
    max_model_mb: float | None = None,
    refit: bool = True,
    final_fit: str = "auto",
    on_event: Callable[[SearchEvent], None] | None = None,
    cluster: Any = None,
    max_search_rows: int | None = None,
    study_journal: str | None = None,
    validation: Validation | None = None,
    sample_weight: Any = None,
) -> SearchResult:
    """Search model configurations with the same CV folds, within a time and trial budget.

    Each trial is ``features.make_pipeline(schema, family, estimator)`` with the trial's
    estimator parameters: preprocessing is refitted inside every fold. A trial that fails
    (an error, out of memory, its time limit) is recorded with its reason and the search
    goes on. With ``refit`` the winner is made into the final model within the same budget
    and returned as ``result.model``.

    Parameters
    ----------
    X, y : the training rows (the test split is kept away by the caller).
    schema : the training schema (its feature columns are the model input).
    task, metric : what is learned and what selection optimises (a name in ``evaluation``).
    candidates : catalog model names to consider; the task's whole portfolio when omitted.
    time_budget : seconds for the whole search, final fit included (``None``: no limit).
    max_trials : stop after this many trials (the ensemble is not counted). With a trial
        budget the search is deterministic: the same ``seed`` gives the same trials and the
        same final model on an idle or a busy machine (see ``_context``).
    strategy : 'auto' (portfolio, Optuna, ensemble), 'grid' or 'random' (over ``param_grid``).
    param_grid : for 'grid' / 'random': estimator parameter names to lists of values.
    n_jobs : trials run at once, each in its own worker process on one core (local runs).
    max_latency_ms : trials slower than this for one row are excluded from the choice.
    min_rows_per_s : an ensemble member joins only while the blend's estimated batch speed
        stays at or above this many rows per second, and a bag only when its k fold models
        do. ``None``: 10,000 (``DEFAULT_MIN_ROWS_PER_S``), or no floor with a trial budget
        (speed is measured, so a floor would make the result depend on the machine's load);
        0: no floor. A single model is never excluded for its speed.
    max_model_mb : trials, blends and bags whose saved model would take more megabytes than
        this are left out (estimated from each trial's first fold model). ``None``: 20
        (``DEFAULT_MAX_MODEL_MB``); 0: no limit.
    final_fit : 'auto' (default), 'refit' or 'bag': how the winner becomes the final model.
        'refit' fits it once on all rows; 'bag' keeps its k fold models (fitted as in the
        trials) and averages them (``models.FoldBag``); 'auto' bags only when, on held-out
        folds, the fold models score better than a refit and time allows. Bagging needs
        the search to have seen every row, and k fold models within ``min_rows_per_s`` and
        ``max_latency_ms``. ``result.final_fit`` says which was made. 'auto' means 'refit'
        for the grid and random strategies.
    cluster : run the trials on a Dask cluster: ``'local[:N]'``, ``'tcp://host:8786'`` or a
        ``distributed.Client`` (see ``_executors``); ``None``: local worker processes.
    study_journal : a file path: the model-based stage's Optuna study is kept there, in an
        Optuna journal (``optuna.storages.JournalStorage``), which outlives the run and
        can be opened by any process that reaches the file (``None``: in memory).
    max_search_rows : search on a stratified sample of at most this many rows (default:
        a limit from the time budget and free memory, see ``_budget.row_limits``) and
        refit on as many rows as memory allows; the notes say what was used.
    validation : how the folds split the rows (``tuning.Validation``, its arrays aligned
        with ``X``): by group, or by time (forward-chaining folds, a gap, early-stopping
        slices taken from the latest rows of each training fold, no bagging of fold
        models trained on the past only). ``None``: shuffled (stratified) folds.
    sample_weight : one weight >= 0 per row of ``X``: every model is fitted with it (as its
        ``sample_weight``), every fold, blend and holdout scored with it. Named models that
        cannot take weights are refused; the portfolio leaves them out with a note. The
        post-processing that is fitted unweighted (a temperature, a decision threshold) is
        not tried.

    Raises
    ------
    ConfigurationError
        Bad options (checked before any work).
    InvalidInputError
        A text column with no usable text in any row (checked before any work).
    TrainingError
        When every trial failed.

    Examples
    --------
    >>> result = search(X, y, schema=ds.schema, task="binary", metric="roc_auc",
    ...                 candidates=["logistic_regression", "lightgbm"])  # doctest: +SKIP
    >>> result.leaderboard  # doctest: +SKIP
    """
    check_search_options(strategy, max_trials, final_fit, min_rows_per_s, max_model_mb)
    if candidates is not None and not candidates:
        raise ConfigurationError("At least one candidate model is needed. Got an empty list.")
    if time_budget is not None and time_budget <= 0:
        raise ConfigurationError(f"time_budget must be > 0 seconds. Got {time_budget} instead.")
    if isinstance(cluster, str):
        parse_cluster(cluster)  # a malformed --cluster fails before any work
    for column in schema.by_role(Role.TEXT):
        if column in X.columns:  # one clear error, not one failed trial per model
            check_text_column(X[column].to_numpy(dtype=object), column)
    models = list(dict.fromkeys(candidates)) if candidates else None
    for name in models or ():
        get_spec(name, task)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    notes: list[str] = []
    if weights is not None and (
        weights.shape != (len(X),) or not np.isfinite(weights).all() or (weights < 0).any()
    ):
        raise ConfigurationError(
            f"sample_weight must hold one finite weight >= 0 per row ({len(X)}). "
            f"Got {weights.shape[0] if weights.ndim else 0} values."
        )
    if weights is not None:
        refused = [m for m in models or () if not accepts_sample_weight(m, task)]
        if refused:
            raise ConfigurationError(
                f"Model(s) {', '.join(refused)} cannot be fitted with sample weights (their "
                "fit takes no sample_weight). Leave them out of models, or train without weights."
            )
    grid = None
    if strategy == "auto":
        if param_grid:
            raise ConfigurationError(
                "A param grid needs --search grid or --search random. Got --search auto."
            )
        configs, text_models, balanced = portfolio_configs(
            task, metric, X, np.asarray(y), schema, models, time_budget
        )
        if weights is not None:
            left_out = sorted({m for m, _ in configs if not accepts_sample_weight(m, task)})
            configs = [(m, p) for m, p in configs if m not in left_out]
            if left_out:
                notes.append(
                    f"Left out {', '.join(left_out)}: they cannot be fitted with sample weights."
                )
    else:
        if not models:
            raise ConfigurationError(
                f"--search {strategy} needs --models naming the model(s) to search."
            )
        if strategy == "grid" and not param_grid:
            raise ConfigurationError(
                "--search grid needs --param-grid, e.g. '{\"max_depth\": [3, 5]}'."
            )
        grid = check_param_grid(param_grid, models, task) if param_grid else None
        configs, text_models, balanced = [], frozenset(), False
    deterministic = max_trials is not None
    if min_rows_per_s is None:
        min_rows_per_s = None if deterministic else DEFAULT_MIN_ROWS_PER_S
    classes = None if task == "regression" else np.unique(np.asarray(y))
    policy = Policy(
        max_latency_ms=max_latency_ms,
        min_rows_per_s=min_rows_per_s or None,
        max_model_mb=(DEFAULT_MAX_MODEL_MB if max_model_mb is None else max_model_mb) or None,
        final_fit=final_fit if strategy == "auto" or final_fit == "bag" else "refit",
        ensemble=ensemble and strategy == "auto",
        # a grid or random search returns exactly the models it evaluated
        # a temperature and a threshold are fitted unweighted: not with sample weights
        calibration=strategy == "auto" and classes is not None and weights is None,
        thresholding=strategy == "auto"
        and weights is None
        and task == "binary"
        and metric in THRESHOLD_METRICS
        and len(classes) == 2,  # type: ignore[arg-type]
        balanced=balanced,
        deterministic=deterministic,
        text_models=text_models,
        max_trials=max_trials,
    )
    # The first model and the final fit may overrun the search budget by this much: half
    # the promised margin of 10 %, at least 3 s (a run that ends without a model has
    # failed); the caller keeps back what scoring and saving need.
    clock = Clock.of(time_budget, 0.0 if time_budget is None else max(0.05 * time_budget, 3.0))
    if validation is not None and validation.kind == "random":
        validation = None
    if validation is not None:
        for values in (validation.groups, validation.times):
            if values is not None and len(values) != len(X):
                raise ConfigurationError(
                    f"The validation's {validation.kind} column has {len(values)} values "
                    f"for {len(X)} rows: give one per row of X."
                )
    if weights is not None:  # the weights travel with their rows (time order, row limit)
        X = X.reset_index(drop=True).assign(**{_WEIGHT_COLUMN: weights})
    y_arr = np.asarray(y)
    if validation is not None and validation.times is not None:
        # rows in time order: a fold's training rows reach a model oldest first, so one that
        # holds out its last rows to stop early (the PyTorch network) holds out the latest
        order = np.argsort(validation.times, kind="stable")
        X, y_arr, validation = X.iloc[order], y_arr[order], validation.take(order)
    X, y_arr, n_search, row_note, validation = _limit_rows(
        X, y_arr, task, cv, time_budget, max_search_rows, seed, validation
    )
    if weights is not None:
        weights = X.pop(_WEIGHT_COLUMN).to_numpy(dtype=float)
    searched = None if validation is None else validation.take(np.arange(n_search))
    folds = make_folds(pd.Series(y_arr[:n_search]), task, cv, seed=seed, validation=searched)
    problem = Problem(
        X.reset_index(drop=True), y_arr, n_search, schema, task, metric, folds, seed, validation,
        sample_weight=weights,
    )  # fmt: skip
    names = {m for m, _ in configs} | set(models or ())
    preload = libraries(names)
    executor = make_executor(problem.payload(preload), cluster, slots=max(1, n_jobs))
    runner = TrialRunner(problem, policy, executor, clock, on_event, reserve)
    notes += [row_note] if row_note else []
    cap = None if time_budget is None else max(0.4 * time_budget, 10.0)
    try:
        runner.emit("start", total=len(folds))
        runner.stage = {"auto": "portfolio", "grid": "grid", "random": "random"}[strategy]
        runner.emit("stage", message=f"Stage {runner.stage}")
        not_run = 0
        if strategy == "auto":
            not_run = run_portfolio(runner, configs, cap=cap, max_trials=max_trials)
        elif strategy == "grid":
            not_run = run_grid(runner, models or [], grid, cap=cap, max_trials=max_trials)
        else:
            run_random(runner, models or [], grid, cap=cap, max_trials=max_trials)
        if not_run:
            notes.append(f"{not_run} configurations not tried (time or trial budget spent).")
        if strategy == "auto" and runner.ok():
            runner.stage = "optuna"
            runner.emit("stage", message="Stage optuna")
            tuned_models = models or [
                m for m, _ in portfolio(task) if weights is None or accepts_sample_weight(m, task)
            ]
            run_optuna(
                runner, tuned_models, cap=cap,
                max_trials=max_trials, journal=None if study_journal is None else str(study_journal),
            )  # fmt: skip
        if not runner.ok():
            errors = "; ".join(f"{c.name}: {c.error}" for c in runner.results if c.error)
            raise TrainingError(f"No candidate model could be fitted. {errors}")
        if policy.ensemble:
            runner.stage = "ensemble"
            runner.emit("stage", message="Stage ensemble")
            blended = run_ensemble(runner)
            if blended is not None:
                runner.results.append(blended)
                runner.emit("done", candidate="ensemble", score=blended.cv_mean)
        ranked = runner.ranked()
        by_name = {c.name: c for c in runner.results}
        best = ranked[0]
        model, refit_time, how, speed = None, 0.0, "", None
        if refit:
            runner.stage = "refit"
            model, best, refit_time, how = fit_final_model(runner, ranked, by_name, notes)
            timing = time.monotonic()
            model, best, speed = speed_check(runner, model, best, by_name, notes)
            refit_time += time.monotonic() - timing
            if best is not ranked[0]:  # a faster one, or a blend of fewer refitted members
                ranked = [best] + [
                    c for c in rank(runner.results, problem.greater) if c is not best
                ]
        return SearchResult(
            metric=metric,
            greater_is_better=problem.greater,
            candidates=tuple(ranked),
            best=best,
            best_pipeline=unfitted(runner, best, by_name),
            n_folds=len(folds),
            elapsed=clock.elapsed(),
            model=model,
            refit_time=refit_time,
            notes=tuple(notes),
            rows={"search": n_search, "refit": len(X)} if row_note else {},
            final_fit=how,
            speed={}
            if speed is None
            else {"latency_ms": round(speed[0], 3), "rows_per_s": round(speed[1])},
            size_mb=None if model is None else round(model_size_mb(model), 3),
        )
    finally:
        executor.close()


def check_search_options(
    strategy: str,
    max_trials: int | None,
    final_fit: str,
    min_rows_per_s: float | None,
    max_model_mb: float | None = None,
    *,
    name: str = "min_rows_per_s",
) -> None:
    """Raise ``ConfigurationError`` for an unknown search strategy or ``final_fit``, a
    ``max_trials`` under 1, or a negative speed floor or size limit (``search`` and ``train``
    both check before any work).

    ``name`` is what the caller calls the floor (``train`` says ``min_rows_per_second``).

    >>> check_search_options("auto", 10, "bag", 0)
    >>> check_search_options("auto", None, "folds", None)
    Traceback (most recent call last):
    ...
    modelloop.exceptions.ConfigurationError: final_fit must be one of auto, refit, bag. Got 'folds'.
    """
    if strategy not in STRATEGIES:
        raise ConfigurationError(
            f"search must be one of {', '.join(STRATEGIES)}. Got {strategy!r} instead."
        )
    if max_trials is not None and (not isinstance(max_trials, int) or max_trials < 1):
        raise ConfigurationError(f"max_trials must be an integer >= 1. Got {max_trials!r} instead.")
    if final_fit not in FINAL_FITS:
        raise ConfigurationError(
            f"final_fit must be one of {', '.join(FINAL_FITS)}. Got {final_fit!r}."
        )
    if min_rows_per_s is not None and not min_rows_per_s >= 0:
        raise ConfigurationError(f"{name} must be >= 0 (0: no floor). Got {min_rows_per_s!r}.")
    if max_model_mb is not None and not max_model_mb >= 0:
        raise ConfigurationError(f"max_model_mb must be >= 0 (0: no limit). Got {max_model_mb!r}.")


def _limit_rows(X, y, task, cv, time_budget, max_search_rows, seed, validation=None):
    """Reorder the rows so a stratified search sample comes first; drop what cannot be refit.

    Returns ``(X, y, n_search, note, validation)``: the folds use the first ``n_search``
    rows, the refit all of them; ``validation`` is reordered with the rows. ``note`` says
    what was left out (empty when nothing was). With a group validation the sample is of
    whole groups; with a time validation it is the latest rows, and a refit that cannot
    take every row leaves out the oldest.
    """
    X = X.reset_index(drop=True)
    n = len(X)
    row_bytes = max(1.0, X.memory_usage(deep=True).sum() / max(n, 1))
    search_rows, refit_rows = row_limits(n, row_bytes, X.shape[1], cv, time_budget)
    if max_search_rows is not None:
        search_rows = max(1, min(n, int(max_search_rows)))
    refit_rows = max(refit_rows, search_rows)
    if search_rows >= n and refit_rows >= n:
        return X, y, n, "", validation
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    kind = "random" if validation is None else validation.kind
    how = "stratified " if task != "regression" else ""
    if kind != "random":
        head = validation.sample(search_rows, seed) if search_rows < n else np.arange(n)
        rest = np.setdiff1d(np.arange(n), head)
        if kind == "time":  # the refit keeps the latest rows
            rest = rest[np.argsort(-validation.times[rest], kind="stable")]
        else:
            rest = rng.permutation(rest)
        order = np.concatenate([head, rest])
        search_rows = len(head)
        refit_rows = max(refit_rows, search_rows)
        how = "latest " if kind == "time" else "whole-group "
    elif task != "regression" and search_rows < n:
        from sklearn.model_selection import train_test_split

        try:
            head, tail = train_test_split(
                np.arange(n), train_size=search_rows, stratify=y, random_state=seed
            )
            order = np.concatenate([head, rng.permutation(tail)])
        except ValueError:  # a class too rare to stratify: a uniform sample
            pass
    order = order[:refit_rows]
    note = (
        f"Searched on a {how}sample of "
        f"{search_rows:,} of {n:,} rows (row limit from the time budget and memory); "
        f"refitted on {len(order):,} rows."
    )
    taken = None if validation is None else validation.take(order)
    return X.iloc[order].reset_index(drop=True), y[order], search_rows, note, taken
