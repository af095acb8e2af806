"""``train`` for tasks without a target: clustering, dimensionality reduction, anomalies.

The rows go through the same preprocessing as the linear model family (schema check,
imputation, scaling, one-hot), fitted once on every row; the candidates are fitted on its
output, the winner becomes ``Pipeline([schema, preprocess, model])`` like any other
modelloop model, and the run is recorded (and the model registered) like a supervised one.

* ``clustering``: k-means, agglomerative and Gaussian mixtures for k = 2..``max_clusters``,
  HDBSCAN at two cluster sizes and DBSCAN at two ``min_samples`` (``eps`` at the elbow of
  the k-distance curve, see ``models.kdistance_elbow``); every candidate is scored by
  silhouette (on a sample for large data) and Davies-Bouldin (BIC too for mixtures); the
  leaderboard ranks them by silhouette and the best is kept.
* ``reduce``: PCA with the fewest components that explain ``variance`` of the variance
  (at most ``max_components``).
* ``anomaly``: an isolation forest; a row is an anomaly when its score is above the
  threshold that flags ``contamination`` of the training rows.

Columns the preprocessing can only encode with a target (categories with many levels) and
text columns are left out, with a note.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from modelloop.config import Settings
from modelloop.data import UNSUPERVISED_TASKS, Dataset, Role, check_target, json_value
from modelloop.evaluation import cluster_scores, projection_2d, summarize_groups
from modelloop.exceptions import ConfigurationError, InvalidInputError
from modelloop.features import LOW_CARDINALITY, make_pipeline
from modelloop.models import get_unsupervised_spec, unsupervised_catalog
from modelloop.store import Store
from modelloop.tuning import SearchEvent
from modelloop.workflows._ingest import load_source
from modelloop.workflows._train import (
    UnsupervisedTrainResult,
    fail_run,
    record_dataset,
    register_and_finish,
)

__all__ = ["MIN_ROWS", "TASK_METRICS", "train_unsupervised"]

MIN_ROWS = 10
"""Fewer rows than this cannot be clustered, reduced or scored for anomalies meaningfully."""

TASK_METRICS = {
    "clustering": "silhouette",
    "reduce": "explained_variance",
    "anomaly": "anomaly_share",
}
"""What each task reports as its ``metric`` (clustering selects by it)."""


def _check(
    task: str,
    target: str | None,
    metric: str | None,
    max_clusters: int,
    contamination: float,
    variance: float,
    max_components: int,
    source: Any,
    min_clusters: int = 2,
) -> None:
    if task not in UNSUPERVISED_TASKS:
        raise ConfigurationError(
            f"task must be one of {', '.join(UNSUPERVISED_TASKS)} here. Got {task!r}."
        )
    if target is not None:
        where = source.name if isinstance(source, Dataset) else str(source)
        if isinstance(source, pd.DataFrame):
            where = "the data"
        check_target(pd.Series([], dtype=object), task, name=target, source=where)  # type: ignore[arg-type]
    if metric is not None and metric != TASK_METRICS[task]:
        raise ConfigurationError(
            f"Task '{task}' reports metric '{TASK_METRICS[task]}'. Got metric {metric!r}; "
            "leave --metric out."
        )
    if not isinstance(max_clusters, int) or max_clusters < 2:
        raise ConfigurationError(f"max_clusters must be an integer >= 2. Got {max_clusters!r}.")
    if not isinstance(min_clusters, int) or not 2 <= min_clusters <= max_clusters:
        raise ConfigurationError(
            f"min_clusters must be an integer from 2 to max_clusters ({max_clusters}). "
            f"Got {min_clusters!r}."
        )
    if not 0.0 < contamination < 0.5:
        raise ConfigurationError(
            f"contamination must be a share in (0, 0.5). Got {contamination!r}."
        )
    if not 0.0 < variance <= 1.0:
        raise ConfigurationError(f"variance must be a share in (0, 1]. Got {variance!r}.")
    if not isinstance(max_components, int) or max_components < 1:
        raise ConfigurationError(f"max_components must be an integer >= 1. Got {max_components!r}.")


def _usable(dataset: Dataset, task: str) -> tuple[Dataset, list[str]]:
    """The dataset with the columns that need a target to encode, and text, left out."""
    schema, notes = dataset.schema, []
    for col in schema.columns:
        if not col.is_feature:
            continue
        many = col.role is Role.CATEGORICAL and not (
            (col.categories is not None and len(col.categories) <= LOW_CARDINALITY)
            or col.n_unique <= LOW_CARDINALITY
        )
        if many or col.role is Role.TEXT:
            why = (
                f"categorical with {col.n_unique} values (more than {LOW_CARDINALITY} need a "
                "target to encode)"
                if many
                else "text"
            )
            note = f"left out of {task}: {why}"
            schema = schema.replace(replace(col, role=Role.IDENTIFIER, note=note))
            notes.append(f"Column '{col.name}' was {note}.")
    if schema is dataset.schema:
        return dataset, notes
    return replace(dataset, schema=schema), notes


def _check_data(dataset: Dataset, task: str) -> None:
    if not dataset.schema.feature_columns():
        dropped = ", ".join(f"'{c.name}' ({c.role.value})" for c in dataset.schema.columns[:8])
        raise ConfigurationError(
            f"{dataset.name} has no column to learn from for {task}: every column is an "
            f"identifier, constant, text or a many-valued category ({dropped}). Add numeric "
            "or categorical columns, or override a role with --types COLUMN=numeric."
        )
    if dataset.n_rows < MIN_ROWS:
        raise InvalidInputError(
            f"{dataset.name} has {dataset.n_rows} rows; {task} needs at least {MIN_ROWS}. "
            "Use a larger table."
        )


def _k_values(n_rows: int, max_clusters: int, min_clusters: int = 2) -> list[int]:
    top = max(2, min(max_clusters, n_rows - 1))
    return list(range(min(min_clusters, top), top + 1))


def _candidates(
    task: str, names: Sequence[str], n_rows: int, max_clusters: int, min_clusters: int = 2
) -> list[tuple[str, dict[str, Any]]]:
    configs: list[tuple[str, dict[str, Any]]] = []
    for name in names:
        if name in ("kmeans", "agglomerative"):
            ks = _k_values(n_rows, max_clusters, min_clusters)
            configs += [(name, {"n_clusters": k}) for k in ks]
        elif name == "gaussian_mixture":
            ks = _k_values(n_rows, max_clusters, min_clusters)
            configs += [(name, {"n_components": k}) for k in ks]
        elif name == "hdbscan":
            sizes = sorted({max(5, n_rows // 50), max(10, n_rows // 15)})
            configs += [(name, {"min_cluster_size": s}) for s in sizes]
        elif name == "dbscan":  # eps: the elbow of each k-distance curve
            configs += [(name, {"min_samples": k}) for k in sorted({5, max(10, n_rows // 50)})]
        else:
            configs.append((name, {}))
    return configs


def _clustering(
    Xt: np.ndarray,
    configs: list[tuple[str, dict[str, Any]]],
    seed: int,
    n_jobs: int,
    deadline: float | None,
    emit: Callable[[SearchEvent], None],
) -> tuple[pd.DataFrame, Any, list[str]]:
    rows: list[dict[str, Any]] = []
    fitted: list[Any] = []
    notes: list[str] = []
    best: float | None = None
    for i, (name, params) in enumerate(configs):
        label = f"{name} {json.dumps(params)}"
        if deadline is not None and time.monotonic() > deadline:
            notes.append(f"Time budget spent: not tried {len(configs) - i} configuration(s).")
            break
        emit(SearchEvent("candidate", candidate=label, stage="clustering", trials=i, best=best))
        t0 = time.monotonic()
        estimator = get_unsupervised_spec(name, "clustering").make(
            "clustering", seed=seed, n_jobs=n_jobs
        )
        estimator.set_params(**params)
        row: dict[str, Any] = {"model": name, "params": json.dumps(params)}
        try:
            estimator.fit(Xt)
            labels = getattr(estimator, "labels_", None)
            if labels is None:
                labels = estimator.predict(Xt)
            scores = cluster_scores(Xt, labels, seed=seed)
            bic = float(estimator.bic(Xt)) if hasattr(estimator, "bic") else None
            row.update(scores, bic=bic, fit_s=round(time.monotonic() - t0, 3), status="ok")
            row["error"] = ""
        except Exception as exc:  # a failing configuration is recorded and skipped
            row.update(
                silhouette=None,
                davies_bouldin=None,
                n_clusters=None,
                noise_share=None,
                bic=None,
                fit_s=round(time.monotonic() - t0, 3),
                status="failed",
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
            estimator = None
        rows.append(row)
        fitted.append(estimator)
        if row.get("silhouette") is not None and (best is None or row["silhouette"] > best):
            best = row["silhouette"]
    board = pd.DataFrame(rows)
    order = (
        board["silhouette"].astype(float).fillna(-np.inf).to_numpy().argsort(kind="stable")[::-1]
    )
    board = board.iloc[order].reset_index(drop=True)
    winner = fitted[order[0]] if len(order) else None
    if winner is None or board.loc[0, "silhouette"] is None or pd.isna(board.loc[0, "silhouette"]):
        raise InvalidInputError(
            "No clustering separated the rows into two or more groups (every candidate "
            "failed or found a single cluster). Check that the columns vary, or add columns."
        )
    runner_up = _runner_up(board)
    if runner_up is not None:
        notes.append(runner_up)
    return board, winner, notes


def _runner_up(board: pd.DataFrame) -> str | None:
    """Why the winner's number of clusters, and the best candidate with another number.

    >>> board = pd.DataFrame({"model": ["kmeans", "kmeans", "gaussian_mixture"],
    ...     "params": ['{"n_clusters": 2}', '{"n_clusters": 3}', '{"n_components": 3}'],
    ...     "n_clusters": [2, 3, 3], "silhouette": [0.53, 0.45, 0.44]})
    >>> print(_runner_up(board))  # doctest: +NORMALIZE_WHITESPACE
    kmeans {"n_clusters": 2} finds 2 clusters: the highest silhouette (0.530). Silhouette
    favours few, well-separated groups; the runner-up with another number of clusters is
    kmeans {"n_clusters": 3} with 3 (silhouette 0.450, on the leaderboard). To keep it, train
    with --models kmeans --min-clusters 3 --max-clusters 3.
    """
    scored = board[board["silhouette"].notna()]
    if len(scored) < 2 or "n_clusters" not in scored.columns:
        return None
    top = scored.iloc[0]
    others = scored[scored["n_clusters"] != top["n_clusters"]]
    if others.empty:
        return None
    second = others.iloc[0]
    k = int(second["n_clusters"])
    return (
        f"{top['model']} {top['params']} finds {int(top['n_clusters'])} clusters: the highest "
        f"silhouette ({float(top['silhouette']):.3f}). Silhouette favours few, well-separated "
        f"groups; the runner-up with another number of clusters is {second['model']} "
        f"{second['params']} with {int(second['n_clusters'])} (silhouette "
        f"{float(second['silhouette']):.3f}, on the leaderboard). To keep it, train with "
        f"--models {second['model']} --min-clusters {k} --max-clusters {k}."
    )


def _feature_names(prefix: Pipeline, n: int) -> list[str]:
    try:
        return [str(c) for c in prefix[-1].get_feature_names_out()]
    except Exception:  # a transformer without names: number them
        return [f"x{i}" for i in range(n)]


def _reduce(
    Xt: np.ndarray, prefix: Pipeline, variance: float, max_components: int, seed: int
) -> tuple[pd.DataFrame, Any, dict[str, Any], dict[str, Any]]:
    spec = get_unsupervised_spec("pca", "reduce")
    full = spec.make("reduce", seed=seed).set_params(n_components=None).fit(Xt)
    ratios = full.explained_variance_ratio_
    cumulative = np.cumsum(ratios)
    k = int(np.searchsorted(cumulative, variance - 1e-12) + 1)
    k = max(1, min(k, max_components, len(ratios)))
    model = spec.make("reduce", seed=seed).set_params(n_components=k).fit(Xt)
    kept = float(cumulative[k - 1])
    names = _feature_names(prefix, Xt.shape[1])
    loadings = [
        [
            {"feature": names[j], "weight": round(float(comp[j]), 4)}
            for j in np.argsort(-np.abs(comp))[:5]
        ]
        for comp in model.components_
    ]
    metrics = {
        "explained_variance": round(kept, 6),
        "n_components": k,
        "n_inputs": int(Xt.shape[1]),
    }
    board = pd.DataFrame(
        [
            {
                "model": "pca",
                "component": i + 1,
                "variance": round(float(ratios[i]), 6),
                "cumulative": round(float(cumulative[i]), 6),
                "kept": i < k,
            }
            for i in range(min(len(ratios), max(k + 5, 10)))
        ]
    )
    summary = {
        "explained_variance_ratio": [round(float(r), 6) for r in ratios[:50]],
        "cumulative": [round(float(c), 6) for c in cumulative[:50]],
        "n_components": k,
        "variance_target": variance,
        "loadings": loadings,
    }
    return board, model, metrics, summary


def _anomaly(
    Xt: np.ndarray, contamination: float, seed: int, n_jobs: int
) -> tuple[pd.DataFrame, Any, dict[str, Any], np.ndarray, np.ndarray]:
    spec = get_unsupervised_spec("isolation_forest", "anomaly")
    model = spec.make("anomaly", seed=seed, n_jobs=n_jobs)
    model.set_params(contamination=contamination).fit(Xt)
    scores = -model.score_samples(Xt)
    threshold = float(-model.offset_)
    flags = model.predict(Xt) == -1
    q = np.quantile(scores, [0.5, 0.9, 0.99])
    metrics = {
        "anomaly_share": round(float(np.mean(flags)), 6),
        "threshold": round(threshold, 6),
        "contamination": contamination,
        "score_median": round(float(q[0]), 6),
        "score_p90": round(float(q[1]), 6),
        "score_p99": round(float(q[2]), 6),
    }
    board = pd.DataFrame(
        [
            {
                "model": "isolation_forest",
                "contamination": contamination,
                "threshold": metrics["threshold"],
                "anomalies": int(flags.sum()),
                "anomaly_share": metrics["anomaly_share"],
            }
        ]
    )
    return board, model, metrics, scores, flags


def train_unsupervised(
    source: str | Path | pd.DataFrame | Dataset,
    *,
    task: str,
    target: str | None = None,
    metric: str | None = None,
    name: str | None = None,
    register: bool | None = None,
    aliases: Sequence[str] = (),
    models: Sequence[str] | None = None,
    time_budget: float | None = 120.0,
    seed: int | None = None,
    drop: Sequence[str] = (),
    types: dict[str, str] | None = None,
    rules: Any = None,
    max_clusters: int = 10,
    min_clusters: int = 2,
    contamination: float = 0.05,
    variance: float = 0.95,
    max_components: int = 20,
    settings: Settings | None = None,
    store: Store | None = None,
    on_event: Callable[[SearchEvent], None] | None = None,
) -> UnsupervisedTrainResult:
    """Cluster, reduce or score anomalies in a table; record the run, optionally register.

    ``modelloop.train(source, task="clustering")`` calls this. The result is a
    :class:`UnsupervisedTrainResult` whose ``model`` is a fitted pipeline taking raw rows (``predict``
    gives the cluster, ``transform`` the components, ``score_samples`` the negated anomaly
    score), ``metrics`` are measured on every row (silhouette, Davies-Bouldin, ...; there
    is no test split), ``leaderboard`` ranks the candidates and ``summary`` holds the
    cluster sizes and profiles, the explained variance or the anomaly threshold, and a 2-D
    projection (see :mod:`modelloop.evaluation`'s ``plot_groups``).

    Parameters
    ----------
    task : 'clustering', 'reduce' or 'anomaly'.
    target : must be None: these tasks learn without one (naming one raises TargetError).
    models : clustering candidates (default: kmeans, agglomerative, hdbscan, dbscan,
        gaussian_mixture).
    max_clusters : the largest k tried by k-means, agglomerative and mixtures.
    min_clusters : the smallest k they try (``min_clusters=max_clusters=3``: exactly 3).
    contamination : the share of training rows the anomaly threshold flags.
    variance : reduce keeps the fewest components explaining this share of variance ...
    max_components : ... but at most this many.

    Examples
    --------
    >>> import modelloop as ml
    >>> result = ml.train("penguins.csv", task="clustering")  # doctest: +SKIP
    >>> result.summary["sizes"], result.metrics["silhouette"]  # doctest: +SKIP
    """
    settings = settings or Settings()
    _check(
        task, target, metric, max_clusters, contamination, variance, max_components, source,
        min_clusters,
    )  # fmt: skip
    metric = TASK_METRICS[task]
    seed = settings.seed if seed is None else seed
    emit = on_event or (lambda event: None)
    t0 = time.monotonic()
    deadline = None if time_budget is None else t0 + time_budget
    if time_budget is not None and not time_budget > 0:
        raise ConfigurationError(f"time_budget must be seconds > 0. Got {time_budget}.")
    names = list(models) if models else [s.name for s in unsupervised_catalog(task)]
    for candidate in names:
        get_unsupervised_spec(candidate, task)  # unknown names fail before any work

    emit(SearchEvent("stage", message="Loading data"))
    if isinstance(source, Dataset):
        dataset = source
    else:
        dataset = load_source(
            source, target=None, drop=drop, types=types, rules=rules, settings=settings, store=store
        )
    if dataset.schema.target is not None:
        check_target(dataset.target_series(), task, name=dataset.schema.target, source=dataset.name)  # type: ignore[arg-type]
    dataset, notes = _usable(dataset, task)
    notes = list(dataset.schema.notes) + notes
    _check_data(dataset, task)
    X = dataset.features()
    load_time = time.monotonic() - t0
    model_name = name or dataset.name
    do_register = register if register is not None else name is not None
    n_jobs = settings.effective_n_jobs()

    owns_store = store is None
    store = store or Store.from_settings(settings)
    try:
        record_dataset(store, dataset)
        by_task: dict[str, dict[str, Any]] = {
            "clustering": {"max_clusters": max_clusters, "min_clusters": min_clusters},
            "anomaly": {"contamination": contamination},
            "reduce": {"variance": variance, "max_components": max_components},
        }
        own = by_task[task]
        params = {  # only the task's own options: `modelloop runs show` lists them all
            "candidates": names,
            **own,
            "time_budget": time_budget,
            "seed": seed,
            "drop": list(drop),
            "types": dict(types or {}),
            "n_train": dataset.n_rows,
        }
        store.recover()  # runs and files a killed process left behind
        run = store.create_run(
            name=model_name,
            dataset_hash=dataset.hash,
            target=None,
            task=task,
            metric=metric,
            params=params,
        )
        try:
            emit(SearchEvent("start", stage=task))
            emit(SearchEvent("stage", stage=task, message="Preprocessing"))
            first = unsupervised_catalog(task)[0]
            prefix = make_pipeline(dataset.schema, "linear", first.make(task, seed=seed))[:-1]
            # No missing-indicator columns: scaled, a rare indicator puts the few rows with
            # a gap far from the rest, and clustering would find "rows with a gap".
            prefix.set_params(
                **{k: False for k in prefix.get_params(deep=True) if k.endswith("add_indicator")}
            )
            Xt = prefix.fit_transform(X)
            Xt = np.asarray(Xt.toarray() if hasattr(Xt, "toarray") else Xt, dtype=float)
            t_fit = time.monotonic()
            if task == "clustering":
                configs = _candidates(task, names, dataset.n_rows, max_clusters, min_clusters)
                # BLAS threads cost more than they save on these small matrices (and
                # oversubscribe a busy machine): one.
                with threadpool_limits(limits=1):
                    board, estimator, more = _clustering(Xt, configs, seed, n_jobs, deadline, emit)
                notes += more
                groups = np.asarray(estimator.predict(Xt))
                metrics = {
                    k: board.loc[0, k]
                    for k in ("silhouette", "davies_bouldin", "n_clusters", "noise_share", "bic")
                    if board.loc[0, k] is not None and not pd.isna(board.loc[0, k])
                }
                metrics = {k: float(v) if k != "n_clusters" else int(v) for k, v in metrics.items()}
                best_model = str(board.loc[0, "model"])
                best_params = json.loads(board.loc[0, "params"])
                summary = summarize_groups(X, groups)
                summary["projection"] = projection_2d(Xt, groups, seed=seed)
                summary["cluster_profile"] = summary["profile"]
            elif task == "reduce":
                board, estimator, metrics, summary = _reduce(
                    Xt, prefix, variance, max_components, seed
                )
                best_model, best_params = "pca", {"n_components": metrics["n_components"]}
                comps = estimator.transform(Xt)
                summary["projection"] = {
                    **projection_2d(comps[:, :2], np.zeros(len(comps), dtype=int), seed=seed),
                    "explained_variance": [
                        round(float(r), 4) for r in estimator.explained_variance_ratio_[:2]
                    ]
                    + [0.0] * max(0, 2 - comps.shape[1]),
                }
            else:
                board, estimator, metrics, scores, flags = _anomaly(Xt, contamination, seed, n_jobs)
                best_model, best_params = "isolation_forest", {"contamination": contamination}
                groups = np.where(flags, "anomaly", "normal")
                summary = summarize_groups(X, groups)
                summary["projection"] = projection_2d(Xt, groups, seed=seed)
                summary["threshold"] = metrics["threshold"]
                top = np.argsort(-scores)[:10]
                summary["top_anomalies"] = [
                    {"row": int(i), "score": round(float(scores[i]), 6)} for i in top
                ]
            fit_time = time.monotonic() - t_fit
            model = Pipeline([*prefix.steps, ("model", estimator)])
            summary["task"] = task
        except BaseException as exc:
            fail_run(store, run.id, exc)
            raise
        result = UnsupervisedTrainResult(
            run_id=run.id,
            name=model_name,
            task=task,  # type: ignore[arg-type]
            metric=metric,
            target=None,  # type: ignore[arg-type]
            best_model=best_model,
            model=model,
            leaderboard=board,
            metrics=metrics,
            cv_metrics={},
            dataset=dataset,
            classes=None,
            timings={"load_s": round(load_time, 3), "fit_s": round(fit_time, 3)},
            notes=notes,
            best_params=best_params,
        )
        result.summary = summary
        result.timings["total_s"] = round(time.monotonic() - t0, 3)
        _keep_summary(store, run.id, summary)
        register_and_finish(
            store, result, register=do_register, aliases=aliases, emit=emit, test_metrics=metrics
        )
        return result
    finally:
        if owns_store:
            store.close()


def _keep_summary(store: Store, run_id: str, summary: dict[str, Any]) -> None:
    """The summary as the run's file ``summary.json`` (sizes, profiles, projection)."""
    data = json.dumps(summary, default=json_value).encode()
    store.write_run_files(run_id, {"summary.json": data})
