"""Parameter grids for ``search(strategy="grid" | "random")``: checked, then enumerated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import ParameterGrid

from modelloop.exceptions import ConfigurationError
from modelloop.models import get_spec

__all__ = ["check_param_grid", "grid_configs", "random_configs"]


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
