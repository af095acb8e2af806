"""How rows are split for validation: at random, by group, or by time.

Every place that splits rows (the test split, the search's folds, the early-stopping slice
inside a fold, the search's row sample, the bagging check) asks one :class:`Validation`:

- *random* (the default): shuffled, stratified by class for classification;
- *group*: the rows of one group (a patient, a customer, a store) are never split, neither
  across folds nor between the training rows and the test split (``StratifiedGroupKFold``
  for classification, ``GroupKFold`` for regression);
- *time*: train on the past, validate on the future. The test split is the latest rows;
  the folds chain forward (fold *i* trains on every row before its validation block, like
  ``TimeSeriesSplit``), so every validation row is later than every training row, and at
  least ``gap`` later: ``gap`` is a number of rows (an ``int``) or a duration (a
  ``pandas.Timedelta``, for a datetime column) left out between them. Rows with the same
  time are never split.

>>> import numpy as np, pandas as pd
>>> v = Validation(times=np.arange(12.0))
>>> [(int(tr.max()), int(va.min())) for tr, va in v.folds(pd.Series(range(12)), "regression", 3)]
[(2, 3), (5, 6), (8, 9)]
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from modelloop.data import Task
from modelloop.exceptions import ConfigurationError, InvalidInputError

__all__ = ["Validation", "format_gap", "parse_gap", "time_values"]

Gap: TypeAlias = int | pd.Timedelta


def parse_gap(value: Any) -> Gap:
    """A gap given by a user: a number of rows (``5``, ``"5"``) or a duration (``"7D"``,
    ``"12h"``, ``"30min"``, ``"2 days"``, a ``timedelta``); ``None`` is 0 rows.

    >>> parse_gap("3"), parse_gap("7 days")
    (3, Timedelta('7 days 00:00:00'))
    >>> parse_gap("soon")
    Traceback (most recent call last):
    ...
    modelloop.exceptions.ConfigurationError: gap must be a number of rows (e.g. 10) or a duration (e.g. 7D, 12h, 30min). Got 'soon'.
    """
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ConfigurationError(f"gap must be a number of rows or a duration. Got {value!r}.")
    if isinstance(value, int | np.integer):
        gap: Gap = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        gap = int(value.strip())
    else:
        try:
            gap = pd.Timedelta(value)
        except (ValueError, TypeError):
            raise ConfigurationError(
                "gap must be a number of rows (e.g. 10) or a duration (e.g. 7D, 12h, 30min). "
                f"Got {value!r}."
            ) from None
        if pd.isna(gap):
            raise ConfigurationError(f"gap must be a number of rows or a duration. Got {value!r}.")
    if (gap < pd.Timedelta(0)) if isinstance(gap, pd.Timedelta) else gap < 0:
        raise ConfigurationError(f"gap must be >= 0. Got {value!r}.")
    return gap


def format_gap(gap: Gap) -> str:
    """A gap as :func:`parse_gap` reads it back: ``'7D'``, ``'1D 6h'``, ``'30min'``, ``'5'``.

    >>> format_gap(pd.Timedelta("1 days 06:30:00")), format_gap(5)
    ('1D 6h 30min', '5')
    """
    if not isinstance(gap, pd.Timedelta):
        return str(int(gap))
    c = gap.components
    parts = [
        f"{v}{unit}"
        for v, unit in zip(
            (c.days, c.hours, c.minutes, c.seconds, c.milliseconds, c.microseconds, c.nanoseconds),
            ("D", "h", "min", "s", "ms", "us", "ns"),
            strict=True,
        )
        if v
    ]
    return " ".join(parts) or "0s"


def time_values(values: pd.Series, column: str) -> tuple[np.ndarray, bool]:
    """The values of time column ``column`` as sortable numbers, and whether they are dates:
    nanoseconds since the epoch for dates (strings are parsed, time zones read as UTC), the
    numbers themselves for a numeric column.

    >>> time_values(pd.Series(["2024-01-02", "2024-01-01"]), "day")[0].tolist()
    [1704153600000000000, 1704067200000000000]
    """
    s = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_bool_dtype(s):
        raise InvalidInputError(
            f"Time column '{column}' must hold dates or numbers to order rows. Got booleans."
        )
    if pd.api.types.is_numeric_dtype(s):
        return _no_missing(pd.to_numeric(s, errors="coerce").to_numpy(dtype=float), column), False
    if pd.api.types.is_datetime64_any_dtype(s):
        parsed = s
    else:
        parsed = pd.to_datetime(s, errors="coerce", utc=True, format="mixed")
        bad = (parsed.isna() & s.notna()).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(
                f"Time column '{column}' must hold dates or numbers to order rows. "
                f"Got {str(s.iloc[row])!r} in row {row + 1}."
            )
    index = pd.DatetimeIndex(parsed)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    missing = np.asarray(index.isna())
    ns = np.where(missing, np.nan, index.as_unit("ns").asi8.astype(float))
    _no_missing(ns, column)
    return index.as_unit("ns").asi8.astype(np.int64), True


def _no_missing(out: np.ndarray, column: str) -> np.ndarray:
    missing = np.isnan(out)
    if missing.any():
        raise InvalidInputError(
            f"Time column '{column}' must have a time in every row to order rows. Got "
            f"{int(missing.sum())} missing, first in row {int(np.flatnonzero(missing)[0]) + 1}; "
            "drop those rows first."
        )
    return out


@dataclass(frozen=True, eq=False)
class Validation:
    """How rows are split: ``groups`` (one label per row), or ``times`` (one sortable value
    per row, see :func:`time_values`) with a ``gap``, or neither (random).

    ``column`` names the group or time column in messages; ``is_datetime`` says whether
    ``times`` are nanoseconds (a duration gap needs them). The arrays are aligned with the
    rows being split; :meth:`take` keeps them aligned with a subset.
    """

    groups: np.ndarray | None = None
    times: np.ndarray | None = None
    gap: Gap = 0
    column: str = ""
    is_datetime: bool = False

    def __post_init__(self) -> None:
        if self.groups is not None and self.times is not None:
            raise ConfigurationError(
                "Validation is by group or by time, not both. Got a group and a time column."
            )
        if isinstance(self.gap, pd.Timedelta) and self.times is not None and not self.is_datetime:
            raise ConfigurationError(
                f"A duration gap ({self.gap}) needs a datetime time column; '{self.column}' "
                "holds numbers. Give the gap as a number of rows."
            )

    @property
    def kind(self) -> str:
        """'group', 'time' or 'random'."""
        if self.groups is not None:
            return "group"
        return "time" if self.times is not None else "random"

    def take(self, rows: np.ndarray) -> Validation:
        """The same validation for the rows ``rows`` (positions) only."""
        return Validation(
            None if self.groups is None else self.groups[rows],
            None if self.times is None else self.times[rows],
            self.gap,
            self.column,
            self.is_datetime,
        )

    def describe(self) -> str:
        """One line for notes and reports.

        >>> Validation(times=np.arange(3.0), gap=2, column="t").describe()
        "time-ordered by 't' (train on the past, validate on the future; gap 2 rows)"
        """
        if self.kind == "group":
            return f"grouped by '{self.column}' (no group in two folds, nor in train and test)"
        if self.kind == "time":
            if isinstance(self.gap, pd.Timedelta):
                gap = f"gap {format_gap(self.gap)}"
            else:
                gap = f"gap {self.gap} row{'s' if self.gap != 1 else ''}"
            return f"time-ordered by '{self.column}' (train on the past, validate on the future; {gap})"
        return "random (shuffled, stratified by class for classification)"

    def to_dict(self) -> dict[str, Any]:
        """What the run's params record (and retrain reads back)."""
        gap = format_gap(self.gap) if isinstance(self.gap, pd.Timedelta) else int(self.gap)
        return {
            "kind": self.kind,
            "column": self.column or None,
            "gap": gap if self.kind == "time" else None,
        }

    # ------------------------------------------------------------------ folds

    def folds(
        self, y: pd.Series | np.ndarray, task: Task, n_splits: int, *, seed: int = 0
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """``n_splits`` (train, validation) position pairs over the rows of ``y``."""
        y = np.asarray(y)
        if self.kind == "group":
            return self._group_folds(y, task, n_splits, seed)
        if self.kind == "time":
            return self._time_folds(y, task, n_splits)
        raise ConfigurationError("Random folds are made by tuning.make_folds.")

    def _group_folds(self, y, task, k, seed):
        from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

        groups = _labels(self.groups)
        n_groups = len(np.unique(groups))
        if n_groups < k:
            raise ConfigurationError(
                f"Group column '{self.column}' has {n_groups} groups in the training rows; "
                f"{k}-fold cross-validation needs at least {k}. Lower --cv (to at least 2) or "
                "give a column with more groups."
            )
        index = np.arange(len(y))
        if task in ("binary", "multiclass") and pd.Series(y).value_counts().min() >= k:
            splitter: Any = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
            return [(tr, va) for tr, va in splitter.split(index, y, groups)]
        # GroupKFold balances the folds' sizes; which group lands where follows from a
        # seeded relabelling, so the seed still changes the folds
        relabel = np.random.default_rng(seed).permutation(n_groups)[groups]
        return [(tr, va) for tr, va in GroupKFold(n_splits=k).split(index, y, relabel)]

    def _sorted(self):
        order = np.argsort(self.times, kind="stable")
        t = self.times[order]
        # positions (in time order) where the time changes: the only places to cut
        cuts = np.flatnonzero(t[1:] != t[:-1]) + 1
        return order, t, cuts

    def _train_end(self, t: np.ndarray, start: int) -> int:
        """How many rows (in time order) precede validation rows starting at ``start``,
        less the gap."""
        if isinstance(self.gap, pd.Timedelta):
            return int(np.searchsorted(t, t[start] - self.gap.value, side="left"))
        return max(start - int(self.gap), 0)

    def _time_folds(self, y, task, k):
        order, t, cuts = self._sorted()
        n = len(t)
        if len(cuts) == 0:
            raise ConfigurationError(
                f"Time column '{self.column}' has one distinct time in the training rows: "
                "nothing to validate on the future with."
            )
        size = n / (k + 1)
        starts = sorted({_snap(cuts, round(size * (i + 1))) for i in range(k)})
        bounds = [*starts, n]
        folds = []
        for start, stop in pairwise(bounds):
            end = self._train_end(t, start)
            tr, va = np.sort(order[:end]), np.sort(order[start:stop])
            if end < 2 or (
                task != "regression" and min(len(np.unique(y[tr])), len(np.unique(y[va]))) < 2
            ):
                # too early to train on, or one class only to score: the next block will
                continue
            folds.append((tr, va))
        if len(folds) < 2:
            raise ConfigurationError(
                f"Time-ordered validation by '{self.column}' could make {len(folds)} fold(s) "
                f"of {k} asked: {n} training rows with {len(cuts) + 1} distinct times"
                + (f" and a gap of {self.gap}" if self.gap else "")
                + " leave too little past to train on. Lower --cv or --gap, or give more rows."
            )
        return folds

    # ------------------------------------------------------------------ holdout

    def holdout(
        self, y: pd.Series | np.ndarray, task: Task, test_size: float, *, seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(train positions, test positions)``: whole groups, or the latest rows (the
        training rows end ``gap`` before the test split starts)."""
        y = np.asarray(y)
        if self.kind == "group":
            return self._group_holdout(y, task, test_size, seed)
        if self.kind == "time":
            order, t, cuts = self._sorted()
            if len(cuts) == 0:
                raise ConfigurationError(
                    f"Time column '{self.column}' has one distinct time: the latest rows "
                    "cannot be held out as a test split."
                )
            start = _snap(cuts, round(len(t) * (1 - test_size)))
            end = self._train_end(t, start)
            if end < 2:
                raise ConfigurationError(
                    f"The gap of {self.gap} before the test split leaves {end} training row(s). "
                    "Lower --gap or --test-size."
                )
            return np.sort(order[:end]), np.sort(order[start:])
        raise ConfigurationError("A random test split is made by the caller.")

    def _group_holdout(self, y, task, test_size, seed):
        from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

        groups = _labels(self.groups)
        n_groups = len(np.unique(groups))
        if n_groups < 3:
            raise ConfigurationError(
                f"Group column '{self.column}' has {n_groups} group(s); a test split of whole "
                "groups and cross-validation on the rest need at least 3."
            )
        index = np.arange(len(y))
        k = round(1 / test_size)
        if task in ("binary", "multiclass") and 2 <= k <= n_groups:
            # one fold of a stratified group K-fold: whole groups, class shares kept
            splitter: Any = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
            try:
                tr, te = next(iter(splitter.split(index, y, groups)))
                if len(np.unique(y[tr])) == len(np.unique(y)):
                    return tr, te
            except ValueError:
                pass
        splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        tr, te = next(iter(splitter.split(index, y, groups)))
        return tr, te

    # ------------------------------------------------------------------ inside a fold

    def early_stopping(self, rows: np.ndarray, share: float, seed: int):
        """``(fit positions, stop positions)`` within ``rows``: the latest ``share`` of
        them by time, or a ``share`` of their groups; None when they cannot be split so."""
        if self.times is not None:
            t = self.times[rows]
            order = np.argsort(t, kind="stable")
            cuts = np.flatnonzero(t[order][1:] != t[order][:-1]) + 1
            if len(cuts) == 0:
                return None
            start = _snap(cuts, round(len(rows) * (1 - share)))
            return np.sort(order[:start]), np.sort(order[start:])
        if self.groups is not None:
            from sklearn.model_selection import GroupShuffleSplit

            groups = _labels(self.groups[rows])
            if len(np.unique(groups)) < 2:
                return None
            splitter = GroupShuffleSplit(n_splits=1, test_size=share, random_state=seed)
            return next(iter(splitter.split(np.arange(len(rows)), groups=groups)))
        return None

    def sample(self, n_rows: int, seed: int) -> np.ndarray:
        """Positions of about ``n_rows`` rows to search on: whole groups at random, or the
        latest rows; each is then in no particular order."""
        if self.kind == "time":
            order, t, cuts = self._sorted()
            start = _snap(cuts, len(t) - n_rows) if len(cuts) else 0
            return np.sort(order[start:])
        if self.groups is None:
            raise ConfigurationError("A random validation has no groups to sample.")
        groups = _labels(self.groups)
        rng = np.random.default_rng(seed)
        picked = rng.permutation(groups.max() + 1)
        sizes = np.bincount(groups)
        enough = int(np.searchsorted(np.cumsum(sizes[picked]), n_rows)) + 1
        keep = np.isin(groups, picked[: max(enough, 2)])
        return np.flatnonzero(keep)


def _labels(groups: np.ndarray) -> np.ndarray:
    """Group values as codes 0..G-1; missing values form one group of their own."""
    codes, _ = pd.factorize(pd.Series(groups), use_na_sentinel=False)
    return np.asarray(codes)


def _snap(cuts: np.ndarray, position: int) -> int:
    """The cut (a position where the time changes) nearest ``position``."""
    i = int(np.searchsorted(cuts, position))
    if i == 0:
        return int(cuts[0])
    if i == len(cuts):
        return int(cuts[-1])
    before, after = int(cuts[i - 1]), int(cuts[i])
    return before if position - before <= after - position else after
