"""``report``: one self-contained HTML page about a run or a registered model version.

What the page needs is saved when the model is trained (:func:`record_evaluation`, called
by ``train``): the test split's true values, predictions and probabilities, a sample of
the test rows, explanations of test rows (always: each input column's contributions, see
:mod:`modelloop.explain`), permutation importance, a learning curve when the time budget
allowed it and the data profile. They are kept beside the run in the store (``artifacts/runs/<id>/``,
sha256-checked). ``report`` reads them back, with the run's leaderboard and trials, and
hands plain data to :func:`modelloop.evaluation.evaluation_report`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelloop.config import Settings
from modelloop.data import (
    Role,
    json_value,
    open_image,
    profile,
    storable_frame,
    to_data_uri,
)
from modelloop.evaluation import (
    evaluation_report,
    known_metric,
    learning_curve,
    permutation_importance,
)
from modelloop.exceptions import (
    ConfigurationError,
    InvalidInputError,
    ModelNotFoundError,
    NotFoundError,
    RunNotFoundError,
)
from modelloop.models import decision_threshold, predicted_labels
from modelloop.store import ModelVersionRecord, RunRecord, Store

if TYPE_CHECKING:
    from modelloop.workflows._train import TrainResult

__all__ = [
    "EVALUATION_FILE",
    "REPORT_SECONDS",
    "check_report_path",
    "keep_evaluation",
    "record_evaluation",
    "report",
]

EVALUATION_FILE = "evaluation.json"
PREDICTIONS_FILE = "predictions.parquet"
TEST_ROWS_FILE = "test_rows.parquet"
EXPLANATIONS_FILE = "explanations.parquet"
_FORMAT = "modelloop-evaluation"
_FORMAT_VERSION = 1
MAX_SAVED_ROWS = 50_000  # test rows kept for a report
IMPORTANCE_ROWS = 2_000  # test rows permutation importance is computed on
IMPORTANCE_REPEATS = 3
PROFILE_ROWS = 200_000
EXPLAIN_ROWS = 500  # test rows explained for the report, time allowing
EXPLAIN_FIRST = 5  # test rows always explained, whatever the budget says
_NO_BUDGET_ALLOWANCE = 30.0  # seconds of extra work when training has no time budget
REPORT_SECONDS = 5.0
"""Seconds ``train --report`` keeps back from its time budget to write the report."""


# ------------------------------------------------------------------------ at train time


def record_evaluation(
    store: Store,
    result: TrainResult,
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    *,
    seed: int = 0,
    time_left: float | None = None,
    sample_weight: np.ndarray | None = None,
) -> float:
    """Compute and keep beside ``result.run_id`` what :func:`report` draws from.

    The extra work stays small and inside the time budget: predictions on the test split
    (kept for at most 50,000 rows), permutation importance on at most 2,000 test rows with
    up to 3 repeats (fewer when time is short), a learning curve (the chosen model refitted
    on 10/25/50% of the training rows) only when the time left covers it, and the data
    profile. Returns the seconds spent. ``sample_weight`` (the test rows' weights) is kept
    with the predictions, so the report's metric table is weighted like the test metrics.
    """
    t0 = time.monotonic()
    task, metric, model = result.task, result.metric, result.model
    notes: list[str] = []
    rng = np.random.default_rng(seed)
    n_test = len(X_test)
    if n_test > MAX_SAVED_ROWS:
        keep = np.sort(rng.choice(n_test, MAX_SAVED_ROWS, replace=False))
        X_keep, y_keep = X_test.iloc[keep], y_test.iloc[keep]
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)[keep]
        notes.append(f"Plots and intervals use {MAX_SAVED_ROWS:,} of the {n_test:,} test rows.")
    else:
        X_keep, y_keep = X_test, y_test
    predictions = pd.DataFrame({"y_true": y_keep.to_numpy()})
    if sample_weight is not None:
        predictions["sample_weight"] = np.asarray(sample_weight, dtype=float)
    threshold = None if task == "regression" else decision_threshold(model)
    classes = result.classes
    if task == "regression":
        predictions["y_pred"] = np.asarray(model.predict(X_keep), dtype=float)
    else:
        proba = np.asarray(model.predict_proba(X_keep), dtype=float)
        predictions["y_pred"] = predicted_labels(model, proba)
        for i in range(proba.shape[1]):
            predictions[f"proba_{i}"] = proba[:, i]

    def left() -> float | None:
        return None if time_left is None else time_left - (time.monotonic() - t0) - 1.0

    # Each extra step may take about a quarter of the time the search took, within the
    # time the budget has left.
    share = max(2.0, 0.25 * _seconds(result.timings))
    steps = {"predict_s": round(time.monotonic() - t0, 3)}
    # Explanations come first and are never skipped: at least a first chunk of test rows is
    # explained whatever the budget says (a few seconds for the slowest models), more as
    # time allows.
    remaining = left()
    allowance = share if remaining is None else max(0.5, min(share, 0.3 * remaining))
    # With the budget spent (a final fit slower than its estimate), one row only: a blend
    # of large forests takes seconds per row, and the promise's margin is all that is left.
    first = EXPLAIN_FIRST if remaining is None or remaining > 2.0 else 1
    explanations, explained_rows = _explain_test_rows(
        result, X_keep, rng, allowance, notes, first=first
    )
    steps["explain_s"] = round(time.monotonic() - t0 - sum(steps.values()), 3)
    remaining = left()
    # Registration still has to fit in the budget: spend at most ~65% of what is left.
    allowance = share if remaining is None else max(0.0, min(share, 0.3 * remaining))
    if allowance < 4 * steps["predict_s"]:
        # Its unshuffled baseline alone costs one predict: without room for a few more,
        # it would overrun the budget and still show nothing.
        importance = pd.DataFrame(columns=["feature", "importance", "std"])
        info = {"skipped": f"no time left in the budget ({allowance:.1f}s)"}
    else:
        importance, info = permutation_importance(
            model,
            X_test,
            y_test,
            metric=metric,
            n_repeats=IMPORTANCE_REPEATS,
            max_rows=IMPORTANCE_ROWS,
            time_limit=allowance,
            seed=seed,
            threshold=threshold,
        )
    if info.get("skipped"):
        notes.append(f"Permutation importance: {info['skipped']}.")

    steps["importance_s"] = round(time.monotonic() - t0 - sum(steps.values()), 3)
    curve = None
    remaining = left()
    allowance = share if remaining is None else max(0.0, min(share, 0.5 * remaining))
    refit_s = float(result.timings.get("refit_s") or 0.0)
    # A refit in this process can be several times slower than the search's refit (its
    # workers ran in parallel) and a fit cannot be stopped halfway: leave a wide margin.
    if remaining is None or remaining >= 6 * refit_s:
        curve = learning_curve(
            model,
            X_train,
            y_train,
            X_test,
            y_test,
            metric=metric,
            stratify=task != "regression",
            time_limit=allowance,
            fit_time=3 * refit_s,
            seed=seed,
            threshold=threshold,
        )
    if curve is None or len(curve) < 2:
        curve = None
        notes.append(
            "No learning curve: refitting on shares of the training rows did not fit in the "
            "time allowed."
        )

    steps["learning_curve_s"] = round(time.monotonic() - t0 - sum(steps.values()), 3)
    dataset = result.dataset
    if dataset.n_rows > PROFILE_ROWS:
        dataset = replace(dataset, frame=dataset.frame.sample(PROFILE_ROWS, random_state=seed))
        notes.append(f"The data profile uses {PROFILE_ROWS:,} sampled rows.")
    data_profile = profile(dataset).to_dict()
    steps["profile_s"] = round(time.monotonic() - t0 - sum(steps.values()), 3)
    target_values = result.dataset.target_series()
    if task == "regression":
        values = pd.to_numeric(target_values, errors="coerce").dropna().to_numpy(dtype=float)
        counts, edges = np.histogram(values, bins=30)
        distribution: dict[str, Any] = {"edges": edges.tolist(), "counts": counts.tolist()}
    else:
        counts_by = target_values.value_counts()
        distribution = {"classes": {str(c): int(counts_by.get(c, 0)) for c in classes or []}}

    image_errors = _image_errors(result, X_keep, predictions)
    payload = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "task": task,
        "metric": metric,
        "target": result.target,
        "classes": classes,
        "n_test": n_test,
        "n_saved": len(predictions),
        "profile": data_profile,
        "target_distribution": distribution,
        "importance": {
            "table": importance.to_dict(orient="records"),
            "n_rows": info.get("n_rows"),
            "n_repeats": info.get("n_repeats"),
        },
        "learning_curve": None if curve is None else curve.to_dict(orient="records"),
        "image_errors": image_errors,
        "explanations": explanations,
        "notes": notes,
        "timings": steps,
    }
    files = {
        EVALUATION_FILE: json.dumps(json_value(payload, "evaluation", unknown="keep")).encode(),
        PREDICTIONS_FILE: _parquet(predictions),
    }
    with contextlib.suppress(Exception):  # odd columns: the report does not need the rows
        files[TEST_ROWS_FILE] = _parquet(storable_frame(X_keep))
    if explained_rows is not None:
        files[EXPLANATIONS_FILE] = _parquet(explained_rows)
    store.write_run_files(result.run_id, files)
    return time.monotonic() - t0


_GRID_IMAGES = 24
_THUMBNAIL = 128


def _image_errors(
    result: TrainResult, X: pd.DataFrame, predictions: pd.DataFrame
) -> dict[str, Any] | None:
    """Thumbnails of the test images the model got most wrong (first image column).

    Classifiers: the misclassified rows, the most confident first; regression: the rows
    with the largest absolute errors. Kept with the run while the files are at hand.
    """
    images = result.dataset.schema.by_role(Role.IMAGE)
    if not images or images[0] not in X.columns:
        return None
    column = images[0]
    y_true, y_pred = predictions["y_true"].to_numpy(), predictions["y_pred"].to_numpy()
    if result.task == "regression":
        badness = np.abs(y_true.astype(float) - y_pred.astype(float))
        order = np.argsort(-badness)[:_GRID_IMAGES]
        n_wrong = len(order)
    else:
        proba = predictions[[c for c in predictions.columns if c.startswith("proba_")]]
        confidence = proba.to_numpy().max(axis=1)
        wrong = np.flatnonzero(y_true.astype(str) != y_pred.astype(str))
        order = wrong[np.argsort(-confidence[wrong])][:_GRID_IMAGES]
        n_wrong = len(wrong)
    items = []
    values = X[column].tolist()
    for i in order:
        try:
            info = open_image(values[i], reduce_to=_THUMBNAIL)
        except (InvalidInputError, TypeError):
            continue
        thumb = info.image.copy()
        thumb.thumbnail((_THUMBNAIL, _THUMBNAIL))
        item = {
            "image": to_data_uri(thumb, info.width, info.height, quality=80),
            "true": json_value(y_true[i], unknown="keep"),
            "predicted": json_value(y_pred[i], unknown="keep"),
        }
        if result.task != "regression":
            item["confidence"] = float(confidence[i])
        items.append(item)
    return {"column": column, "n_wrong": int(n_wrong), "n_rows": len(values), "items": items}


def _explain_test_rows(
    result: TrainResult,
    X: pd.DataFrame,
    rng: np.random.Generator,
    allowance: float,
    notes: list[str],
    *,
    first: int = EXPLAIN_FIRST,
) -> tuple[dict[str, Any] | None, pd.DataFrame | None]:
    """Explanations of a sample of test rows: their summary for ``evaluation.json`` and a
    frame of the rows' contributions (``contrib:<column>``) and values (``value:<column>``).

    The ``first`` rows (:data:`EXPLAIN_FIRST` unless the budget is spent) are always
    explained (for tree and linear models that takes milliseconds); more follow, in chunks sized from the time those took, while
    ``allowance`` seconds last, up to :data:`EXPLAIN_ROWS` rows.
    """
    started = time.monotonic()
    order = rng.permutation(len(X))[:EXPLAIN_ROWS]
    parts: list[pd.DataFrame] = []
    done = 0
    try:
        while done < len(order):
            spent = time.monotonic() - started
            if parts and spent >= allowance:
                break
            if not parts:
                size = first
            else:  # rows that fit in the time left, at the rate seen so far
                size = int((allowance - spent) / max(spent / done, 1e-6))
                size = min(max(size, 1), 2 * done, len(order) - done)
            rows = X.iloc[order[done : done + size]]
            parts.append(result.explain(rows))
            done += len(rows)
    except Exception as exc:  # a model that cannot be explained still gets its report
        notes.append(f"No explanations: {exc}")
        return None, None
    if not parts:
        return None, None
    frame = pd.concat(parts)
    attrs = parts[0].attrs
    columns = [c.removeprefix("contrib_") for c in frame.columns if c.startswith("contrib_")]
    contributions = frame[[f"contrib_{c}" for c in columns]].to_numpy(dtype=float)
    mean_abs = np.abs(contributions).mean(axis=0)
    ranked = sorted(zip(columns, mean_abs.tolist(), strict=True), key=lambda kv: -kv[1])
    if result.task == "regression":
        explained = "predicted value"
    elif result.task == "binary" and frame["explained_class"].nunique() == 1:
        explained = f"probability of class {frame['explained_class'].iloc[0]!s}"
    else:
        explained = "probability of each row's predicted class"
    if done < min(len(X), EXPLAIN_ROWS):
        notes.append(
            f"Explanations cover {done} test rows: explaining more did not fit in the time allowed."
        )
    summary = {
        "output": attrs.get("output"),
        "explained": explained,
        "method": attrs.get("method"),
        "detail": attrs.get("detail"),
        "exact": attrs.get("exact"),
        "n_rows": done,
        "seconds": round(time.monotonic() - started, 3),
        "importance": [{"feature": c, "mean_abs": v} for c, v in ranked],
    }
    kept: dict[str, Any] = {
        "base_value": frame["base_value"].to_numpy(dtype=float),
        "output_value": frame["output_value"].to_numpy(dtype=float),
    }
    if "explained_class" in frame:
        kept["explained_class"] = frame["explained_class"].astype(str).to_numpy()
    for j, c in enumerate(columns):
        kept[f"contrib:{c}"] = contributions[:, j]
    values = storable_frame(X.iloc[order[:done]][columns])
    for c in columns:
        kept[f"value:{c}"] = values[c].to_numpy()
    rows = pd.DataFrame(kept)
    return summary, rows


def _seconds(timings: dict[str, Any]) -> float:
    return float(sum(v for k, v in timings.items() if k.endswith("_s") and v))


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


# ----------------------------------------------------------------------- at report time


def check_report_path(output: str | Path) -> Path:
    """``output`` as a Path if a report can be written there, else one clear error.

    Examples
    --------
    >>> check_report_path("/no/such/folder/report.html")
    Traceback (most recent call last):
    ...
    modelloop.exceptions.InvalidInputError: Cannot write the report to /no/such/folder/report.html: the folder /no/such/folder does not exist. Create it or choose another path.
    """
    path = Path(output).expanduser()
    if path.is_dir():
        raise InvalidInputError(
            f"Cannot write the report to {path}: it is a folder. Give a file name such as "
            f"{path / 'report.html'}."
        )
    parent = path.parent
    if not parent.is_dir():
        raise InvalidInputError(
            f"Cannot write the report to {path}: the folder {parent} does not exist. "
            "Create it or choose another path."
        )
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InvalidInputError(
            f"Cannot write the report to {path}: no permission to write there. Choose another path."
        )
    return path


def _resolve(store: Store, ref: str) -> tuple[RunRecord, ModelVersionRecord | None]:
    """The run ``ref`` names: a run id (prefix), or a model reference's training run."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInputError(f"A report needs a run id or a model reference. Got {ref!r}.")
    ref = ref.strip()
    version: ModelVersionRecord | None = None
    if any(ch in ref for ch in "@:/"):
        version = store.resolve(ref)
    else:
        try:
            version = store.resolve(ref)
        except (ModelNotFoundError, InvalidInputError) as model_exc:
            try:
                return store.get_run(ref), None
            except (RunNotFoundError, InvalidInputError) as run_exc:
                raise NotFoundError(
                    f"No run or registered model matches {ref!r}. {run_exc} {model_exc}"
                ) from None
    if version.run_id is None:
        raise NotFoundError(
            f"Model '{version.name}' version {version.version} was not trained by "
            "modelloop train (it has no run), so there is no evaluation to report."
        )
    return store.get_run(version.run_id), version


def _load_evaluation(store: Store, run: RunRecord) -> tuple[dict[str, Any], pd.DataFrame]:
    if run.status != "finished":
        raise NotFoundError(
            f"Run {run.short_id} ({run.name}) is '{run.status}', not finished: there is no "
            "evaluation to report."
        )
    files = store.run_files(run.id)
    if EVALUATION_FILE not in files or PREDICTIONS_FILE not in files:
        raise NotFoundError(
            f"Run {run.short_id} ({run.name}) has no evaluation data: it was trained before "
            "modelloop kept it (or the saving failed). Train again to get a report."
        )
    payload = json.loads(store.read_run_file(run.id, EVALUATION_FILE))
    if payload.get("format") != _FORMAT or payload.get("format_version", 0) > _FORMAT_VERSION:
        raise NotFoundError(
            f"Run {run.short_id} has evaluation data in a format this modelloop cannot read "
            f"({payload.get('format')!r} version {payload.get('format_version')!r}); upgrade "
            "modelloop."
        )
    predictions = pd.read_parquet(io.BytesIO(store.read_run_file(run.id, PREDICTIONS_FILE)))
    return payload, predictions


def _summary(
    store: Store, run: RunRecord, version: ModelVersionRecord | None, payload: dict[str, Any]
) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    if version is not None:
        aliases = f" (aliases: {', '.join(version.aliases)})" if version.aliases else ""
        summary["model"] = f"{version.name} version {version.version}{aliases}"
    summary["run"] = f"{run.id} ({run.name})"
    summary["selected model"] = run.best_model
    summary["task"] = run.task
    summary["target"] = run.target
    summary["selection metric"] = run.metric
    if run.dataset_hash:
        try:
            ds = store.get_dataset(run.dataset_hash)
            summary["data"] = f"{ds.source} ({ds.n_rows:,} rows × {ds.n_cols} columns)"
        except NotFoundError:
            pass
    params = run.params or {}
    summary["split"] = (
        f"{params.get('n_train', '?')} training rows ({params.get('cv', '?')}-fold CV), "
        f"{payload.get('n_test', '?')} test rows"
    )
    validation = params.get("validation") or {}
    summary["validation"] = validation.get(
        "description", "random (shuffled, stratified by class for classification)"
    )
    if params.get("time_budget") is not None:
        summary["time budget"] = f"{params['time_budget']} s"
    timings = run.timings or {}
    if "total_s" in timings:
        summary["training time"] = f"{timings['total_s']} s"
    summary["trained"] = f"{run.started_at:%Y-%m-%d %H:%M} UTC"
    versions = run.library_versions or {}
    if versions:
        summary["libraries"] = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    return summary


def report(
    ref: str,
    output: str | Path,
    *,
    store: Store | None = None,
    settings: Settings | None = None,
    n_boot: int = 200,
) -> Path:
    """Write the HTML evaluation report of a run or a model version to ``output``.

    ``ref`` is a run id (or a unique prefix of 4+ characters) or a model reference:
    ``'churn'`` (latest version), ``'churn@production'``, ``'churn:3'``. The page is one
    file with everything embedded (it loads nothing from any host): the data profile, CV
    versus test metrics with bootstrap confidence intervals, the test-split plots,
    explanations (global importance from each input column's contributions on test rows,
    a summary plot and dependence plots), permutation importance, the leaderboard, the
    search history and, when the time budget allowed one, a learning curve.

    Raises
    ------
    NotFoundError
        No such run or model, or a run without evaluation data (trained before reports
        existed, or not finished).
    InvalidInputError
        ``output`` cannot be written.

    Examples
    --------
    >>> import modelloop as ml
    >>> result = ml.train("titanic.csv", target="Survived", name="titanic")  # doctest: +SKIP
    >>> ml.report("titanic@production", "report.html")  # doctest: +SKIP
    PosixPath('report.html')
    """
    path = check_report_path(output)
    owns_store = store is None
    store = store or Store.from_settings(settings or Settings())
    try:
        run, version = _resolve(store, ref)
        # a custom metric ranks by its stored direction; imported only with trust
        known_metric(
            run.metric,
            (run.params or {}).get("metric_spec"),
            trust=bool(settings and settings.trust),
        )
        if run.task == "bandit":
            raise ConfigurationError(
                f"Run {run.id[:8]} ({run.name}) learned a decision policy: its evaluation is "
                f"off-policy, not a test split. Use modelloop evaluate-policy {run.name} LOG, or "
                f"see its estimates with modelloop models show {run.name}."
            )
        payload, predictions = _load_evaluation(store, run)
        trials = [
            {
                "number": t.number,
                "model": t.model,
                "score": t.score,
                "duration": t.duration,
                "status": t.status,
            }
            for t in store.list_trials(run.id)
        ]
        summary = _summary(store, run, version, payload)
        contributions, values = _explained_rows(store, run)
    finally:
        if owns_store:
            store.close()
    task = payload["task"]
    classes = payload.get("classes")
    proba = None
    if task != "regression":
        proba = predictions[[f"proba_{i}" for i in range(len(classes or []))]].to_numpy()
    importance = payload.get("importance") or {}
    table = [r for r in importance.get("table") or [] if r.get("importance") is not None]
    importance_note = (
        f"Drop in {payload['metric']} on {importance.get('n_rows')} test rows when one input "
        f"column is shuffled; mean and std over {importance.get('n_repeats')} repeats. "
        "Computed at training time on a sample to keep it cheap."
    )
    title = f"{summary.get('model') or run.name}: evaluation"
    page = evaluation_report(
        title,
        subtitle=f"run {run.short_id} · {task} · target '{run.target}'",
        task=task,
        metric=payload["metric"],
        y_true=predictions["y_true"].to_numpy(),
        y_pred=predictions["y_pred"].to_numpy(),
        proba=proba,
        classes=classes,
        sample_weight=predictions["sample_weight"].to_numpy()
        if "sample_weight" in predictions.columns
        else None,
        target=str(payload.get("target") or run.target),
        summary=summary,
        notes=payload.get("notes") or [],
        profile=payload.get("profile"),
        target_distribution=payload.get("target_distribution"),
        cv_metrics=run.cv_metrics,
        leaderboard=pd.DataFrame(run.leaderboard or []),
        trials=trials,
        importances=table,
        importance_note=importance_note,
        explanations=payload.get("explanations"),
        contributions=contributions,
        contribution_values=values,
        learning_curve=payload.get("learning_curve"),
        image_errors=payload.get("image_errors"),
        n_boot=n_boot,
    )
    _write_atomic(path, page)
    return path


def _explained_rows(
    store: Store, run: RunRecord
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The explained test rows' contributions and values, one column per input column (or
    ``None``s for a run trained before they were kept)."""
    if EXPLANATIONS_FILE not in store.run_files(run.id):
        return None, None
    rows = pd.read_parquet(io.BytesIO(store.read_run_file(run.id, EXPLANATIONS_FILE)))
    contributions = rows[[c for c in rows.columns if c.startswith("contrib:")]]
    values = rows[[c for c in rows.columns if c.startswith("value:")]]
    contributions.columns = [c.removeprefix("contrib:") for c in contributions.columns]
    values.columns = [c.removeprefix("value:") for c in values.columns]
    return contributions, values


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InvalidInputError(
            f"Cannot write the report to {path}: {exc.strerror or exc}. Choose another path."
        ) from exc


def keep_evaluation(
    store: Store,
    result: TrainResult,
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    *,
    seed: int,
    time_left: float | None,
    sample_weight: np.ndarray | None = None,
) -> None:
    """:func:`record_evaluation` for ``train``: a failure costs the report, not the model.

    The seconds spent go to ``result.timings['evaluation_s']``; a failure becomes a note.
    """
    try:
        spent = record_evaluation(
            store, result, X_train, y_train, X_test, y_test, seed=seed, time_left=time_left,
            sample_weight=sample_weight,
        )  # fmt: skip
    except Exception as exc:  # the model is fine; only its report would be missing
        result.notes.append(
            f"Evaluation data for the report was not saved: {type(exc).__name__}: {exc}"
        )
        return
    result.timings["evaluation_s"] = round(spent, 3)
