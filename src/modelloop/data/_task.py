"""The learning task a target implies, and the checks a target must pass."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from modelloop.data._dataset import Dataset, make_dataset
from modelloop.data._schema import Task
from modelloop.data._values import as_text, parse_numbers
from modelloop.exceptions import TargetError

__all__ = ["UNSUPERVISED_TASKS", "check_target", "detect_task", "drop_missing_target"]

UNSUPERVISED_TASKS = ("clustering", "reduce", "anomaly")
"""Tasks learned without a target. :func:`detect_task` never returns them: they are only
ever asked for by name (``--task clustering``)."""

MAX_CLASSES = 20  # whole-number targets with at most this many values can be classes
MAX_CLASS_SHARE = 0.05  # ... and at most this share of rows distinct values


def _as_numbers(y: pd.Series) -> pd.Series | None:
    """``y`` as float64 when every present value is a number, else None."""
    if pd.api.types.is_bool_dtype(y.dtype):
        return None
    if pd.api.types.is_numeric_dtype(y.dtype):
        return y.astype("float64")
    text = as_text(y)
    nums = parse_numbers(text)
    if (nums.isna() & text.notna()).any():
        return None
    return nums


def detect_task(y: pd.Series) -> Task:
    """'binary', 'multiclass' or 'regression' from the values of a target column.

    Non-numeric values: binary with two distinct values, else multiclass. Numbers: binary
    with at most two distinct values; multiclass when whole numbers with at most 20 distinct
    values that are at most 5% of the rows (wine quality: 6 values in 1,599 rows); else
    regression. Missing values are ignored.

    Examples
    --------
    >>> import pandas as pd
    >>> detect_task(pd.Series(["yes", "no", "yes"])), detect_task(pd.Series([1.5, 2.0, 7.25]))
    ('binary', 'regression')
    """
    present = y.dropna()
    nums = _as_numbers(present)
    n_unique = int(present.nunique())
    if nums is None:
        return "binary" if n_unique <= 2 else "multiclass"
    if n_unique <= 2:
        return "binary"
    values = nums.to_numpy()
    whole = bool(np.all(values == np.round(values)))
    if whole and n_unique <= MAX_CLASSES and n_unique <= MAX_CLASS_SHARE * len(values):
        return "multiclass"
    return "regression"


def _label(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_target(y: pd.Series, task: Task, *, name: str, source: str) -> None:
    """Raise :class:`TargetError` when ``y`` cannot be learned as ``task``.

    Checks: not missing in every row; regression targets are numbers; classification
    targets have at least two classes (two exactly for binary) and at least two rows of
    every class (stratified splits need them). Rows with a missing target are not an
    error here: drop them first with :func:`drop_missing_target`. An unsupervised task
    (:data:`UNSUPERVISED_TASKS`) takes no target at all: naming one is an error.

    Examples
    --------
    >>> import pandas as pd
    >>> check_target(pd.Series(["yes", "yes"]), "binary", name="churn", source="a.csv")
    Traceback (most recent call last):
    ...
    modelloop.exceptions.TargetError: Target 'churn' of a.csv has a single class 'yes'; ...
    """
    if task in UNSUPERVISED_TASKS:
        raise TargetError(
            f"Task '{task}' learns without a target, but target '{name}' of {source} was "
            "given. Leave out the target (--target), or choose binary, multiclass or "
            "regression to predict it."
        )
    present = y.dropna()
    if present.empty:
        raise TargetError(f"Target '{name}' of {source} is missing in every row.")
    if task == "regression":
        nums = _as_numbers(present)
        if nums is None:
            text = as_text(y)
            bad = (parse_numbers(text).isna() & text.notna()).to_numpy()
            pos = int(np.flatnonzero(bad)[0]) if bad.any() else 0
            raise TargetError(
                f"Target '{name}' of {source} must be numeric for regression. Got "
                f"{y.iloc[pos]!r} in row {pos + 1}. Use a classification task, or clean the "
                "column."
            )
        if not np.isfinite(nums.to_numpy()).all():
            raise TargetError(
                f"Target '{name}' of {source} must be finite for regression. Got infinity."
            )
        return
    counts = present.value_counts()
    if len(counts) == 1:
        raise TargetError(
            f"Target '{name}' of {source} has a single class {_label(counts.index[0])!r}; a "
            "classifier needs at least two. Check the file or choose another target."
        )
    if task == "binary" and len(counts) > 2:
        raise TargetError(
            f"Target '{name}' of {source} has {len(counts)} classes; a binary task needs "
            "exactly two. Use the 'multiclass' task."
        )
    single = [_label(v) for v, n in counts.items() if n < 2]
    if single:
        shown = ", ".join(repr(s) for s in single[:5])
        more = f" and {len(single) - 5} more" if len(single) > 5 else ""
        raise TargetError(
            f"Target '{name}' of {source} has class(es) {shown}{more} with a single row; "
            "stratified splits need at least 2 rows per class. Remove those rows or merge "
            "the class with another."
        )


def drop_missing_target(dataset: Dataset) -> tuple[Dataset, int]:
    """The dataset without the rows whose target is missing, and how many were dropped.

    Examples
    --------
    >>> import pandas as pd
    >>> from modelloop.data import load
    >>> ds = load(pd.DataFrame({"x": [1, 2, 3, 4], "y": ["a", None, "b", "a"]}), target="y")
    >>> drop_missing_target(ds)[1]
    1
    """
    y = dataset.target_series()
    missing = y.isna().to_numpy()
    n = int(missing.sum())
    if n == 0:
        return dataset, 0
    frame = dataset.frame.loc[~missing].reset_index(drop=True)
    target = dataset.schema[dataset.schema.target]  # type: ignore[index]
    schema = dataset.schema.replace(dataclasses.replace(target, n_missing=0))
    return make_dataset(frame, schema, source=dataset.source, name=dataset.name), n
