"""Tuning: CV folds, the time-budgeted search (portfolio, Optuna, grid/random), ensembles.

>>> from modelloop.tuning import make_folds, search  # doctest: +SKIP
"""

from modelloop.tuning._budget import check_budget, minimum_budget, promised_seconds
from modelloop.tuning._cv import FoldResult, cross_validate, make_folds
from modelloop.tuning._executors import connect as connect_cluster
from modelloop.tuning._grid import check_param_grid, grid_configs, random_configs
from modelloop.tuning._search import (
    DEFAULT_MAX_MODEL_MB,
    DEFAULT_MIN_ROWS_PER_S,
    FINAL_FITS,
    STRATEGIES,
    CandidateResult,
    SearchEvent,
    SearchResult,
    check_search_options,
    search,
)
from modelloop.tuning._validation import Validation, parse_gap, time_values

__all__ = [
    "DEFAULT_MAX_MODEL_MB",
    "DEFAULT_MIN_ROWS_PER_S",
    "FINAL_FITS",
    "STRATEGIES",
    "CandidateResult",
    "FoldResult",
    "SearchEvent",
    "SearchResult",
    "Validation",
    "check_budget",
    "check_param_grid",
    "check_search_options",
    "connect_cluster",
    "cross_validate",
    "grid_configs",
    "make_folds",
    "minimum_budget",
    "parse_gap",
    "promised_seconds",
    "random_configs",
    "search",
    "time_values",
]
