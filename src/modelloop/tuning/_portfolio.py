"""The portfolio stage: strong default configurations, tried in order before any tuning.

:func:`portfolio_configs` plans the list: the task's portfolio (``models.portfolio``, best
first) restricted to the candidates, plus twins where the data calls for them:

- text columns and the sentence model installed (and time for it): the first two models
  are also tried with sentence embeddings instead of TF-IDF;
- a skewed, non-negative regression target (``models.wants_log_target``): the first two
  models are also tried on ``log1p(y)``, scored on the original scale;
- a metric that rewards rare classes (balanced accuracy, macro averages, F1 of a rare
  positive class): class weights for every model that has them, and the first model also
  without, so the cross-validation shows whether weighting pays.

:func:`run_portfolio` enqueues them in an Optuna study (``study.enqueue_trial``) and runs
them through the one ask/tell loop (``_loop.run_study``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelloop.data import Role, Schema, Task
from modelloop.features import sentence_model_available
from modelloop.models import BALANCED, LOG1P, portfolio, wants_log_target
from modelloop.tuning._loop import StudySource, run_study
from modelloop.tuning._records import TARGET_TRANSFORM
from modelloop.tuning._runner import TrialRunner

__all__ = ["embedding_cost", "portfolio_configs", "rewards_rare_classes", "run_portfolio"]

_EMBED_LOAD_S, _EMBED_TEXTS_PER_S = 9.0, 70.0  # see embedding_cost
_RARE_CLASS_METRICS = frozenset({"balanced_accuracy", "recall_macro", "f1_macro"})

Config = tuple[str, dict[str, Any]]


def portfolio_configs(
    task: Task,
    metric: str,
    X: pd.DataFrame,
    y: np.ndarray,
    schema: Schema,
    models: Sequence[str] | None,
    time_budget: float | None,
) -> tuple[list[Config], frozenset[str], bool]:
    """``(configurations, text models, balanced)`` for the portfolio stage.

    ``text models`` are the models whose Optuna trials also choose how text columns are
    featurized; ``balanced`` says whether Optuna's trials weight classes.
    """
    configs = [
        (m, p)
        for m, p in portfolio(task, time_budget=None if models else time_budget)
        if models is None or m in models
    ]
    text_models: frozenset[str] = frozenset()
    if (
        schema.by_role(Role.TEXT)
        and sentence_model_available()
        and (time_budget is None or time_budget >= 4 * embedding_cost(X, schema))
    ):
        text_models = frozenset(m for m, _ in configs[:2])
        configs[2:2] = [(m, {**p, "text_features": "embedding"}) for m, p in configs[:2]]
    if task == "regression" and wants_log_target(y):
        configs[2:2] = [(m, {**p, TARGET_TRANSFORM: LOG1P}) for m, p in configs[:2]]
    configs += [(m, {}) for m in models or () if m not in {c[0] for c in configs}]
    balanced = rewards_rare_classes(metric, task, np.asarray(y))
    if balanced and configs:
        first = configs[0]
        configs = [(m, {**p, **BALANCED.get(m, {})}) for m, p in configs]
        if configs[0] != first:
            configs.insert(1, first)
    return configs, text_models, balanced


def run_portfolio(
    runner: TrialRunner, configs: Sequence[Config], *, cap: float | None, max_trials: int | None
) -> int:
    """Run ``configs`` in order; returns how many were not tried (time or trial budget)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=runner.problem.seed))
    for i in range(len(configs)):
        study.enqueue_trial({}, user_attrs={"config": i})

    def waiting(study: Any) -> bool:
        return bool(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))

    def decode(trial: Any) -> tuple[str, dict[str, Any]]:
        model, params = configs[trial.user_attrs["config"]]
        return model, dict(params)

    run_study(runner, StudySource(study, decode, waiting), cap=cap, max_trials=max_trials)
    return sum(
        1 for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.WAITING
    )


def rewards_rare_classes(metric: str, task: Task, y: np.ndarray) -> bool:
    """Whether ``metric`` on these labels calls for class weights.

    Balanced accuracy and macro averages count every class equally, and F1 is about the
    positive class: on imbalanced labels, an unweighted model's most-probable-class rule
    under-predicts the rare classes these metrics reward.

    >>> rewards_rare_classes("f1", "binary", np.array(["a"] * 9 + ["b"]))
    True
    """
    if task == "regression":
        return False
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        return False
    share = counts / counts.sum()
    if metric == "f1":  # the positive class is classes[1]
        return bool(share[1] < 0.4)
    return metric in _RARE_CLASS_METRICS and bool(share.min() < 0.8 / len(classes))


def embedding_cost(X: pd.DataFrame, schema: Schema) -> float:
    """Seconds a worker needs to load the sentence model and embed X's distinct texts once.

    Measured on one loaded core: about 9 s to load and 70 texts/s. The search tries
    embeddings only when this is at most a quarter of the budget.
    """
    texts = sum(X[c].nunique() for c in schema.by_role(Role.TEXT) if c in X.columns)
    return _EMBED_LOAD_S + texts / _EMBED_TEXTS_PER_S
