"""``monitor``: a registered model's reference rows against its logged production inputs."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from modelloop.config import Settings
from modelloop.data import UNSUPERVISED_TASKS, Role
from modelloop.evaluation import action_text, known_metric, off_policy_report
from modelloop.exceptions import EmptyDataError, InvalidInputError, ModelloopError, NotFoundError
from modelloop.models import decision_threshold, predicted_labels
from modelloop.monitoring import (
    MAX_IMAGE_ROWS,
    Alert,
    AlertRules,
    DriftConfig,
    DriftReport,
    PerformanceReport,
    RewardReport,
    WebhookResult,
    alert_message,
    alerts,
    attribution_drift,
    drift_report,
    monitored_metric,
    reward_alert,
    reward_report,
    send_webhook,
    window_performance,
    with_attribution,
    with_windows,
)
from modelloop.store import Store
from modelloop.workflows._predict import LoadedModel, load_model
from modelloop.workflows._progress import OnProgress, quiet

__all__ = ["MonitorResult", "monitor", "parse_window"]

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_WINDOW_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$", re.I)
_MAX_WINDOWS = 8
_MIN_WINDOW_ROWS = 100
_REFERENCE_OUTPUT_ROWS = 20_000
_ATTRIBUTION_SECONDS = 30.0  # explaining both windows stops here (fewer rows when slow)
_ATTRIBUTION_CHUNK = 25


def parse_window(window: str | int) -> int | timedelta:
    """A row count (``5000``) or a time span (``'30m'``, ``'12h'``, ``'7d'``, ``'2w'``).

    Examples
    --------
    >>> parse_window("5000"), parse_window("7d")
    (5000, datetime.timedelta(days=7))
    """
    text = str(window).strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    match = _WINDOW_RE.match(text)
    if match and float(match.group(1)) > 0:
        return timedelta(**{_UNITS[match.group(2).lower()]: float(match.group(1))})
    raise InvalidInputError(
        "The window must be a positive row count such as 5000, or a time span such as 30m, "
        f"12h, 7d or 2w. Got {window!r}."
    )


@dataclass(frozen=True)
class MonitorResult:
    """What ``monitor`` found: the drift report, the alerts that fired, the webhook call."""

    model: str
    window: str
    report: DriftReport
    alerts: list[Alert] = field(default_factory=list)
    webhook: WebhookResult | None = None
    started: datetime | None = None
    ended: datetime | None = None
    decisions: RewardReport | None = None  # a decision policy: decisions, rewards, values

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (what ``modelloop monitor --json`` writes)."""
        return {
            **({"decisions": self.decisions.to_dict()} if self.decisions is not None else {}),
            "model": self.model,
            "window": self.window,
            "current_from": self.started.isoformat() if self.started else None,
            "current_to": self.ended.isoformat() if self.ended else None,
            "alerts": [a.to_dict() for a in self.alerts],
            "webhook": None
            if self.webhook is None
            else {
                "url": self.webhook.url,
                "ok": self.webhook.ok,
                "status": self.webhook.status,
                "error": self.webhook.error,
            },
            "report": self.report.to_dict(),
        }


def _read_window(
    store: Store, name: str, window: int | timedelta, since: datetime | None
) -> list[Any]:
    if isinstance(window, timedelta):
        start = datetime.now(UTC) - window
        if since is not None:
            start = max(start, since)
        return store.get_predictions(name, since=start)
    latest = store.prediction_activity(name, since=since, limit=window)
    if not latest:
        return []
    records = store.get_predictions(name, since=latest[0].created_at)
    return records[-window:]


def _outputs(model: LoadedModel, frame: pd.DataFrame) -> tuple[Any, np.ndarray | None]:
    """What prediction drift compares, and the probability matrix (classifiers).

    Unsupervised models: the cluster ids (as categories), the first principal component,
    or the anomaly score.
    """
    if model.task in UNSUPERVISED_TASKS:
        out = model.predict_frame(frame)
        if model.task == "clustering":
            return out["cluster"].astype(str).to_numpy(), None
        column = "pc1" if model.task == "reduce" else "anomaly_score"
        return out[column].to_numpy(dtype=float), None
    if model.task == "regression":
        return np.asarray(model.pipeline.predict(frame), dtype=float), None
    proba = np.asarray(model.pipeline.predict_proba(frame), dtype=float)
    if proba.shape[1] == 2:
        return proba[:, 1], proba
    return predicted_labels(model.pipeline, proba).astype(str), proba


def _training_metric(model: LoadedModel, metric: str) -> float | None:
    test = (model.record.metrics or {}).get("test") or {}
    value = test.get(metric)
    return float(value) if isinstance(value, int | float) and np.isfinite(value) else None


def _selection_metric(store: Store, model: LoadedModel, *, trust: bool) -> str | None:
    """The metric the model was selected by, measured beside the followed one. A custom
    metric is imported only with ``trust``; without it, it is not measured."""
    run_id = getattr(model.record, "run_id", None)
    if not run_id or model.task in UNSUPERVISED_TASKS or model.task == "bandit":
        return None
    try:
        run = store.get_run(run_id)
    except NotFoundError:
        return None
    known_metric(run.metric, (run.params or {}).get("metric_spec"), trust=trust)
    return run.metric


def _chunks(n: int) -> list[np.ndarray]:
    k = max(1, min(_MAX_WINDOWS, n // _MIN_WINDOW_ROWS))
    return np.array_split(np.arange(n), k)


def monitor(
    name_or_ref: str,
    *,
    store: Store | None = None,
    settings: Settings | None = None,
    window: str | int | None = None,
    since: datetime | None = None,
    config: DriftConfig | None = None,
    rules: AlertRules | None = None,
    notify: bool = True,
    on_progress: OnProgress = quiet,
) -> MonitorResult:
    """Check a registered model for drift and decay, and apply the alert rules.

    The reference is the version's training rows (kept at registration); the current
    window is the latest logged production inputs of the model (any version): the last
    ``window`` rows (``5000``) or the last span of time (``'7d'``), optionally only
    ``since`` a time. Labels that arrived give the measured metric beside the estimate.
    When an alert fires and ``monitor_webhook_url`` is set (and ``notify``), a JSON message
    is POSTed there; a failure is reported in the result, not raised. ``on_progress``
    hears of each step (see :mod:`._progress`).

    Examples
    --------
    >>> import modelloop as ml
    >>> result = ml.workflows.monitor("churn@production", window="7d")  # doctest: +SKIP
    >>> result.report.drifted_features, [a.rule for a in result.alerts]  # doctest: +SKIP
    (['age'], ['drift_share'])
    """
    settings = settings or Settings()
    spec = parse_window(window if window is not None else settings.monitor_window)
    config = config or DriftConfig(
        domain_auc=settings.monitor_domain_auc or DriftConfig.domain_auc,
        attribution_shift=settings.monitor_attribution_shift or DriftConfig.attribution_shift,
        seed=settings.seed,
    )
    rules = rules or AlertRules.from_settings(settings)
    owns = store is None
    store = store or Store.from_settings(settings)
    try:
        on_progress(f"Loading {name_or_ref}", None, None)
        model = load_model(name_or_ref, store=store)
        on_progress("Reading the reference rows", None, None)
        reference = store.reference_data(model.record)
        on_progress("Reading the logged predictions", None, None)
        records = _read_window(store, model.record.name, spec, since)
        selection = _selection_metric(store, model, trust=settings.trust)
    finally:
        if owns:
            store.close()
    what = (
        f"the last {spec} rows"
        if isinstance(spec, int)
        else f"the last {window or settings.monitor_window}"
    )
    images = model.schema.by_role(Role.IMAGE)
    if images:  # every image is decoded and embedded again: compare a bounded sample
        if len(records) > MAX_IMAGE_ROWS:
            records = records[-MAX_IMAGE_ROWS:]
            what += f" (its latest {MAX_IMAGE_ROWS:,}: the model takes images)"
        if len(reference) > MAX_IMAGE_ROWS:
            rows = np.random.default_rng(config.seed).choice(
                len(reference), MAX_IMAGE_ROWS, replace=False
            )
            reference = reference.iloc[np.sort(rows)].reset_index(drop=True)
        _embed_reference(model, reference, images, settings)
    if not records:
        raise EmptyDataError(
            f"Model '{model.record.name}' has no logged predictions in {what}"
            f"{f' since {since.isoformat()}' if since else ''}: nothing to compare with its "
            "reference data. Serve it with prediction logging on, or widen --window."
        )
    current = pd.DataFrame.from_records([r.inputs for r in records])
    labels = [r.label for r in records]
    times = [r.created_at for r in records]
    decisions = None
    if model.task == "bandit":  # contexts drift; rewards and values instead of a metric
        report = drift_report(
            reference[[c for c in reference.columns if c in current.columns]],
            current,
            model.schema,
            config=config,
        )
        decisions = _decisions(model, records, current, settings.seed)
    else:
        report = _report(model, reference, current, labels, times, config, on_progress, selection)
    fired = alerts(report, rules)
    if decisions is not None:
        fired = [a for a in fired if a.rule != "metric_drop"]
        dropped = reward_alert(decisions, rules.max_metric_drop)
        if dropped is not None:
            fired.append(dropped)
    hook = None
    if fired and notify and rules.webhook_url:
        hook = send_webhook(
            rules.webhook_url,
            alert_message(model.ref, fired, report),
            timeout=rules.webhook_timeout,
        )
    return MonitorResult(model.ref, what, report, fired, hook, times[0], times[-1], decisions)


def _decisions(
    model: LoadedModel, records: list[Any], contexts: pd.DataFrame, seed: int
) -> RewardReport:
    """Decisions, rewards, reward rate over time and the served version's value estimates."""
    bandit = model.bandit or {}
    wait = timedelta(seconds=float(bandit.get("reward_wait_s") or 3600.0))
    default = bandit.get("default_reward")
    now = datetime.now(UTC)
    status, rewards = [], []
    for r in records:
        if r.labeled_at is not None:
            status.append("rewarded")
            rewards.append(_number(r.label))
        elif now - r.created_at <= wait:
            status.append("pending")
            rewards.append(None)
        elif default is not None:
            status.append("defaulted")
            rewards.append(float(default))
        else:
            status.append("dropped")
            rewards.append(None)
    test = (model.record.metrics or {}).get("test") or {}
    expected = test.get("value_dr")
    estimates = None
    resolved = [
        i
        for i, (s, r, rec) in enumerate(zip(status, rewards, records, strict=True))
        if s in ("rewarded", "defaulted") and r is not None and _propensity(rec) is not None
    ]
    if len(resolved) >= 2:
        policy = model.pipeline
        needed = [str(c) for c in getattr(policy, "feature_names_in_", contexts.columns)]
        frame = contexts.iloc[resolved].reindex(columns=needed).reset_index(drop=True)
        proba = policy.action_probabilities(frame)
        index = policy.action_index_
        cols = [index.get(action_text(records[i].prediction)) for i in resolved]
        target = [0.0 if c is None else float(proba[j, c]) for j, c in enumerate(cols)]
        estimates = off_policy_report(
            [rewards[i] for i in resolved],
            [_propensity(records[i]) for i in resolved],
            target,
            n_bootstrap=300,
            seed=seed,
        )
    return reward_report(
        [r.created_at for r in records],
        status,
        rewards,
        actions=[r.prediction for r in records],
        expected_value=float(expected) if isinstance(expected, int | float) else None,
        estimates=estimates,
    )


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _propensity(record: Any) -> float | None:
    probabilities = record.probabilities if isinstance(record.probabilities, dict) else {}
    p = probabilities.get(action_text(record.prediction))
    return float(p) if isinstance(p, int | float) and 0 < p <= 1 else None


def _embed_reference(
    model: LoadedModel, reference: pd.DataFrame, images: list[str], settings: Settings
) -> None:
    """Embed the reference images once; later checks read them from the cache."""
    from modelloop.features import cache_embeddings, image_model_available, use_cache_dir

    if not image_model_available():
        return
    use_cache_dir(settings.resolved_cache_dir())
    values: list[Any] = []
    for name in images:
        if name in reference.columns:
            values += [v for v in reference[name].tolist() if isinstance(v, str | bytes)]
    key = hashlib.sha256(f"{model.record.name}\0{model.record.version}".encode()).hexdigest()
    cache_embeddings(values, f"reference-{key[:32]}", n_threads=settings.effective_n_jobs())


def _report(
    model: LoadedModel,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    labels: list[Any],
    times: list[datetime],
    config: DriftConfig,
    on_progress: OnProgress = quiet,
    selection: str | None = None,
) -> DriftReport:
    features = model.schema.feature_columns()
    target = model.schema.target
    rng = np.random.default_rng(config.seed)
    ref_rows = reference
    if len(reference) > _REFERENCE_OUTPUT_ROWS:
        ref_rows = reference.iloc[
            np.sort(rng.choice(len(reference), _REFERENCE_OUTPUT_ROWS, replace=False))
        ]
    on_progress(
        f"Scoring {len(ref_rows):,} reference and {len(current):,} current rows", None, None
    )
    ref_out, ref_proba = _outputs(model, ref_rows[[c for c in features if c in ref_rows.columns]])
    cur_out, cur_proba = _outputs(model, current)
    task, classes = (
        model.task,
        model.classes
        or (list(model.pipeline.classes_) if hasattr(model.pipeline, "classes_") else None),
    )
    metric = monitored_metric(task)
    threshold = None if task in UNSUPERVISED_TASKS else decision_threshold(model.pipeline)
    ref_truth = ref_rows[target].tolist() if target and target in ref_rows.columns else None
    if task in UNSUPERVISED_TASKS:
        labels = [None] * len(labels)  # no metric to measure: drift only
    # trained with sample weights: measured metrics are weighted where rows carry them
    weight = (model.record.lineage or {}).get("weight")
    cur_w = current[weight].tolist() if weight and weight in current.columns else None
    ref_w = ref_rows[weight].tolist() if weight and weight in ref_rows.columns else None
    extra = [selection] if selection and selection != metric else []

    def perf(label: str, idx: np.ndarray | None, **kw: Any) -> Any:
        sel = slice(None) if idx is None else idx
        rows = range(len(labels)) if idx is None else idx
        return window_performance(
            label,
            task,
            classes=classes,
            proba=None if cur_proba is None else cur_proba[sel],
            prediction=cur_out[sel],
            y_true=[labels[i] for i in rows],
            threshold=threshold,
            sample_weight=None if cur_w is None else [cur_w[i] for i in rows],
            extra=extra,
            **kw,
        )

    reference_perf = window_performance(
        "reference (training rows)",
        task,
        classes=classes,
        proba=ref_proba,
        prediction=ref_out,
        y_true=ref_truth,
        threshold=threshold,
        sample_weight=ref_w,
        extra=extra,
    )
    windows, window_perf = [], []
    chunk_config = DriftConfig(**{**config.to_dict(), "domain": False})
    chunks = _chunks(len(current))
    for i, idx in enumerate(chunks):
        on_progress("Drift and performance by time window", i, len(chunks))
        w = perf(f"window {i + 1}", idx, start=times[idx[0]], end=times[idx[-1]])
        window_perf.append(w)
        share = drift_report(
            reference, current.iloc[idx], model.schema, config=chunk_config
        ).drift_share
        windows.append({**w.to_dict(), "drift_share": share})
    performance: PerformanceReport | None = PerformanceReport(
        task=task,
        metric=metric,
        training=_training_metric(model, metric),
        current=perf("current", None, start=times[0], end=times[-1]),
        reference=reference_perf,
        windows=tuple(window_perf),
    )
    if task in UNSUPERVISED_TASKS:  # no target: nothing to estimate or measure
        performance = None
    on_progress("Drift of the whole window", None, None)
    report = drift_report(
        reference,
        current,
        model.schema,
        config=config,
        reference_output=ref_out,
        current_output=cur_out,
        performance=performance,
    )
    report = with_windows(report, windows)
    on_progress("Explaining both windows (attribution drift)", None, None)
    return with_attribution(report, _attribution(model, reference, current, config))


def _attribution(
    model: LoadedModel, reference: pd.DataFrame, current: pd.DataFrame, config: DriftConfig
) -> Any:
    """Attribution drift between samples of the reference and the current window, explained
    in alternating chunks for at most ``_ATTRIBUTION_SECONDS`` (``None`` for a model that
    cannot be explained: unsupervised, or without what its method needs)."""
    if model.task in UNSUPERVISED_TASKS:
        return None
    features = model.schema.feature_columns()
    if any(c not in reference.columns or c not in current.columns for c in features):
        return None
    explainer = replace(model, reference=reference, _explainer=[]).explainer()
    rng = np.random.default_rng(config.seed)
    windows = []
    for frame in (reference, current):
        n = min(len(frame), config.attribution_rows)
        windows.append(frame.iloc[np.sort(rng.choice(len(frame), n, replace=False))][features])
    parts: list[list[np.ndarray]] = [[], []]
    started = time.monotonic()
    explanation = None
    try:
        for start in range(0, max(len(w) for w in windows), _ATTRIBUTION_CHUNK):
            for i, window in enumerate(windows):
                chunk = window.iloc[start : start + _ATTRIBUTION_CHUNK]
                if len(chunk):
                    explanation = explainer.explain(chunk)
                    parts[i].append(explanation.values)
            if time.monotonic() - started > _ATTRIBUTION_SECONDS:
                break
    except ModelloopError:
        return None
    if explanation is None:
        return None
    ref_values, cur_values = (np.vstack(p) for p in parts)
    return attribution_drift(
        ref_values,
        cur_values,
        features,
        threshold=config.attribution_shift,
        alpha=config.alpha,
        min_rows=config.min_rows,
        seed=config.seed,
        output=explanation.output,
        method=explanation.detail,
    )
