"""``train``: from a table to a cross-validated, tested, recorded (and registered) model."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from modelloop._spare import ensure_spares, libraries
from modelloop.config import Settings
from modelloop.data import (
    TASKS,
    UNSUPERVISED_TASKS,
    Dataset,
    Role,
    Task,
    check_target,
    detect_task,
    drop_missing_target,
    enforce_rules,
    json_value,
    load,
    load_rules,
    validation_hints,
)
from modelloop.evaluation import (
    default_metric,
    get_metric,
    metrics_for_task,
    resolve_metric,
    score_all,
)
from modelloop.exceptions import ColumnNotFoundError, ConfigurationError
from modelloop.features import portable_images
from modelloop.models import accepts_sample_weight, get_spec, predicted_labels
from modelloop.store import Store, skops_io
from modelloop.tuning import (
    SearchEvent,
    Validation,
    check_budget,
    check_param_grid,
    check_search_options,
    search,
)
from modelloop.workflows._images import embed_dataset, finetune_candidates, split_folder
from modelloop.workflows._ingest import load_source
from modelloop.workflows._run_report import keep_evaluation
from modelloop.workflows._validation import resolve_validation, split_rows
from modelloop.workflows._versions import library_versions
from modelloop.workflows._weights import attach_weights, check_custom_metric, weight_column

__all__ = ["TrainResult", "train"]

log = logging.getLogger("modelloop.workflows")
_now = time.monotonic  # ``train`` takes a ``time`` argument (the time column)


@dataclass
class TrainResult:
    """What ``train`` produced.

    ``model`` is a fitted scikit-learn ``Pipeline`` (schema check, preprocessing, estimator)
    that takes raw rows; ``leaderboard`` is a DataFrame, best first; ``metrics`` are the
    test-split metrics of the refitted best model, ``cv_metrics`` its cross-validated score.
    """

    run_id: str
    name: str
    task: Task
    metric: str
    target: str
    best_model: str
    model: Any
    leaderboard: pd.DataFrame
    metrics: dict[str, float]
    cv_metrics: dict[str, float]
    dataset: Dataset = field(repr=False)
    classes: list[Any] | None = None
    version: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    best_params: dict[str, Any] = field(default_factory=dict)
    trials: list[dict[str, Any]] = field(default_factory=list)
    # how the final model was made: 'refit' on all training rows or 'bagged' fold models
    final_fit: str = ""
    lineage: dict[str, Any] = field(default_factory=dict)
    # the validation rules each row must pass at serve time (``Rules.for_rows``), or None
    rules: dict[str, Any] | None = None
    # how rows were split: {'kind': 'random'|'group'|'time', 'column', 'gap', 'description'}
    validation: dict[str, Any] = field(default_factory=dict)
    _explainer: Any = field(default=None, repr=False, compare=False)

    def explain(
        self, frame: pd.DataFrame, *, output: str | None = None, target_class: Any = None
    ) -> pd.DataFrame:
        """Per-row contributions of each input column to ``model``'s output for ``frame``:
        ``explained_class`` (classifiers), ``output_value``, ``base_value`` and one
        ``contrib_<column>`` per input column (see ``LoadedModel.explain``). The training
        rows are the background sample where a method needs one.

        >>> result = ml.train("titanic.csv", target="Survived")  # doctest: +SKIP
        >>> result.explain(frame.head())  # doctest: +SKIP
        """
        if self._explainer is None:
            from modelloop.explain import Explainer

            self._explainer = Explainer(
                self.model,
                self.task,
                self.dataset.schema.feature_columns(),
                background=self.dataset.frame,
                name=f"'{self.name}'" if self.name else "the trained model",
            )
        explanation = self._explainer.explain(frame, output=output, target_class=target_class)
        return explanation.frame(index=frame.index)

    def __repr__(self) -> str:
        score = self.cv_metrics.get(self.metric)
        test = self.metrics.get(self.metric)
        shown = f", CV {self.metric} {score:.4f}" if isinstance(score, float) else ""
        if isinstance(test, float):
            shown += f", test {test:.4f}"
        version = f", version {self.version}" if self.version is not None else ""
        return (
            f"TrainResult({self.name!r}: {self.task}, best {self.best_model}{shown}"
            f"{version}, {len(self.leaderboard)} candidates)"
        )

    def _repr_html_(self) -> str:
        """The notebook view: the best model, its metrics, the leaderboard and the notes."""
        from modelloop.data._repr import html_table, html_view

        facts = [self.task, f"selected by CV {self.metric}", f"best {self.best_model}"]
        if self.target:
            facts.insert(1, f"target {self.target}")
        if self.version is not None:
            facts.append(f"registered as {self.name}:{self.version}")
        facts.append(f"run {self.run_id[:12]}")
        names = list(dict.fromkeys([*self.metrics, *self.cv_metrics]))
        rows = [[n, self.metrics.get(n), self.cv_metrics.get(n)] for n in names]
        part = "training rows" if self.task in UNSUPERVISED_TASKS else "test"
        sections = [("Metrics", html_table(["metric", part, "CV"], rows))]
        board = self.leaderboard
        if len(board):
            wanted = [c for c in board.columns if not str(c).startswith("members")][:8]
            sections.append(
                ("Leaderboard", html_table(wanted, board[wanted].itertuples(index=False), limit=10))
            )
        if self.notes:
            sections.append(("Notes", html_table(["note"], [[n] for n in self.notes])))
        return html_view(f"Training result {self.name}", facts, sections)

    def bundle(self) -> dict[str, Any]:
        """The object stored as the model artifact: the pipeline plus what describes it."""
        return {
            "pipeline": self.model,
            "schema": self.dataset.schema.to_dict(),
            "task": self.task,
            "target": self.target,
            "classes": self.classes,
            "metric": self.metric,
            "library_versions": library_versions(),
            "rules": self.rules,
        }

    def registration(self) -> dict[str, Any]:
        """What ``Store.register`` needs to record this result as a model version."""
        return {
            "model": self.bundle(),
            "run_id": self.run_id,
            "schema": self.dataset.schema.to_dict(),
            "task": self.task,
            "metrics": self._registered_metrics(),
            "description": f"{self.best_model} trained on {self.dataset.name} to predict {self.target}"
            if self.target
            else f"{self.best_model} ({self.task}) trained on {self.dataset.name}",
            "reference": portable_images(
                self.dataset.frame, self.dataset.schema.by_role(Role.IMAGE)
            )
            if self.dataset.schema.by_role(Role.IMAGE)
            else self.dataset.frame,
            "reference_hash": self.dataset.hash,
            "lineage": {
                "trigger": "train",
                "run_id": self.run_id,
                "dataset": {
                    "hash": self.dataset.hash,
                    "source": self.dataset.source,
                    "rows": self.dataset.n_rows,
                },
                **self.lineage,
            },
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (what ``modelloop train --json`` prints)."""
        return {
            "run_id": self.run_id,
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "target": self.target,
            "metric": self.metric,
            "best_model": self.best_model,
            "best_params": self.best_params,
            "final_fit": self.final_fit,
            "cv_metrics": self.cv_metrics,
            "test_metrics": self.metrics,
            "leaderboard": _jsonable_records(self.leaderboard),
            "dataset": {
                "hash": self.dataset.hash,
                "source": self.dataset.source,
                "rows": self.dataset.n_rows,
            },
            "timings": self.timings,
            "validation": self.validation,
            "notes": self.notes,
        }

    def _registered_metrics(self) -> dict[str, Any]:
        return {"test": self.metrics, "cv": self.cv_metrics}


@dataclass(repr=False)
class UnsupervisedTrainResult(TrainResult):
    """What ``train`` produced for a clustering, reduce or anomaly task: no target, no
    test split (``metrics`` are measured on the training rows), and a ``summary``.

    ``summary`` holds the cluster sizes and profiles, the explained variance or the
    anomaly threshold, and a 2-D projection (see ``workflows._train_unsupervised``).
    """

    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def cluster_profile(self) -> dict[str, Any] | None:
        """Per cluster, what sets it apart per feature (clustering and anomaly runs)."""
        return self.summary.get("profile")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (what ``modelloop train --json`` prints)."""
        return {**super().to_dict(), "summary": _without_projection(self.summary)}

    def _registered_metrics(self) -> dict[str, Any]:
        return {"train": self.metrics, "summary": _without_projection(self.summary)}


def _without_projection(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "projection"}


def _jsonable_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json_value(frame.to_dict(orient="records"), "leaderboard", unknown="keep")


def record_dataset(store: Store, dataset: Dataset) -> None:
    """Record ``dataset`` (hash, source, shape, schema) in the store, once per content hash."""
    store.record_dataset(
        hash=dataset.hash,
        name=dataset.name,
        source=dataset.source,
        n_rows=dataset.n_rows,
        n_cols=dataset.n_cols,
        schema=dataset.schema.to_dict(),
    )


def fail_run(store: Store, run_id: str, exc: BaseException) -> None:
    """Mark run ``run_id`` failed with ``exc`` as its error."""
    store.finish_run(
        run_id,
        status="failed",
        error=f"{type(exc).__name__}: {exc}"[:2000],
        library_versions=library_versions(),
    )


def register_and_finish(
    store: Store,
    result: TrainResult,
    *,
    register: bool,
    aliases: Sequence[str],
    emit: Callable[[SearchEvent], None],
    **metrics: Any,
) -> None:
    """Register ``result`` (when asked) under ``result.name``, then mark its run finished.

    ``metrics`` are the metric fields of ``Store.finish_run`` (``test_metrics``, ...).
    """
    if register:
        emit(SearchEvent("stage", message=f"Registering model '{result.name}'"))
        started = time.monotonic()
        record = store.register(result, name=result.name, aliases=aliases)
        result.version = record.version
        result.timings["register_s"] = round(time.monotonic() - started, 3)
    store.finish_run(
        result.run_id,
        status="finished",
        leaderboard=_jsonable_records(result.leaderboard),
        best_model=result.best_model,
        timings=result.timings,
        library_versions=library_versions(),
        **metrics,
    )


def _import_in_background(modules: Sequence[str | Callable[[], Any]]) -> None:
    """Import ``modules`` in a daemon thread, so that the step that needs them later (the
    model file's writer) does not wait for them: importing skops walks every scikit-learn
    module, seconds that the search, whose work runs in other processes, can hide."""
    import importlib
    import threading

    def run() -> None:
        for name in modules:
            try:
                name() if callable(name) else importlib.import_module(name)
            except ImportError as exc:  # the step that needs it will say so
                log.warning("Could not import %s ahead of time: %s", name, exc)

    threading.Thread(target=run, name="modelloop-imports", daemon=True).start()


class _Deadlines:
    """How ``train`` shares its time budget between its steps (see ``train``'s promise).

    The budget counts from ``started``. The search gets what is left of it less what the
    steps after it need (scoring the test split, the report's data, registration and the
    caller's ``time_after``); the search may overrun its own budget by a little (its final
    fit's grace), and the report's data take what is left of the promised margin.
    """

    # What scoring, saving and registering need after the search, roughly: a fixed part
    # and a share of the budget (measured: 1-3 s on the dev datasets).
    _FIXED_S, _SHARE = 1.5, 0.04

    def __init__(self, started: float, budget: float | None, after: float) -> None:
        self.started, self.budget, self.after = started, budget, max(0.0, after)

    def _left(self, seconds: float) -> float:
        return self.started + seconds - time.monotonic()

    def for_search(self) -> float | None:
        """The search's own time budget (``None``: no limit)."""
        if self.budget is None:
            return None
        reserve = self._FIXED_S + self._SHARE * self.budget + self.after
        return max(self._left(self.budget) - reserve, 1.0)

    def for_evaluation(self) -> float | None:
        """Seconds the report's data may take: what is left of the budget, less saving.

        The plan ends at the budget itself; the promise's margin (``promised_seconds``) is
        kept for what cannot be planned (a final fit or an explanation slower than its
        estimate, a busy machine). Planning the report up to the promise ran 60 s budgets
        to 67-70 s whenever the final fit took longer than estimated.
        """
        if self.budget is None:
            return None
        return self._left(self.budget) - self._FIXED_S - self.after


def _check_options(
    task: str | None,
    cv: int,
    test_size: float,
    time_budget: float | None,
    max_trials: int | None = None,
    strategy: str = "auto",
    final_fit: str = "auto",
    min_rows_per_second: float | None = None,
    max_model_mb: float | None = None,
) -> None:
    if task is not None and task not in TASKS:
        raise ConfigurationError(
            f"task must be one of {', '.join(TASKS + UNSUPERVISED_TASKS)}. Got '{task}' instead."
        )
    if not isinstance(cv, int) or cv < 2:
        raise ConfigurationError(f"cv must be an integer >= 2. Got {cv!r} instead.")
    if not 0.0 < test_size < 1.0:
        raise ConfigurationError(
            f"test_size must be in the open range (0, 1). Got {test_size} instead."
        )
    if time_budget is not None and not time_budget > 0:
        raise ConfigurationError(
            f"time_budget must be a number of seconds > 0. Got {time_budget} instead."
        )
    check_search_options(
        strategy, max_trials, final_fit, min_rows_per_second, max_model_mb,
        name="min_rows_per_second",
    )  # fmt: skip


def holdout_metrics(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    task: Task,
    sample_weight: Any = None,
    extra: Sequence[str] = (),
) -> dict[str, float]:
    """Every metric of ``task`` (and the custom ones named in ``extra``) on ``X``, ``y``,
    weighted by ``sample_weight`` when given."""
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if task == "regression":
        return score_all(task, y.to_numpy(), y_pred=model.predict(X), sample_weight=w, extra=extra)
    proba = model.predict_proba(X)
    classes = np.asarray(model.classes_)
    pred = predicted_labels(model, proba, classes)
    return score_all(
        task,
        y.to_numpy(),
        y_pred=pred,
        y_proba=proba,
        classes=classes,
        sample_weight=w,
        extra=extra,
    )


EXPORTABLE = ("onnx",)


def _exportable_candidates(
    fmt: str,
    candidates: list[str] | None,
    schema: Any,
    task: str,
    time_budget: float | None,
) -> list[str]:
    """The models to search so that the result exports to ``fmt``: the portfolio's models
    (or ``candidates``) that convert; columns the format cannot take stop here."""
    from modelloop.export import onnx_convertible, unconvertible_columns
    from modelloop.models import portfolio

    if fmt not in EXPORTABLE:
        raise ConfigurationError(
            f"exportable must be one of {', '.join(EXPORTABLE)}. Got {fmt!r}; the other "
            "export formats take any model."
        )
    columns = unconvertible_columns(schema)
    if columns:
        shown = ", ".join(f"'{c}'" for c in columns)
        raise ConfigurationError(
            f"Column(s) {shown} are text or dates, which an ONNX graph of modelloop cannot "
            f"take; drop them (--drop {columns[0]}) or give them another role "
            f"(--types {columns[0]}=categorical) to train an exportable model."
        )
    if candidates:
        refused = [c for c in candidates if not onnx_convertible(c)]
        if refused:
            raise ConfigurationError(
                f"Model(s) {', '.join(refused)} do not convert to ONNX; leave them out of "
                "--models, or drop --exportable onnx."
            )
        return candidates
    wanted = [m for m, _ in portfolio(task, time_budget=time_budget) if onnx_convertible(m)]
    return list(dict.fromkeys(wanted))


def train(
    source: str | Path | pd.DataFrame | Dataset,
    target: str | None = None,
    *,
    task: Task | str | None = None,
    metric: str | Callable[..., Any] | None = None,
    name: str | None = None,
    register: bool | None = None,
    aliases: Sequence[str] = (),
    models: Sequence[str] | None = None,
    cv: int = 5,
    test_size: float = 0.2,
    time_budget: float | None = 120.0,
    max_trials: int | None = None,
    search_strategy: str = "auto",
    param_grid: dict[str, Any] | None = None,
    max_latency_ms: float | None = None,
    min_rows_per_second: float | None = None,
    max_model_mb: float | None = None,
    final_fit: str = "auto",
    seed: int | None = None,
    drop: Sequence[str] = (),
    types: dict[str, str] | None = None,
    test: str | Path | pd.DataFrame | None = None,
    rules: Any = None,
    id_column: str | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    on_event: Callable[[SearchEvent], None] | None = None,
    started: float | None = None,
    time_after: float = 0.0,
    exportable: str | None = None,
    group: str | None = None,
    time: str | None = None,
    gap: int | str | timedelta | None = None,
    weight: str | None = None,
    sample_weight: Any = None,
    greater_is_better: bool | None = None,
    needs_proba: bool | None = None,
) -> TrainResult:
    """Train a model on a table with honest evaluation, record the run, optionally register.

    A test split is held out (stratified for classification); candidate models are
    cross-validated on the rest with the same folds; the best is refitted on all training
    rows and scored once on the test split. The run (parameters, CV and test metrics,
    leaderboard, timings, library versions) is recorded in the store; with ``name`` (or
    ``register=True``) the fitted pipeline is registered as a new version of that model.

    Every check on the input runs before the store is touched: bad input leaves it unchanged.

    Parameters
    ----------
    source : a file path, a SQLAlchemy URL, a DataFrame or a loaded ``Dataset``.
    target : the column to predict (none for 'clustering', 'reduce' and 'anomaly': those
        tasks run ``workflows.train_unsupervised``).
    task : 'binary', 'multiclass' or 'regression'; detected from the target when omitted.
    metric : what selection optimises (see ``evaluation.metrics_for_task``); default per task
        (with ``search_strategy`` 'grid' or 'random': accuracy, or r2 for a regression).
        A custom metric: a function ``f(y_true, y_pred)`` returning a number (with
        ``greater_is_better``, and ``needs_proba`` when it takes probabilities), a
        ``make_metric`` result, or ``'module:function'`` (imported only with
        ``settings.trust``: importing runs the module's code). It is scored, stored and
        shown like the built-in metrics, under the name ``module:function`` when its module
        is importable.
    greater_is_better, needs_proba : for a custom ``metric`` given as a function.
    name : the registered model's name; registering defaults to on when a name is given.
    models : restrict the search to these catalog models (default: the task's portfolio).
    time_budget : seconds for the whole of ``train``: loading, search, final fit, scoring,
        the report's data and registration. A promise: the call returns within the budget
        plus 10 % (plus 3 s under 30 s; ``tuning.promised_seconds``); a trial that would
        overrun is stopped. ``None``: no time limit.
    max_trials : stop the search after this many trials. With a trial budget the run is
        deterministic: the same ``seed`` gives the same final model on an idle or a busy
        machine (no decision reads a clock; the time budget stays a hard limit).
    search_strategy : 'auto' (portfolio, Optuna, ensemble), 'grid' or 'random'.
    param_grid : for 'grid' / 'random': estimator parameter names to lists of values.
    max_latency_ms : exclude models slower than this to predict one row.
    min_rows_per_second : an ensemble only takes members while it still predicts a batch
        at this many rows per second or more (0: no floor). ``None``: 10,000, or no floor
        with ``max_trials`` (a measured speed would make the run depend on the machine).
    max_model_mb : leave out models whose saved file would take more megabytes than this
        (``None``: 20; 0: no limit).
    final_fit : 'auto', 'refit' or 'bag': refit the winner on all training rows, or keep
        its cross-validation fold models and average them ('auto' bags only when that
        scores better on held-out folds; see ``tuning.search``). ``final_fit`` in the
        leaderboard records which was made.
    test : a separate table to score the final model on, instead of holding out
        ``test_size`` of ``source`` (for a fixed, shared test set).
    rules : validation rules (a rules-file path or mapping) the raw rows must pass;
        ``source`` may also be ``'data:NAME@VERSION'``, a snapshot made by ``ingest``.
    id_column : a column that names each row (a customer id): never a feature; stored with
        the model so that the server logs it and delayed labels may name rows by it.
    weight : a column of per-row sample weights (numbers >= 0): never a feature; every
        model is fitted with it, and CV scores, the ensemble's choice and the test metrics
        are weighted by it. Stored with the run (``retrain`` reuses it) and the model
        (``monitor`` weights performance by it where labelled rows carry it).
    sample_weight : the same as ``weight`` (a column name), or an array of one weight per
        row when ``source`` is a DataFrame.
    started : the ``time.monotonic()`` instant the budget counts from (default: the call;
        the CLI passes its own start, so the promise covers the whole command).
    time_after : seconds of the budget the caller needs once ``train`` returns (the CLI's
        ``--report``): kept back from the search.
    group : a column whose rows belong together (a patient, a customer): the rows of one
        group are never split, neither across the CV folds nor between the training rows
        and the test split. Not a feature. Not with ``time``.
    time : a column of dates or numbers ordering the rows in time: train on the past,
        validate on the future. The test split is the latest ``test_size`` of the rows and
        the folds chain forward (each trains on every row before its validation rows).
        The column stays a feature with its inferred role (``types={col: "identifier"}``
        keeps it out).
    gap : with ``time``: rows left out between training and validation rows, a number of
        rows (``10``) or, for a datetime column, a duration (``"7D"``, ``"12h"``).
    exportable : ``'onnx'``: search only models that convert to ONNX (the portfolio's, or
        ``models``, filtered), and refuse up front columns an ONNX graph cannot take (text,
        dates), so that ``modelloop export --format onnx`` succeeds on the result.

    Examples
    --------
    >>> import modelloop as ml
    >>> result = ml.train("titanic.csv", target="Survived", time_budget=30)  # doctest: +SKIP
    >>> result.leaderboard.head()  # doctest: +SKIP
    """
    settings = settings or Settings()
    if sample_weight is not None and weight is not None:
        raise ConfigurationError("Pass weight= or sample_weight=, not both.")
    if isinstance(sample_weight, str):
        weight, sample_weight = sample_weight, None
    if sample_weight is not None:
        source, weight = attach_weights(source, sample_weight)
    if task in UNSUPERVISED_TASKS and weight is not None:
        raise ConfigurationError(
            f"Sample weights are for binary, multiclass and regression models. Got task '{task}'."
        )
    # a custom metric is imported (with trust) or made before any work
    metric = resolve_metric(
        metric,
        trust=settings.trust,
        greater_is_better=greater_is_better,
        needs_proba=needs_proba,
    )
    if task in UNSUPERVISED_TASKS:
        from modelloop.workflows._train_unsupervised import train_unsupervised

        return train_unsupervised(
            source, task=task, target=target, metric=metric, name=name, register=register,
            aliases=aliases, models=models, time_budget=time_budget, seed=seed, drop=drop,
            types=types, rules=rules, settings=settings, store=store, on_event=on_event,
        )  # fmt: skip
    if target is None:
        raise ConfigurationError(
            "A target is needed to train a binary, multiclass or regression model: pass "
            "target= (--target COLUMN), or choose task 'clustering', 'reduce' or 'anomaly'."
        )
    _check_options(
        task, cv, test_size, time_budget, max_trials, search_strategy, final_fit,
        min_rows_per_second, max_model_mb,
    )  # fmt: skip
    seed = settings.seed if seed is None else seed
    emit = on_event or (lambda event: None)
    t0 = _now()
    clock = _Deadlines(_now() if started is None else started, time_budget, time_after)
    # what saving the model (and the report that follows, if any) needs, while the search runs
    _import_in_background(
        (skops_io, "matplotlib.figure", "matplotlib.backends.backend_agg")
        if time_after > 0
        else (skops_io,)
    )
    if settings.cluster is None:  # the search's workers import while the data are read
        ensure_spares(settings.effective_n_jobs(), libraries(models))

    emit(SearchEvent("stage", message="Loading data"))
    split_notes: list[str] = []
    splits = split_folder(source) if test is None else None
    if splits is not None:  # photos/{train,val}/<class>/*.jpg: train on one, test on the other
        source, test = splits
    pair = split_folder(Path(test).parent) if isinstance(test, str | Path) else None
    if (
        pair is not None
        and isinstance(test, str | Path)
        and Path(test).resolve() == pair[1].resolve()
    ):
        root = pair[0].parent.name
        split_notes.append(
            f"Trained on {root}/{pair[0].name}/ and tested on {root}/{pair[1].name}/."
        )
    if isinstance(source, Dataset):
        if rules is not None:  # a loaded dataset: its rows are checked as they were read
            enforce_rules(source.frame, rules, label=source.name)
        dataset = (
            source
            if source.schema.target == target
            else replace(load(source.frame, target=target, name=source.name), sample=source.sample)
        )
    else:  # files, URLs, DataFrames and data:NAME@VERSION snapshots; rules on the raw rows
        dataset = load_source(
            source,
            target=target,
            drop=drop,
            types=types,
            rules=rules,
            settings=settings,
            store=store,
        )
    dataset = _key_column(dataset, id_column, target)
    if weight is not None:
        dataset = weight_column(dataset, weight, target=target, id_column=id_column)
    notes = list(dataset.schema.notes) + split_notes
    sampled = dataset.sample.to_dict() if dataset.sample is not None else None
    if dataset.sample is not None:
        notes.append(
            f"The training data is {dataset.sample.describe()} of {dataset.source}, because "
            f"{dataset.sample.reason or 'a sample was asked for'}."
        )
    dataset, n_dropped = drop_missing_target(dataset)
    if n_dropped:
        notes.append(f"{n_dropped} rows with a missing target were left out.")
    y_all = dataset.target_series()
    resolved_task = cast(Task, task or detect_task(y_all))  # a given task was checked above
    check_target(y_all, resolved_task, name=target, source=dataset.name)
    dataset = _whole_number_labels(dataset, resolved_task)
    dataset, validation = resolve_validation(
        dataset, target=target, group=group, time=time, gap=gap
    )
    if validation is None:
        notes += validation_hints(dataset.frame, dataset.schema, target)
    else:
        notes.append(f"Validation {validation.describe()}.")
    if metric is None and search_strategy in ("grid", "random"):
        # GridSearchCV-like: scikit-learn's default score (an estimator's own ``score``)
        metric = "r2" if resolved_task == "regression" else "accuracy"
        notes.append(
            f"--search {search_strategy} selects by CV {metric}, scikit-learn's default score "
            "as GridSearchCV uses it; pass --metric to select by another."
        )
    metric = metric or default_metric(resolved_task)
    metric_spec = get_metric(metric)
    if metric_spec.custom:
        check_custom_metric(
            metric,
            resolved_task,
            y_all,
            None if weight is None else dataset.frame[weight].to_numpy(),
        )
    elif resolved_task not in metric_spec.tasks:
        raise ConfigurationError(
            f"Metric '{metric}' does not apply to a {resolved_task} task. "
            f"Choose one of: {', '.join(metrics_for_task(resolved_task))}."
        )
    candidates = list(models) if models else None
    for candidate in candidates or ():
        get_spec(candidate, resolved_task)  # unknown names fail before any work
    unweighted = [
        c
        for c in candidates or ()
        if weight is not None and not accepts_sample_weight(c, resolved_task)
    ]
    if unweighted:
        raise ConfigurationError(
            f"Model(s) {', '.join(unweighted)} cannot be fitted with sample weights (their fit "
            f"takes no sample_weight). Leave them out of models, or train without weight '{weight}'."
        )
    if exportable is not None:
        candidates = _exportable_candidates(
            exportable, candidates, dataset.schema, resolved_task, time_budget
        )
    if search_strategy != "auto" and not candidates:
        raise ConfigurationError(
            f"search '{search_strategy}' needs models naming the model(s) to search, "
            "e.g. --models decision_tree."
        )
    if param_grid is not None:
        if search_strategy == "auto":
            raise ConfigurationError(
                "A param grid needs search 'grid' or 'random'. Got search 'auto'."
            )
        check_param_grid(param_grid, candidates or [], resolved_task)
    elif search_strategy == "grid":
        raise ConfigurationError(
            "search 'grid' needs a param grid, e.g. --param-grid '{\"max_depth\": [3, 5]}'."
        )
    if not dataset.schema.feature_columns():
        raise ConfigurationError(
            f"{dataset.name} has no usable feature columns besides the target "
            "(all others are identifiers or constant)."
        )
    check_budget(time_budget, dataset.n_rows, len(dataset.schema.feature_columns()))
    load_time = _now() - t0
    notes += embed_dataset(
        dataset,
        n_jobs=settings.effective_n_jobs(),
        time_budget=time_budget,
        started=t0,
        emit=emit,
        cache_dir=settings.resolved_cache_dir(),
    )
    embed_time = _now() - t0 - load_time
    search_candidates = candidates
    if candidates is None and search_strategy == "auto":
        search_candidates, note = finetune_candidates(dataset, resolved_task, time_budget)
        notes += [note] if note else []

    w_train = w_test = None
    if test is None:
        X_train, X_test, y_train, y_test, validation, split_note = split_rows(
            dataset, resolved_task, test_size, seed, validation
        )
        notes += [split_note] if split_note else []
        if weight is not None:
            w_train = dataset.frame[weight].loc[X_train.index].to_numpy(dtype=float)
            w_test = dataset.frame[weight].loc[X_test.index].to_numpy(dtype=float)
    else:
        test_set, _ = drop_missing_target(load(test, target=target, drop=drop, name="test"))
        X_train, y_train = dataset.features(), dataset.target_series()
        X_test, y_test = test_set.frame, test_set.target_series()
        if weight is not None:
            w_train = dataset.frame[weight].to_numpy(dtype=float)
            if weight in test_set.frame.columns:
                test_set = weight_column(test_set, weight, target=target, id_column=id_column)
                X_test, y_test = test_set.frame, test_set.target_series()
                w_test = test_set.frame[weight].to_numpy(dtype=float)
            else:
                notes.append(
                    f"The test table has no weight column '{weight}': its metrics are unweighted."
                )
    if validation is not None:  # too few groups or times for the folds: before the store
        validation.folds(y_train, resolved_task, cv, seed=seed)
    model_name = name or dataset.name
    do_register = register if register is not None else name is not None

    owns_store = store is None
    store = store or Store.from_settings(settings)
    try:
        record_dataset(store, dataset)
        params: dict[str, Any] = {
            "candidates": candidates or "portfolio",
            "search": search_strategy,
            "param_grid": param_grid,
            "max_trials": max_trials,
            "max_latency_ms": max_latency_ms,
            "min_rows_per_second": min_rows_per_second,
            "max_model_mb": max_model_mb,
            "final_fit": final_fit,
            "cv": cv,
            "test_size": test_size if test is None else None,
            "test_source": None if test is None else "separate test table",
            "time_budget": time_budget,
            "seed": seed,
            "drop": list(drop),
            "types": dict(types or {}),
            "id_column": id_column,
            "exportable": exportable,
            "group": group,
            "time": time,
            "gap": None if validation is None else validation.to_dict()["gap"],
            "validation": {
                **(validation or Validation()).to_dict(),
                "description": (validation or Validation()).describe(),
            },
            "n_train": len(X_train),
            "n_test": len(X_test),
        }
        if weight is not None:  # retrain weights its rows by the same column
            params["weight"] = weight
        if metric_spec.custom:  # how retrain (with --trust) makes the same metric again
            params["metric_spec"] = {
                "greater_is_better": metric_spec.greater_is_better,
                "needs_proba": metric_spec.needs_proba,
            }
        if sampled is not None:  # the loaded rows are a sample of a file too big for memory
            params["data_sample"] = sampled
        store.recover()  # runs and files a killed process left behind
        run = store.create_run(
            name=model_name,
            dataset_hash=dataset.hash,
            target=target,
            task=resolved_task,
            metric=metric,
            params=params,
        )
        try:
            result = _fit_and_evaluate(
                dataset,
                resolved_task,
                metric,
                search_candidates,
                cv,
                clock,
                seed,
                settings.effective_n_jobs(),
                X_train,
                X_test,
                y_train,
                y_test,
                emit,
                {
                    "max_trials": max_trials,
                    "strategy": search_strategy,
                    "param_grid": param_grid,
                    "max_latency_ms": max_latency_ms,
                    "min_rows_per_s": min_rows_per_second,
                    "max_model_mb": max_model_mb,
                    "final_fit": final_fit,
                    "cluster": settings.cluster,
                    "max_search_rows": settings.max_search_rows,
                    "validation": validation,
                    "sample_weight": w_train,
                    "test_weight": w_test,
                    # On a cluster the Optuna study is kept in a journal file next to
                    # the run's other artifacts.
                    "study_journal": None
                    if settings.cluster is None
                    else settings.resolved_artifacts_dir() / "runs" / run.id / "optuna.journal",
                },
            )
        except BaseException as exc:
            fail_run(store, run.id, exc)
            raise
        result.run_id = run.id
        result.name = model_name
        result.target = target
        result.notes = notes + result.notes
        result.validation = params["validation"]
        result.timings = {"load_s": round(load_time, 3), **result.timings}
        if dataset.schema.by_role(Role.IMAGE):
            result.timings["embed_s"] = round(embed_time, 3)
        if id_column is not None:
            result.lineage["id_column"] = id_column
        if weight is not None:
            result.lineage["weight"] = weight
        if sampled is not None:
            result.lineage["data_sample"] = sampled
        if rules is not None:  # checked on the raw rows at load; each served row meets them too
            result.rules = load_rules(rules).for_rows(exclude=[target]).to_dict()
        if result.trials:
            store.record_trials(run.id, result.trials)
        emit(SearchEvent("stage", message="Saving evaluation data for reports"))
        evaluating = _now()
        keep_evaluation(
            store,
            result,
            X_train,
            y_train,
            X_test,
            y_test,
            seed=seed,
            time_left=clock.for_evaluation(),
            sample_weight=w_test,
        )
        result.timings["evaluation_s"] = round(_now() - evaluating, 3)
        result.timings["total_s"] = round(_now() - t0, 3)
        register_and_finish(
            store,
            result,
            register=do_register,
            aliases=aliases,
            emit=emit,
            cv_metrics=result.cv_metrics,
            test_metrics=result.metrics,
        )
        return result
    finally:
        if owns_store:
            store.close()


def _fit_and_evaluate(
    dataset: Dataset,
    task: Task,
    metric: str,
    candidates: list[str] | None,
    cv: int,
    clock: _Deadlines,
    seed: int,
    n_jobs: int,
    X_train: pd.DataFrame,
    X_test: pd.DataFrame,
    y_train: pd.Series,
    y_test: pd.Series,
    emit: Callable[[SearchEvent], None],
    options: dict[str, Any],
) -> TrainResult:
    t0 = time.monotonic()
    search_budget = clock.for_search()
    found = search(
        X_train,
        y_train,
        schema=dataset.schema,
        task=task,
        metric=metric,
        candidates=candidates,
        cv=cv,
        time_budget=search_budget,
        max_trials=options["max_trials"],
        strategy=options["strategy"],
        param_grid=options["param_grid"],
        max_latency_ms=options["max_latency_ms"],
        min_rows_per_s=options.get("min_rows_per_s"),
        max_model_mb=options.get("max_model_mb"),
        final_fit=options.get("final_fit", "auto"),
        cluster=options.get("cluster"),
        max_search_rows=options.get("max_search_rows"),
        study_journal=options.get("study_journal"),
        validation=options.get("validation"),
        sample_weight=options.get("sample_weight"),
        seed=seed,
        n_jobs=n_jobs,
        on_event=emit,
    )
    search_time = time.monotonic() - t0 - found.refit_time
    refit_time = found.refit_time
    model = found.model
    emit(SearchEvent("stage", message=f"Scoring {found.best.name} on the test split"))
    custom = [metric] if get_metric(metric).custom else []
    metrics = holdout_metrics(model, X_test, y_test, task, options.get("test_weight"), custom)
    classes = (
        None if task == "regression" else [json_value(c, unknown="keep") for c in model.classes_]
    )
    notes = list(found.notes)
    skipped = [c.name for c in found.candidates if c.status == "skipped"]
    if skipped:
        notes.append(f"Time budget spent: not tried {', '.join(skipped)}.")
    failed = [f"{c.name} ({c.error})" for c in found.candidates if c.status == "failed"]
    if failed:
        notes.append(f"Failed candidates: {'; '.join(failed)}.")
    return TrainResult(
        run_id="",
        name="",
        task=task,
        metric=metric,
        target="",
        best_model=found.best.name,
        model=model,
        leaderboard=found.leaderboard,
        metrics=metrics,
        cv_metrics={metric: found.best.cv_mean, f"{metric}_std": found.best.cv_std},
        dataset=dataset,
        classes=classes,
        final_fit=found.final_fit,
        timings={
            "search_s": round(search_time, 3),
            "refit_s": round(refit_time, 3),
            **{f"{k}_rows": v for k, v in found.rows.items()},  # a sample was searched
            # the final model timed by the search: one row, and a 10,000-row batch
            **(
                {
                    "predict_row_ms": found.speed["latency_ms"],
                    "predict_rows_per_second": found.speed["rows_per_s"],
                }
                if found.speed
                else {}
            ),
            **({"model_mb": found.size_mb} if found.size_mb is not None else {}),
        },
        notes=notes,
        best_params=found.best_params,
        trials=found.trials,
    )


def _key_column(dataset: Dataset, id_column: str | None, target: str) -> Dataset:
    """The dataset with ``id_column`` (if any) made an identifier: it names rows, never predicts."""
    if id_column is None:
        return dataset
    if id_column not in dataset.schema:
        raise ColumnNotFoundError(
            f"id_column '{id_column}' is not a column of {dataset.name}. "
            f"Columns: {', '.join(dataset.schema.names[:30])}."
        )
    if id_column == target:
        raise ConfigurationError(f"id_column '{id_column}' is the target; name another column.")
    column = dataset.schema[id_column]
    if column.role is Role.IDENTIFIER:
        return dataset
    keyed = replace(column, role=Role.IDENTIFIER, note="key column (id_column): not a feature")
    return replace(dataset, schema=dataset.schema.replace(keyed))


def _whole_number_labels(dataset: Dataset, task: Task) -> Dataset:
    """Class labels 3.0, 4.0, ... become 3, 4, ... so outputs read ``proba_3``, not ``proba_3.0``."""
    y = dataset.frame[dataset.schema.target]
    if task == "regression" or y.dtype.kind != "f":
        return dataset
    values = y.to_numpy()
    if not np.all(np.equal(np.mod(values, 1), 0)):
        return dataset
    frame = dataset.frame.copy()
    frame[dataset.schema.target] = values.astype(np.int64)
    return replace(dataset, frame=frame)
