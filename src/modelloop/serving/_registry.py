"""The models a server serves: loaded versions, aliases, the default model, hot swap.

:class:`ModelRegistry` loads, for every registered model, the version its ``production``
alias points at (else the latest) and every aliased version, each as a :class:`ServedModel`
(pipeline, request row type, fast path). :meth:`ModelRegistry.refresh` re-reads the alias
table; a moved alias gets its new version loaded *before* the alias map is switched, so
requests already running finish on the old version and none fails. The server calls
``refresh`` from a background thread every ``serve_poll_seconds`` and from the admin routes.

One broken model never takes the others down. A version whose file cannot be loaded
(missing, changed since it was registered, refused by the trust check) is recorded with the
reason, logged once, and reported by :meth:`ModelRegistry.problems` (``/health``,
``/v2/health/ready``, the dashboard); every other model is served. When a model's default
version is broken, the version served before (if any) stays in service; otherwise the model
answers 503. A broken version is tried again when its file or record changes, or on
``refresh(force=True)`` (``POST /v1/admin/reload``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelloop.data import UNSUPERVISED_TASKS, Schema, enforce_rules
from modelloop.evaluation import threshold_labels
from modelloop.exceptions import (
    ArtifactIntegrityError,
    ConfigurationError,
    InvalidInputError,
    ModelNotFoundError,
    ModelUnavailableError,
    StoreError,
)
from modelloop.models import decision_threshold
from modelloop.serving._batching import MicroBatcher
from modelloop.serving._decide import ServedPolicy
from modelloop.serving._fastpath import FrameBuilder, compile_pipeline
from modelloop.serving._schemas import RowParser
from modelloop.store import ModelVersionRecord, Store

__all__ = ["ModelRegistry", "Problem", "ServedModel", "limit_threads"]

log = logging.getLogger("modelloop.serving")
DEFAULT_ALIAS = "production"


def limit_threads(estimator: Any, n_threads: int) -> None:
    """Set every ``n_jobs`` / ``thread_count`` parameter inside a (fitted) estimator.

    Model libraries default to all cores per predict call; several workers each doing that
    oversubscribe the CPU and cost more in thread start-up than a small batch takes.
    """
    get_params = getattr(estimator, "get_params", None)
    if get_params is None:
        return
    try:
        params = get_params(deep=True)
    except Exception:  # a third-party estimator with a broken get_params: leave it
        return
    updates = {k: n_threads for k in params if k.split("__")[-1] in ("n_jobs", "thread_count")}
    for key in sorted(updates, key=lambda k: k.count("__"), reverse=True):
        try:
            estimator.set_params(**{key: n_threads})
        except Exception:  # a fitted CatBoost model refuses any change: it keeps its threads
            continue


@dataclass(eq=False)
class ServedModel:
    """One model version, ready to answer requests.

    ``estimator`` is what predicts on the output of ``prepare(rows)``: for a modelloop
    pipeline that is the pipeline after its SchemaEnforcer, fed by the fast path.
    """

    name: str
    version: int
    task: str
    classes: list[Any] | None
    schema: Schema
    parser: RowParser
    estimator: Any
    prepare: Any
    record: ModelVersionRecord | None = None
    source: str = "store"
    batcher: MicroBatcher | None = field(default=None, repr=False)
    rules: dict[str, Any] | None = None  # the training rules each request row must meet
    threshold: float | None = None  # a binary model's decision threshold (models.with_threshold)
    policy: ServedPolicy | None = None  # a decision policy (task 'bandit'): decide, not predict
    decider: MicroBatcher | None = field(default=None, repr=False)
    # the whole fitted model and its training rows (or a function reading them): what
    # explanations start from; None for a model file served alone
    pipeline: Any = field(default=None, repr=False)
    reference: Any = field(default=None, repr=False)
    _explainer: Any = field(default=None, repr=False)

    def explainer(self) -> Any:
        """The model's :class:`modelloop.explain.Explainer` (made on first use).

        Raises ``ConfigurationError`` (a 400) for a model that cannot be explained here.
        """
        if self.pipeline is None:
            raise ConfigurationError(
                f"Model '{self.ref}' is served from the file {self.source} and cannot be "
                "explained: explanations need a model trained and registered by modelloop."
            )
        if self._explainer is None:
            from modelloop.explain import Explainer

            self._explainer = Explainer(
                self.pipeline,
                self.task,
                self.schema.feature_columns(),
                background=self.reference,
                name=f"'{self.ref}'",
            )
        return self._explainer

    # compiled by the fast path: a small batch predicts in well under a millisecond, so it
    # may run on the event loop (see MicroBatcher); anything else runs in the thread pool
    compiled: bool = False

    def check_rules(self, rows: Sequence[dict[str, Any]], where: str) -> None:
        """Raise ``RuleViolationError`` (a 422) when a row breaks the model's rules."""
        if self.rules:
            enforce_rules(rows, self.rules, label=where, row_counts=False)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def features(self) -> list[str]:
        return self.parser.features

    def require_predictor(self) -> None:
        """Refuse to predict with a decision policy: it decides (and logs) instead."""
        if self.policy is not None:
            raise ConfigurationError(
                f"Model '{self.name}' is a decision policy: ask it for a decision with POST "
                f'/v1/models/{self.name}/decide {{"context": {{...}}}} (each decision is logged '
                "for its reward), not for a prediction."
            )

    def predict_rows(self, rows: Sequence[dict[str, Any]]) -> tuple[list[Any], list[Any] | None]:
        """Predictions and (classifiers) ``{class: probability}`` dicts, one per row.

        A finite value so large that the model's preprocessing turns it into infinity
        (1e308 scaled, say) is the client's bad input: a 422, not a server error.
        """
        self.require_predictor()
        try:
            return self._predict_rows(rows)
        except ValueError as exc:
            if "infinity" not in str(exc) and "too large" not in str(exc):
                raise
            raise InvalidInputError(
                f"A value is too large for model '{self.name}' version {self.version}: its "
                "preprocessing turns it into infinity. Send values in the range the model was "
                "trained on."
            ) from None

    def _predict_rows(self, rows: Sequence[dict[str, Any]]) -> tuple[list[Any], list[Any] | None]:
        X = self.prepare(rows)
        if self.task in UNSUPERVISED_TASKS:
            return _unsupervised_predictions(self.task, self.estimator, X), None
        if self.task == "regression" or not hasattr(self.estimator, "predict_proba"):
            preds = np.asarray(self.estimator.predict(X)).ravel()
            return preds.tolist(), None
        labeled = getattr(self.estimator, "predict_labeled", None)
        if labeled is not None:  # a graph that labels rows itself (ONNX)
            labels, proba = labeled(X)
            classes = np.asarray(
                self.classes if self.classes is not None else self.estimator.classes_
            )
            keys = [str(c) for c in classes.tolist()]
            return labels.tolist(), [dict(zip(keys, row, strict=True)) for row in proba.tolist()]
        proba = np.asarray(self.estimator.predict_proba(X), dtype=float)
        classes = np.asarray(self.classes if self.classes is not None else self.estimator.classes_)
        preds = threshold_labels(proba, classes, self.threshold).tolist()
        keys = [str(c) for c in classes.tolist()]
        return preds, [dict(zip(keys, row, strict=True)) for row in proba.tolist()]

    def describe(self) -> dict[str, Any]:
        extra = {}
        if self.policy is not None:
            info = self.policy.bandit
            extra = {
                "actions": list(self.policy.actions),
                "decision": {
                    k: info.get(k)
                    for k in ("learner", "exploration", "epsilon", "temperature", "min_propensity")
                },
                "reward_wait_s": self.policy.reward_wait_s,
            }
        return {
            **extra,
            "version": self.version,
            "task": self.task,
            "classes": None if self.classes is None else list(self.classes),
            "source": self.source,
            "metrics": self.record.metrics if self.record is not None else {},
            "inputs": [
                {
                    "name": c.name,
                    "role": c.role.value,
                    "categories": list(c.categories) if c.categories else None,
                }
                for c in self.parser.schema.columns
            ],
        }


def _unsupervised_predictions(task: str, estimator: Any, X: Any) -> list[Any]:
    """Per row: the cluster; the list of components; or the anomaly score and flag."""
    from modelloop.models import unsupervised_output

    out = unsupervised_output(task, estimator, X)
    if task == "clustering":
        return out["cluster"].tolist()
    if task == "reduce":
        return out.to_numpy().tolist()
    return [
        {"anomaly_score": score, "is_anomaly": bool(flag)}
        for score, flag in zip(out["anomaly_score"].tolist(), out["is_anomaly"], strict=True)
    ]


def served_from_pipeline(
    name: str,
    version: int,
    pipeline: Any,
    schema: Schema,
    task: str,
    classes: list[Any] | None,
    *,
    record: ModelVersionRecord | None = None,
    n_threads: int = 1,
    rules: dict[str, Any] | None = None,
    bandit: dict[str, Any] | None = None,
    reference: Any = None,
) -> ServedModel:
    """A :class:`ServedModel` for a modelloop pipeline (SchemaEnforcer first), or for a
    decision policy (task 'bandit', with its ``bandit`` description); ``reference`` (its
    training rows, or a function reading them) is used by explanations."""
    from modelloop.features import SchemaEnforcer

    limit_threads(pipeline, n_threads)
    features = schema.features()
    if task == "bandit":
        frozen = getattr(pipeline, "reward_model_", None)
        limit_threads(getattr(frozen, "estimator", frozen), n_threads)
        return ServedModel(
            name=name,
            version=version,
            task=task,
            classes=None,
            schema=features,
            parser=RowParser(features, name),
            estimator=pipeline,
            prepare=list,
            record=record,
            rules=rules,
            policy=ServedPolicy(pipeline, bandit or {}),
            pipeline=pipeline,
        )
    first = pipeline.steps[0][1] if hasattr(pipeline, "steps") else None
    # unsupervised models answer clusters / components / scores: the full pipeline serves them
    compiled = None if task in UNSUPERVISED_TASKS else compile_pipeline(pipeline, features)
    prepare: Callable[[Sequence[dict[str, Any]]], Any]
    if compiled is not None:  # the fast path: rows straight to the estimator's matrix
        estimator, prepare = compiled, list
    elif isinstance(first, SchemaEnforcer) and len(pipeline.steps) > 1:
        builder = FrameBuilder(first.schema_)
        estimator, prepare = pipeline[1:], builder.build
    else:
        estimator, prepare = pipeline, _records_frame(features.feature_columns())
    if classes is not None:
        classes = np.asarray(classes).tolist()
    return ServedModel(
        name=name,
        version=version,
        task=task,
        classes=classes,
        schema=features,
        parser=RowParser(features, name, known=schema.names),
        estimator=estimator,
        prepare=prepare,
        record=record,
        rules=rules,
        threshold=None if task in UNSUPERVISED_TASKS else decision_threshold(pipeline),
        pipeline=pipeline,
        reference=reference,
        compiled=compiled is not None,
    )


@dataclass(frozen=True)
class Problem:
    """A model version the server cannot serve, and why."""

    model: str
    version: int
    reason: str
    serving: int | None = None  # the version served instead, if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "reason": self.reason,
            "serving_version": self.serving,
        }


# What loading a model file can fail with, for that one model: its file is missing or was
# changed, the trust check refused it, it is not a model file, its libraries cannot build it.
_LOAD_ERRORS = (ArtifactIntegrityError, InvalidInputError, StoreError)


def _records_frame(columns: list[str]) -> Any:
    import pandas as pd

    def prepare(rows: Sequence[dict[str, Any]]) -> Any:
        return pd.DataFrame.from_records(list(rows), columns=columns)

    return prepare


class ModelRegistry:
    """The served models of one server process.

    Parameters
    ----------
    store : Store or None
        Where models come from; ``None`` with ``fixed`` (a model file served alone).
    fixed : ServedModel, optional
        Serve only this model (``modelloop serve --model PATH``).
    default_model : str, optional
        The model ``POST /predict`` serves.
    n_threads : int
        Threads each model library may use per predict call.
    """

    def __init__(
        self,
        store: Store | None,
        *,
        fixed: ServedModel | None = None,
        default_model: str | None = None,
        n_threads: int = 1,
    ) -> None:
        self.store = store
        self._fixed = fixed
        self._default = default_model
        self._n_threads = n_threads
        self._lock = threading.RLock()
        self._loaded: dict[tuple[str, int], ServedModel] = {}
        self._aliases: dict[str, dict[str, int]] = {}
        self._latest: dict[str, int] = {}
        self._history: dict[tuple[str, str], list[int]] = {}
        # broken versions: (name, version) -> (reason, what the reason was seen with)
        self._broken: dict[tuple[str, int], tuple[str, Any]] = {}
        self._pinned: dict[str, int] = {}  # name -> version kept in service meanwhile
        self._unavailable: dict[str, tuple[int, str]] = {}  # name -> (version, reason)
        self.ready = False
        if fixed is not None:
            self._loaded[(fixed.name, fixed.version)] = fixed
            self._aliases[fixed.name] = {}
            self._latest[fixed.name] = fixed.version

    # -- loading ---------------------------------------------------------------------

    def load_all(self) -> list[ServedModel]:
        """Load every model's default and aliased versions; returns the defaults."""
        if self._fixed is None:
            self.refresh()
        self.ready = True
        return [self.get(name) for name in self.names()]

    def _signature(self, record: ModelVersionRecord | None) -> Any:
        """What a broken version's reason depends on: its record and its file on disk."""
        if record is None or self.store is None:
            return None
        try:
            stat = self.store.artifact_path(record).stat()
            on_disk: Any = (stat.st_mtime_ns, stat.st_size)
        except (OSError, ArtifactIntegrityError):
            on_disk = None
        return (record.sha256, record.artifact_path, on_disk)

    def _load(self, name: str, version: int, *, force: bool = False) -> ServedModel:
        key = (name, version)
        with self._lock:
            served = self._loaded.get(key)
            broken = self._broken.get(key)
        if served is not None:
            return served
        if self.store is None:
            raise ModelNotFoundError(f"Model '{name}' has no version {version} on this server.")
        from modelloop.workflows import load_model

        record = self.store.get_model_version(name, version)  # the store's own errors pass
        signature = self._signature(record)
        if broken is not None and not force and broken[1] == signature:
            raise ModelUnavailableError(broken[0])
        try:
            loaded = load_model(f"{name}:{version}", store=self.store)  # sha256 + trust check
        except _LOAD_ERRORS as exc:
            reason = f"Model '{name}' version {version} cannot be served: {exc}"
            with self._lock:
                seen = self._broken.get(key)
                self._broken[key] = (reason, signature)
            if seen is None or seen[0] != reason:  # once, not at every poll
                log.error("%s", reason)
            raise ModelUnavailableError(reason) from None
        served = served_from_pipeline(
            name,
            version,
            loaded.pipeline,
            loaded.schema,
            loaded.task,
            loaded.classes,
            record=loaded.record,
            n_threads=self._n_threads,
            rules=loaded.rules,
            bandit=loaded.bandit,
            reference=loaded.reference,
        )
        with self._lock:
            if self._broken.pop(key, None) is not None:
                log.info("model %s version %d loads again", name, version)
            return self._loaded.setdefault(key, served)

    def refresh(self, *, force: bool = False) -> list[str]:
        """Re-read models and aliases from the store; returns what changed ("name: 2 -> 3").

        A version that cannot be loaded does not stop the others (see the module
        docstring); ``force`` tries broken versions again even when nothing changed.
        """
        if self.store is None:
            return []
        summaries = self.store.list_models()
        changes: list[str] = []
        for s in summaries:
            if s.n_versions == 0:
                continue
            old_default = self._current_default(s.name)
            wanted = s.aliases.get(DEFAULT_ALIAS, s.latest_version)
            # Load first, switch after: requests keep using what they resolved meanwhile.
            failed: dict[int, str] = {}
            for version in sorted({*s.aliases.values(), wanted}):
                try:
                    self._load(s.name, version, force=force)
                except ModelUnavailableError as exc:
                    failed[version] = str(exc)
            with self._lock:
                for alias, version in s.aliases.items():
                    hist = self._history.setdefault((s.name, alias), [])
                    if not hist or hist[-1] != version:
                        hist.append(version)
                self._aliases[s.name] = dict(s.aliases)
                self._latest[s.name] = s.latest_version
                if wanted in failed and old_default is not None and old_default != wanted:
                    self._pinned[s.name] = old_default  # keep serving what worked
                else:
                    self._pinned.pop(s.name, None)
                if wanted in failed and s.name not in self._pinned:
                    self._unavailable[s.name] = (wanted, failed[wanted])
                else:
                    self._unavailable.pop(s.name, None)
            new_default = self._current_default(s.name)
            if new_default is None:
                continue
            if old_default is None:
                log.info("serving %s version %d", s.name, new_default)
            elif old_default != new_default:
                changes.append(f"{s.name}: {old_default} -> {new_default}")
                log.info("swapped %s: version %d -> %d", s.name, old_default, new_default)
        return changes

    def problems(self) -> list[Problem]:
        """Every version the server should serve but cannot, with the reason."""
        with self._lock:
            out = []
            for (name, version), (reason, _) in sorted(self._broken.items()):
                wanted = {*self._aliases.get(name, {}).values()}
                if name in self._latest:
                    wanted.add(self._default_version_of(name, pinned=False))
                if version not in wanted:
                    continue  # no alias or default points at it any more
                out.append(Problem(name, version, reason, self._pinned.get(name)))
            return out

    def _current_default(self, name: str) -> int | None:
        """The version ``name`` is served at now, or None (not served, or unavailable)."""
        with self._lock:
            if name not in self._latest or name in self._unavailable:
                return None
            version = self._default_version_of(name)
            return version if (name, version) in self._loaded else None

    # -- lookups ---------------------------------------------------------------------

    def names(self) -> list[str]:
        """The models served now (a model whose default version cannot be loaded is not)."""
        with self._lock:
            return sorted(n for n in self._latest if n not in self._unavailable)

    def alias_version(self, name: str, alias: str) -> int:
        """The version ``name@alias`` points at in the store (loaded or not)."""
        with self._lock:
            self._require(name)
            aliases = self._aliases.get(name, {})
            if alias not in aliases:
                shown = ", ".join(f"{a} -> {v}" for a, v in aliases.items()) or "none"
                raise ModelNotFoundError(
                    f"Model '{name}' has no alias '{alias}'. Aliases: {shown}."
                )
            return aliases[alias]

    def _default_version_of(self, name: str, *, pinned: bool = True) -> int:
        if pinned and name in self._pinned:
            return self._pinned[name]
        aliases = self._aliases.get(name, {})
        return aliases.get(DEFAULT_ALIAS, self._latest[name])

    def _require(self, name: str) -> None:
        if name not in self._latest:
            names = self.names()
            shown = ", ".join(names) if names else "none"
            raise ModelNotFoundError(f"No model named '{name}' is served here. Served: {shown}.")

    def get(self, name: str, version: int | None = None, alias: str | None = None) -> ServedModel:
        """The served model for ``name`` (its default version), a version or an alias."""
        with self._lock:
            self._require(name)
            if alias is not None:
                aliases = self._aliases.get(name, {})
                if alias not in aliases:
                    shown = ", ".join(f"{a} -> {v}" for a, v in aliases.items()) or "none"
                    raise ModelNotFoundError(
                        f"Model '{name}' has no alias '{alias}'. Aliases: {shown}."
                    )
                version = aliases[alias]
            elif version is None:
                if name in self._unavailable:
                    raise ModelUnavailableError(self._unavailable[name][1])
                version = self._default_version_of(name)
            served = self._loaded.get((name, version))
        if served is not None:
            return served
        if self._fixed is not None:
            raise ModelNotFoundError(
                f"Model '{name}' has no version {version} here; it has version "
                f"{self._fixed.version} only."
            )
        return self._load(name, version)  # an older version asked for by number

    def default_name(self) -> str:
        """The model ``POST /predict`` serves: configured, else the single production one,
        else the only one."""
        names = self.names()
        if self._default is not None:
            self._require(self._default)
            return self._default
        if self._fixed is not None:
            return self._fixed.name
        with self._lock:
            production = [n for n in names if DEFAULT_ALIAS in self._aliases.get(n, {})]
        if len(production) == 1:
            return production[0]
        if len(names) == 1:
            return names[0]
        if not names:
            raise ModelNotFoundError(
                "No model is served here: register one (modelloop train ... --alias production)."
            )
        raise ConfigurationError(
            "POST /predict needs a default model, and this server has several "
            f"({', '.join(names)}) with no single 'production' alias. Start the server with "
            "--default-model NAME, or call POST /v1/models/NAME/predict."
        )

    def describe(self, name: str) -> dict[str, Any]:
        """Name, versions, aliases and the default version's schema and metrics."""
        served = self.get(name)
        with self._lock:
            aliases = dict(self._aliases.get(name, {}))
        versions: list[int] = [served.version]
        if self.store is not None and self._fixed is None:
            try:
                versions = [v.version for v in self.store.list_versions(name)]
            except ModelNotFoundError:
                versions = [served.version]
        return {
            "name": name,
            "default_version": served.version,
            "versions": versions,
            "aliases": aliases,
            **{k: v for k, v in served.describe().items() if k != "version"},
        }

    def forget_last(self, name: str, alias: str) -> None:
        """Drop the newest entry of an alias' history (after a rollback moved it back)."""
        with self._lock:
            hist = self._history.get((name, alias))
            if hist:
                hist.pop()

    def previous_version(self, name: str, alias: str) -> int:
        """The version ``name@alias`` pointed at before its current one."""
        with self._lock:
            self._require(name)
            current = self._aliases.get(name, {}).get(alias)
            hist = [v for v in self._history.get((name, alias), []) if v != current]
        if hist:
            return hist[-1]
        if current is None:
            raise ModelNotFoundError(f"Model '{name}' has no alias '{alias}' to roll back.")
        older = []
        if self.store is not None:
            older = [v.version for v in self.store.list_versions(name) if v.version < current]
        if not older:
            raise InvalidInputError(
                f"Model '{name}@{alias}' points at version {current}, and there is no earlier "
                "version to roll back to."
            )
        return older[-1]
