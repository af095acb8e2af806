"""The time budget: a deadline, and the smallest budget that can produce a model."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from modelloop.exceptions import ConfigurationError

__all__ = [
    "Budget",
    "available_memory",
    "check_budget",
    "minimum_budget",
    "promised_seconds",
    "row_limits",
]

# Rows the search's trials cross-validate at most, and at least (when the data has them).
SEARCH_ROWS_MAX = 1_000_000
SEARCH_ROWS_MIN = 20_000
# Cells a fold fit gets through per second, roughly, and trials a budget should afford.
_CELLS_PER_S = 2e6
_TRIALS_WANTED = 10
# Peak memory of a refit, in multiples of the frame, plus the worker's copy of it.
_REFIT_MEMORY_FACTOR = 8.0

# Starting the worker process and importing the libraries in it costs about this much.
_STARTUP_S = 3.0


def promised_seconds(time_budget: float) -> float:
    """The wall time a run with ``time_budget`` seconds may take at most: the budget plus
    10 %, or plus 3 s for budgets under 30 s (start-up, scoring, saving and report included).

    >>> promised_seconds(60), promised_seconds(20)
    (66.0, 23.0)
    """
    return round(time_budget * 1.1 if time_budget >= 30 else time_budget + 3.0, 6)


def minimum_budget(n_rows: int, n_cols: int) -> float:
    """Seconds needed for one cross-validated linear model, its refit and the bookkeeping.

    A rough, deliberately generous estimate: 3 s to start the worker, 2 s of fixed costs and
    5 s per million cells.

    >>> minimum_budget(891, 11)
    5.0
    """
    return round(_STARTUP_S + 2.0 + 5.0 * n_rows * max(n_cols, 1) / 1e6, 1)


def check_budget(time_budget: float | None, n_rows: int, n_cols: int) -> None:
    """Refuse a budget <= 0, or too small for even one fit (naming the minimum).

    >>> check_budget(1, 891, 11)
    Traceback (most recent call last):
    ...
    modelloop.exceptions.ConfigurationError: time_budget of 1 s is too small to fit even one model on 891 rows x 11 columns. Give at least 5 s (or more).
    """
    if time_budget is None:
        return
    if not time_budget > 0:
        raise ConfigurationError(
            f"time_budget must be a number of seconds > 0. Got {time_budget} instead."
        )
    needed = minimum_budget(n_rows, n_cols)
    if time_budget < needed:
        raise ConfigurationError(
            f"time_budget of {time_budget:g} s is too small to fit even one model on "
            f"{n_rows} rows x {n_cols} columns. Give at least {needed:g} s (or more)."
        )


@dataclass
class Budget:
    """A deadline on the monotonic clock (``None``: no time limit)."""

    deadline: float | None

    @classmethod
    def of(cls, seconds: float | None) -> Budget:
        return cls(None if seconds is None else time.monotonic() + seconds)

    def left(self) -> float:
        """Seconds left (``inf`` without a limit)."""
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()


def available_memory() -> int | None:
    """Bytes of physical memory available now, where the platform says (else ``None``)."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def row_limits(
    n_rows: int, row_bytes: float, n_cols: int, cv: int, time_budget: float | None
) -> tuple[int, int]:
    """Rows to search on and rows to refit on: ``(search_rows, refit_rows)``.

    The search sample is what the time budget affords for about ten cross-validated trials
    (at roughly two million cells per second per fit), between 20,000 and 1,000,000 rows;
    the refit takes every row that fits in half of the free memory (a fit needs about
    eight times the frame). Both are at most ``n_rows``.

    >>> row_limits(1_000, 80.0, 10, 5, 60)
    (1000, 1000)
    >>> row_limits(50_000_000, 80.0, 10, 5, 60)[0]
    240000
    """
    search = min(n_rows, SEARCH_ROWS_MAX)
    if time_budget is not None:
        affordable = int(
            time_budget * _CELLS_PER_S / (max(n_cols, 1) * max(cv, 2) * _TRIALS_WANTED)
        )
        search = min(search, max(affordable, SEARCH_ROWS_MIN))
    free = available_memory()
    refit = n_rows
    if free is not None:
        refit = min(n_rows, int(0.5 * free / (max(row_bytes, 1.0) * _REFIT_MEMORY_FACTOR)))
    return max(1, search), max(1, refit)
