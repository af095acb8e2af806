"""The grid and random strategies (``search(strategy="grid" | "random")``).

``grid`` evaluates every combination of the parameter grid for each model, in the order
scikit-learn's ``GridSearchCV`` does (models in the order given), so a grid whose cheap
values come first keeps them when the time runs out; the combinations are enqueued in an
Optuna study (``study.enqueue_trial``). ``random`` samples with Optuna's ``RandomSampler``:
from the grid's values (each combination at most once), or without a grid from the
models' search spaces. Both run in the search's one ask/tell loop (``_loop.run_study``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import ParameterGrid

from modelloop.exceptions import ConfigurationError
from modelloop.models import get_spec, search_space
from modelloop.tuning._loop import StudySource, run_study
from modelloop.tuning._runner import TrialRunner

__all__ = ["check_param_grid", "grid_configs", "random_configs", "run_grid", "run_random"]


def check_param_grid(
    grid: dict[str, Any], models: Sequence[str], task: str
) -> dict[str, list[Any]]:
    """The grid with every value a list, checked against each model's parameters.

    Names are the estimator's own (``max_depth``); a ``model__`` prefix is accepted.

    Raises
    ------
    ConfigurationError
        A grid that is not a mapping of names to values, or a name a model lacks.

    Examples
    --------
    >>> check_param_grid({"max_depth": [3, 5]}, ["decision_tree"], "binary")
    {'max_depth': [3, 5]}
    >>> check_param_grid({"depth": [3]}, ["decision_tree"], "binary")
    Traceback (most recent call last):
    ...
    modelloop.exceptions.ConfigurationError: Parameter 'depth' of --param-grid is not a parameter of model 'decision_tree'. ...
    """
    if not isinstance(grid, dict) or not grid:
        raise ConfigurationError(
            "A param grid must be a non-empty JSON object of parameter names to lists of "
            f'values, e.g. {{"max_depth": [3, 5]}}. Got {grid!r}.'
        )
    clean: dict[str, list[Any]] = {}
    for key, values in grid.items():
        name = str(key).removeprefix("model__")
        values = list(values) if isinstance(values, list | tuple) else [values]
        if not values:
            raise ConfigurationError(f"Parameter {name!r} of --param-grid has no values.")
        clean[name] = values
    for model in models:
        params = get_spec(model, task).make(task).get_params()
        for name in clean:
            if name not in params:
                valid = ", ".join(sorted(k for k in params if "__" not in k))
                raise ConfigurationError(
                    f"Parameter {name!r} of --param-grid is not a parameter of model "
                    f"{model!r}. Valid parameters: {valid}."
                )
    return clean


def grid_configs(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination, in a fixed order (like ``GridSearchCV``).

    >>> grid_configs({"a": [1, 2], "b": [0]})
    [{'a': 1, 'b': 0}, {'a': 2, 'b': 0}]
    """
    return [dict(p) for p in ParameterGrid(grid)]


def random_configs(grid: dict[str, list[Any]], n: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` distinct combinations drawn at random (all of them when the grid is smaller).

    >>> len(random_configs({"a": [1, 2, 3], "b": [0, 1]}, 4, seed=0))
    4
    """
    every = grid_configs(grid)
    order = np.random.default_rng(seed).permutation(len(every))[: max(0, n)]
    return [every[i] for i in order]


def run_grid(
    runner: TrialRunner,
    models: Sequence[str],
    grid: dict[str, list[Any]] | None,
    *,
    cap: float | None,
    max_trials: int | None,
) -> int:
    """Every combination of ``grid`` for each model; returns how many were not tried."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    configs = [(m, p) for m in models for p in grid_configs(grid)] if grid else []
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


def run_random(
    runner: TrialRunner,
    models: Sequence[str],
    grid: dict[str, list[Any]] | None,
    *,
    cap: float | None,
    max_trials: int | None,
) -> None:
    """Random samples: of ``grid``'s combinations (distinct), or of the models' search
    spaces without a grid; ``max_trials`` of them (10 without a trial or time budget)."""
    import optuna

    if grid is None:
        spaced = [m for m in models if search_space(m)]
        if not spaced:
            raise ConfigurationError(
                f"--search random without --param-grid needs a model with a search space. "
                f"Got {', '.join(models)}."
            )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=runner.problem.seed))
    seen: set[str] = set()
    combinations = len(models) * len(grid_configs(grid)) if grid else None

    def has_next(study: Any) -> bool:
        return combinations is None or len(seen) < combinations

    def decode(trial: Any) -> tuple[str, dict[str, Any]] | None:
        if grid is None:
            model = trial.suggest_categorical("model", spaced) if len(spaced) > 1 else spaced[0]
            return model, search_space(model)(trial)  # type: ignore[misc]
        # indices, so that any JSON value (a list, say) can be a choice
        model = models[trial.suggest_int("model", 0, len(models) - 1)]
        params = {name: values[trial.suggest_int(name, 0, len(values) - 1)]
                  for name, values in grid.items()}  # fmt: skip
        key = json.dumps([model, params], sort_keys=True, default=str)
        if key in seen:
            return None  # each combination at most once
        seen.add(key)
        return model, params

    limit = max_trials if max_trials is not None else (None if runner.clock.deadline else 10)
    run_study(runner, StudySource(study, decode, has_next), cap=cap, max_trials=limit)
