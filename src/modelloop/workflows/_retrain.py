"""``retrain``: a challenger from reference + labeled production rows, promoted only if better.

The training set is the champion's reference data (the rows it was trained on, kept by the
store) plus the production rows whose labels have arrived (their logged inputs and the
label). The most recent labeled rows are held out: champion and challenger are scored on
exactly those rows, and the champion's alias moves to the challenger only when it is better
by ``min_improvement``. The challenger is registered either way, with its lineage.

Recent rows are weighted by *duplication*: with ``recent_weight=3`` each production row
appears three times in the training set (a fractional part adds one more copy to that
share of rows). The search's cross-validation then sees copies of a row on both sides of a
fold, which flatters CV scores a little; the verdict does not rest on CV but on the
held-out recent rows, which are never duplicated or trained on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from modelloop.config import Settings
from modelloop.data import TASKS, ColumnSchema, Role, Schema, conform, content_hash, load
from modelloop.evaluation import get_metric, sign
from modelloop.exceptions import (
    ConfigurationError,
    InvalidInputError,
    ModelNotFoundError,
    NotFoundError,
)
from modelloop.store import ModelVersionRecord, Store, check_label, key_text
from modelloop.tuning import SearchEvent
from modelloop.workflows._predict import load_model
from modelloop.workflows._train import TrainResult, holdout_metrics, train

__all__ = ["RetrainResult", "parse_window", "retrain"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass
class RetrainResult:
    """What ``retrain`` did: the verdict, both scores on the same held-out rows, the data used.

    ``improvement`` is the challenger's score minus the champion's, signed so that
    positive means better whatever the metric's direction.
    """

    name: str
    alias: str
    metric: str
    champion_version: int
    challenger_version: int
    promoted: bool
    reason: str
    champion_score: float
    challenger_score: float
    improvement: float
    min_improvement: float
    champion_metrics: dict[str, float]
    challenger_metrics: dict[str, float]
    n_reference: int
    n_production: int
    n_holdout: int
    window: int | str | None
    recent_weight: float
    trigger: str
    notes: list[str] = field(default_factory=list)
    train_result: TrainResult | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (what ``modelloop retrain --json`` prints)."""
        return {
            "name": self.name,
            "alias": self.alias,
            "metric": self.metric,
            "champion_version": self.champion_version,
            "challenger_version": self.challenger_version,
            "promoted": self.promoted,
            "reason": self.reason,
            "champion_score": _finite(self.champion_score),
            "challenger_score": _finite(self.challenger_score),
            "improvement": _finite(self.improvement),
            "min_improvement": self.min_improvement,
            "champion_metrics": {k: _finite(v) for k, v in self.champion_metrics.items()},
            "challenger_metrics": {k: _finite(v) for k, v in self.challenger_metrics.items()},
            "data": {
                "reference_rows": self.n_reference,
                "production_rows": self.n_production,
                "holdout_rows": self.n_holdout,
                "window": self.window,
                "recent_weight": self.recent_weight,
            },
            "trigger": self.trigger,
            "notes": self.notes,
        }


def _finite(value: float) -> float | None:
    return value if isinstance(value, int | float) and math.isfinite(value) else None


def parse_window(window: int | str | None) -> int | timedelta | None:
    """``--window``: a number of recent labeled rows, or a duration such as ``'7d'``.

    Examples
    --------
    >>> parse_window(500), parse_window("12h")
    (500, datetime.timedelta(seconds=43200))
    """
    if window is None:
        return None
    if isinstance(window, bool):
        raise ConfigurationError(f"window must be a row count or a duration. Got {window!r}.")
    if isinstance(window, int):
        count = window
    elif isinstance(window, str) and window.strip().isdigit():
        count = int(window)
    elif isinstance(window, str) and (match := _DURATION.match(window.lower())):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
        if seconds <= 0:
            raise ConfigurationError(f"window must be a positive duration. Got {window!r}.")
        return timedelta(seconds=seconds)
    else:
        raise ConfigurationError(
            "window must be a number of recent labeled rows (e.g. 5000) or a duration "
            f"(e.g. 30m, 12h, 7d, 2w). Got {window!r}."
        )
    if count < 1:
        raise ConfigurationError(f"window must be at least 1 row. Got {window!r}.")
    return count


def _check_options(
    recent_weight: float, holdout: float, min_holdout: int, min_improvement: float
) -> None:
    if isinstance(recent_weight, bool) or not isinstance(recent_weight, int | float):
        raise ConfigurationError(f"recent_weight must be a number >= 1. Got {recent_weight!r}.")
    if not (math.isfinite(recent_weight) and 1.0 <= recent_weight <= 100.0):
        raise ConfigurationError(
            f"recent_weight must be in [1, 100] (1: production rows count like reference "
            f"rows). Got {recent_weight!r}."
        )
    if not 0.0 < holdout < 1.0:
        raise ConfigurationError(f"holdout must be a share in (0, 1). Got {holdout!r}.")
    if isinstance(min_holdout, bool) or not isinstance(min_holdout, int) or min_holdout < 1:
        raise ConfigurationError(f"min_holdout must be an integer >= 1. Got {min_holdout!r}.")
    if not (isinstance(min_improvement, int | float) and min_improvement >= 0):
        raise ConfigurationError(
            f"min_improvement must be a number >= 0 (in units of the metric). "
            f"Got {min_improvement!r}."
        )


def _champion(store: Store, name: str, alias: str) -> tuple[ModelVersionRecord, bool]:
    """The version ``name@alias`` points at (``True``), else the latest (``False``)."""
    record = store.get_model_version(name)  # unknown model: the store's own message
    try:
        return store.get_model_version(name, alias=alias), True
    except ModelNotFoundError:
        return record, False


def _usable(records: list[Any], task: str, classes: Any) -> tuple[list[Any], int]:
    """Labeled rows whose label is valid for the champion, the label as its class value."""
    out = []
    for r in records:
        value, reason = check_label(r.label, task, classes)
        if not reason:
            out.append(replace(r, label=value))
    return out, len(records) - len(out)


def _production_frame(records: list[Any], target: str, columns: list[str]) -> pd.DataFrame:
    """Logged inputs plus their label, in the reference's column order, oldest first."""
    frame = pd.DataFrame.from_records([r.inputs for r in records])
    frame = frame.reindex(columns=[c for c in columns if c != target])
    frame[target] = [r.label for r in records]
    return frame[[c for c in columns if c in frame.columns]]


def _align(
    production: pd.DataFrame,
    reference: pd.DataFrame,
    schema: Schema,
    id_column: str | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Logged rows typed as the model's schema reads them, so they stack with the reference.

    The prediction log keeps each value as the client sent it: ``"no"``/``"yes"`` for a
    boolean column, dates as text, numbers as JSON floats, keys as text. The reference rows
    were typed by the schema when the champion was trained (booleans 0/1, datetime64, ...).
    Every feature column of the logged rows goes through the schema's own typing
    (:func:`~modelloop.data.conform`, the same the pipeline's first step applies), so a
    column holds one representation on both sides. A key column that does not read as
    numbers on both sides becomes text on both.
    """
    production = production.copy()
    features: list[ColumnSchema] = [
        c
        for c in schema.columns
        if c.is_feature
        and c.name in production.columns
        and c.name not in (id_column, schema.target)
    ]
    typed = {c.name for c in features}
    if features:
        frame = conform(
            production[[c.name for c in features]],
            Schema(tuple(features)),
            source="the prediction log",
            require=False,
            strict=False,
        )
        for column in frame.columns:
            production[column] = frame[column].to_numpy()
    for column in production.columns:
        if column not in reference.columns or reference[column].dtype.kind not in "iuf":
            continue
        if column in typed:
            if reference[column].dtype.kind in "iu":  # whole numbers kept whole, NaN-free
                values = production[column]
                if not values.isna().any():
                    production[column] = values.astype(reference[column].dtype)
            continue
        try:
            values = pd.to_numeric(production[column], errors="raise")
            kind = reference[column].dtype.kind
            production[column] = values.astype(reference[column].dtype) if kind in "iu" else values
        except (ValueError, TypeError):
            if column == id_column:
                reference = reference.assign(**{column: reference[column].map(key_text)})
                production[column] = production[column].map(key_text)
    return production, reference


def _keep_encoding(inferred: Schema, champion: Schema) -> Schema:
    """The challenger's schema, reading raw values as the champion's did.

    The challenger's rows are typed already (booleans as 0/1, dates as datetime64), so
    inferring its schema again loses how the raw values were written: the true/false words
    of a boolean column (``no``/``yes``) and the text format of a date column. Those come
    from the champion, so the challenger accepts the same requests.
    """
    known = {c.name: c for c in champion.columns}
    columns = []
    for col in inferred.columns:
        old = known.get(col.name)
        if old is not None and old.role is col.role is Role.BOOLEAN:
            col = replace(col, categories=old.categories)
        elif old is not None and old.role is col.role is Role.DATETIME and old.format:
            col = replace(col, format=old.format)
        columns.append(col)
    return replace(inferred, columns=tuple(columns))


def _duplicate(frame: pd.DataFrame, weight: float, seed: int) -> pd.DataFrame:
    """Each row ``floor(weight)`` times, plus one more copy for a ``weight % 1`` share."""
    if weight == 1.0 or frame.empty:
        return frame
    whole = math.floor(weight)
    copies = np.full(len(frame), whole)
    extra = weight - whole
    if extra > 0:
        copies += np.random.default_rng(seed).random(len(frame)) < extra
    return frame.loc[frame.index.repeat(copies)]


def _score(
    pipeline: Any,
    holdout: pd.DataFrame,
    target: str,
    task: str,
    weight: str | None = None,
    extra: Sequence[str] = (),
) -> dict[str, float]:
    X = holdout.drop(columns=[target])
    y = holdout[target]
    w = None if weight is None else holdout[weight].to_numpy(dtype=float)
    return holdout_metrics(pipeline, X, y, task, w, extra)  # type: ignore[arg-type]


def _fill_weights(frame: pd.DataFrame, weight: str, notes: list[str]) -> pd.DataFrame:
    """``frame`` with a weight of 1 for the rows whose weight column is empty (production
    rows logged without it), said in ``notes``."""
    values = (
        pd.to_numeric(frame[weight], errors="coerce")
        if weight in frame.columns
        else pd.Series(np.nan, index=frame.index)
    )
    missing = int(values.isna().sum())
    if missing:
        notes.append(f"{missing} rows carry no weight in column '{weight}': each is weighted 1.")
    return frame.assign(**{weight: values.fillna(1.0).to_numpy(dtype=float)})


def _run_metric(run: Any, params: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The champion run's metric and, for a custom one, how to make it again."""
    if run is None:
        return None, {}
    spec = params.get("metric_spec")
    if not spec:
        return run.metric, {}
    if ":" not in run.metric:
        try:
            get_metric(run.metric)
        except ConfigurationError:
            raise ConfigurationError(
                f"The champion's metric {run.metric!r} is a Python function defined in a "
                "notebook or script: retrain from Python with that function "
                "(train(..., metric=it)), or name it as module:function."
            ) from None
    return run.metric, {
        "greater_is_better": spec.get("greater_is_better"),
        "needs_proba": spec.get("needs_proba"),
    }


def _verdict(
    metric: str, champion: float, challenger: float, min_improvement: float, n: int
) -> tuple[bool, float, str]:
    if not math.isfinite(challenger) or not math.isfinite(champion):
        return (
            False,
            float("nan"),
            f"{metric} is undefined on the {n} held-out rows (for example only one class "
            "among them): the champion is kept. Wait for more labels or use another metric.",
        )
    improvement = sign(metric) * (challenger - champion)
    scores = f"challenger {metric} {challenger:.4f} vs champion {champion:.4f} on the {n} "
    scores += "most recent labeled rows"
    if improvement > 0 and improvement >= min_improvement:
        return True, improvement, f"{scores}: better by {improvement:.4f}"
    if improvement <= 0:
        return False, improvement, f"{scores}: not better; the champion is kept"
    return (
        False,
        improvement,
        f"{scores}: better by {improvement:.4f}, less than the required "
        f"min_improvement {min_improvement:g}; the champion is kept",
    )


def retrain(
    name: str,
    *,
    alias: str = "production",
    window: int | str | None = None,
    recent_weight: float = 1.0,
    holdout: float = 0.2,
    min_holdout: int = 30,
    min_improvement: float = 0.0,
    time_budget: float | None = None,
    max_trials: int | None = None,
    challenger_alias: str | None = "challenger",
    trigger: str = "retrain",
    learner: str | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    on_event: Callable[[SearchEvent], None] | None = None,
) -> RetrainResult:
    """Train a challenger on reference + labeled production rows; promote it only if better.

    Parameters
    ----------
    name : the registered model; its champion is ``name@alias`` (else its latest version,
        which then gets ``alias`` so that servers keep serving it).
    alias : the alias that moves to the challenger on promotion.
    window : train on only the most recent labeled rows: a count (``5000``) or a duration
        (``'7d'``) back from now. Default: every labeled row.
    recent_weight : how many times each production row counts against a reference row
        (by duplication; see the module docstring).
    holdout, min_holdout : the most recent ``max(min_holdout, holdout * n)`` labeled rows are
        held out to compare champion and challenger; they are never trained on.
    min_improvement : how much better (in metric units) the challenger must score.
    time_budget, max_trials : override the champion's search budget (default: the same).
    challenger_alias : alias given to the new version whatever the verdict (``None``: none);
        ``serve --shadow NAME@challenger`` scores live traffic with it.
    trigger : recorded in the lineage: ``'retrain'`` (by hand) or ``'auto'`` (the watcher).
    learner : a decision policy (task 'bandit') only: how the challenger learns ('reward',
        'dr', 'ips'; default the champion's). A policy's challenger learns from its logged
        decisions and is promoted when the lower bound of its doubly-robust interval beats
        the champion's estimated value (see ``_retrain_bandit``); ``window`` and
        ``recent_weight`` do not apply to it.

    Returns
    -------
    RetrainResult

    Raises
    ------
    NotFoundError
        The model does not exist, or its champion has no reference data.
    InvalidInputError
        No labeled production rows, or too few to hold out ``min_holdout`` and train on.

    Examples
    --------
    >>> from modelloop.workflows import retrain
    >>> r = retrain("churn", min_improvement=0.005)  # doctest: +SKIP
    >>> r.promoted, r.reason  # doctest: +SKIP
    (True, 'challenger roc_auc 0.8712 vs champion 0.8420 on the 200 most recent ...')
    """
    settings = settings or Settings()
    _check_options(recent_weight, holdout, min_holdout, min_improvement)
    span = parse_window(window)
    emit = on_event or (lambda event: None)
    owns_store = store is None
    store = store or Store.from_settings(settings)
    try:
        if store.get_model_version(name).task == "bandit":
            if window is not None or recent_weight != 1.0:
                raise ConfigurationError(
                    f"Model '{name}' is a decision policy: --window and --recent-weight do not "
                    "apply (it learns from every logged decision with a reward, holding out "
                    "the most recent)."
                )
            from modelloop.workflows._retrain_bandit import retrain_policy

            return retrain_policy(
                store, settings, name, alias=alias, holdout=holdout, min_holdout=min_holdout,
                min_improvement=float(min_improvement), time_budget=time_budget,
                max_trials=max_trials, learner=learner, challenger_alias=challenger_alias,
                trigger=trigger, emit=emit,
            )  # fmt: skip
        if learner is not None:
            raise ConfigurationError(
                f"learner applies to decision policies (task 'bandit') only; model '{name}' is not one."
            )
        return _retrain(
            store,
            settings,
            name,
            alias,
            span,
            window,
            float(recent_weight),
            holdout,
            min_holdout,
            float(min_improvement),
            time_budget,
            max_trials,
            challenger_alias,
            trigger,
            emit,
        )
    finally:
        if owns_store:
            store.close()


def _retrain(
    store: Store,
    settings: Settings,
    name: str,
    alias: str,
    span: int | timedelta | None,
    window: int | str | None,
    recent_weight: float,
    holdout: float,
    min_holdout: int,
    min_improvement: float,
    time_budget: float | None,
    max_trials: int | None,
    challenger_alias: str | None,
    trigger: str,
    emit: Callable[[SearchEvent], None],
) -> RetrainResult:
    champion, aliased = _champion(store, name, alias)
    notes: list[str] = []
    try:
        reference = store.reference_data(champion)
    except NotFoundError as exc:
        raise NotFoundError(
            f"Cannot retrain model '{name}': its champion (version {champion.version}) has no "
            f"reference data to start from. {exc}"
        ) from None
    params: dict[str, Any] = {}
    run = None
    if champion.run_id:
        run = store.get_run(champion.run_id)
        params = dict(run.params)
    else:
        notes.append(
            f"Version {champion.version} has no training run: the challenger uses the "
            "default search settings."
        )
    target = (run.target if run is not None else None) or champion.schema.get("target")
    if not target or target not in reference.columns:
        raise NotFoundError(
            f"Cannot retrain model '{name}': the target of version {champion.version} is not "
            "known or not in its reference data. Train and register it with modelloop train."
        )
    task = champion.task or (run.task if run is not None else None)
    if task not in TASKS:
        raise ConfigurationError(
            f"retrain compares supervised models; model '{name}' version {champion.version} "
            f"is a {task!r} model."
        )

    champion_model = load_model(champion.ref, store=store)
    labeled, n_bad = _usable(store.labeled_predictions(name), task, champion_model.classes)
    if n_bad:
        notes.append(
            f"{n_bad} labeled rows were left out: their label is not a valid "
            f"{'number' if task == 'regression' else 'class'} for version {champion.version}."
        )
    n = len(labeled)
    if n == 0:
        raise InvalidInputError(
            f"Model '{name}' has no labeled production rows to retrain with. Send labels for "
            f"its logged predictions first (POST /v1/models/{name}/feedback or "
            f"modelloop feedback {name} FILE)."
        )
    n_hold = max(min_holdout, math.ceil(holdout * n))
    if n <= n_hold:
        raise InvalidInputError(
            f"Model '{name}' has {n} labeled production rows; retrain needs more than "
            f"{n_hold}: the most recent {n_hold} are held out to compare champion and "
            "challenger, and at least one more is trained on. Wait for more labels, or "
            "lower --min-holdout / --holdout."
        )
    columns = list(reference.columns)
    id_column = champion.lineage.get("id_column")
    champion_schema = Schema.from_dict(champion.schema)
    production, reference = _align(
        _production_frame(labeled, target, columns), reference, champion_schema, id_column
    )
    held = production.iloc[n - n_hold :].reset_index(drop=True)
    train_rows = production.iloc[: n - n_hold]
    times = [r.created_at for r in labeled[: n - n_hold]]
    if isinstance(span, int):
        train_rows = train_rows.iloc[-span:]
    elif isinstance(span, timedelta):
        cutoff = datetime.now(UTC) - span
        train_rows = train_rows.loc[[t >= cutoff for t in times]]
    n_prod = len(train_rows)
    if n_prod == 0:
        notes.append(f"No labeled row falls in window {window!r}: trained on reference rows.")

    seed = int(params.get("seed", settings.seed) or 0)
    weight = params.get("weight")
    run_metric, metric_options = _run_metric(run, params)
    if weight is not None:  # the champion's sample weights: production rows may lack them
        reference = _fill_weights(reference, weight, notes)
        train_rows = _fill_weights(train_rows, weight, notes)
        held = _fill_weights(held, weight, [])
    unweighted = pd.concat([reference, train_rows], ignore_index=True)
    weighted = pd.concat(
        [reference, _duplicate(train_rows, recent_weight, seed)], ignore_index=True
    )
    roles = {
        c["name"]: c["role"]
        for c in champion.schema.get("columns", [])
        if c["name"] != target and c["name"] in weighted.columns
    }
    dataset = load(weighted, target=target, types=roles, name=f"{name} (retrain)")
    dataset = replace(
        dataset,
        schema=_keep_encoding(dataset.schema, champion_schema),
        source=f"retrain of {champion.ref}: {champion.reference_snapshot} + {n_prod} "
        "labeled production rows",
    )
    candidates = params.get("candidates")
    validation = _validation_options(params, weighted, notes)
    emit(SearchEvent("stage", message=f"Training a challenger for '{name}'"))
    result = train(
        dataset,
        target,
        task=task,
        metric=run_metric,
        name=name,
        register=False,
        models=None if candidates in (None, "portfolio") else list(candidates),
        cv=int(params.get("cv") or 5),
        time_budget=time_budget if time_budget is not None else params.get("time_budget", 120.0),
        max_trials=max_trials if max_trials is not None else params.get("max_trials"),
        search_strategy=params.get("search") or "auto",
        param_grid=params.get("param_grid"),
        max_latency_ms=params.get("max_latency_ms"),
        min_rows_per_second=params.get("min_rows_per_second"),
        max_model_mb=params.get("max_model_mb"),
        final_fit=params.get("final_fit") or "auto",
        seed=seed,
        test=held,
        id_column=id_column if id_column in dataset.schema else None,
        **validation,
        settings=settings,
        store=store,
        on_event=emit,
        weight=weight,
        **metric_options,
    )
    metric = result.metric
    custom = [metric] if metric_options else []

    emit(SearchEvent("stage", message="Scoring champion and challenger on the held-out rows"))
    champion_metrics = _score(champion_model.pipeline, held, target, task, weight, custom)
    challenger_metrics = _score(result.model, held, target, task, weight, custom)
    champ_score = float(champion_metrics.get(metric, float("nan")))
    chall_score = float(challenger_metrics.get(metric, float("nan")))
    promoted, improvement, reason = _verdict(
        metric, champ_score, chall_score, min_improvement, n_hold
    )

    if not aliased:
        # Servers serve the latest version of a model without this alias: pin the
        # champion first so that registering the challenger does not swap it in.
        store.set_alias(name, alias, champion.version)
        notes.append(f"Model '{name}' had no alias '{alias}': it now points at the champion.")
    last_trained = times[-1].isoformat() if times else None
    result.lineage = {
        "trigger": trigger,
        "parent": champion.version,
        "data": {
            "reference_snapshot": champion.reference_snapshot,
            "reference_rows": len(reference),
            "production_rows": n_prod,
            "window": window,
            "recent_weight": recent_weight,
            "holdout_rows": n_hold,
            "labeled_until": last_trained,
        },
        "evaluation": {
            "metric": metric,
            "champion": _finite(champ_score),
            "challenger": _finite(chall_score),
            "improvement": _finite(improvement),
            "min_improvement": min_improvement,
            "promoted": promoted,
            "reason": reason,
        },
        **({"id_column": id_column} if id_column else {}),
    }
    info = result.registration()
    # The challenger's reference is what it saw, each row once (not the duplicated copies).
    info["reference"] = unweighted
    info["reference_hash"] = content_hash(unweighted)
    model = info.pop("model")
    aliases = [*([challenger_alias] if challenger_alias else []), *([alias] if promoted else [])]
    emit(SearchEvent("stage", message=f"Registering the challenger of '{name}'"))
    record = store.register_model(name, model, aliases=aliases, **info)
    result.version = record.version
    return RetrainResult(
        name=name,
        alias=alias,
        metric=metric,
        champion_version=champion.version,
        challenger_version=record.version,
        promoted=promoted,
        reason=reason,
        champion_score=champ_score,
        challenger_score=chall_score,
        improvement=improvement,
        min_improvement=min_improvement,
        champion_metrics=champion_metrics,
        challenger_metrics=challenger_metrics,
        n_reference=len(reference),
        n_production=n_prod,
        n_holdout=n_hold,
        window=window,
        recent_weight=recent_weight,
        trigger=trigger,
        notes=notes + result.notes,
        train_result=result,
    )


def _validation_options(
    params: dict[str, Any], frame: pd.DataFrame, notes: list[str]
) -> dict[str, Any]:
    """The champion's group or time validation (``train``'s ``group``, ``time``, ``gap``)
    for the challenger, when its column is still complete in the rows it trains on."""
    for option in ("group", "time"):
        column = params.get(option)
        if not column:
            continue
        if column in frame.columns and (option == "group" or frame[column].notna().all()):
            kept = {option: column}
            if option == "time" and params.get("gap") not in (None, 0):
                kept["gap"] = params["gap"]
            return kept
        notes.append(
            f"The champion was validated by {option} column '{column}', which the labeled "
            "production rows do not carry: the challenger is cross-validated on shuffled "
            "folds."
        )
    return {}
