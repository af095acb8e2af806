"""Group- and time-aware validation for ``train``: the columns checked, the test split made.

``train(..., group="patient_id")`` keeps every group's rows on one side of each split;
``train(..., time="date", gap="7D")`` trains on the past and validates on the future. The
group column is not a feature (it names which rows belong together; the server never needs
it); the time column stays a feature with its inferred role (a datetime column gives
calendar parts and elapsed days), since the rows a model scores carry their time too: give
it ``types={"date": "identifier"}`` (``--types date=identifier``) to keep it out.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from modelloop.data import Dataset, Role, Task
from modelloop.exceptions import ColumnNotFoundError, ConfigurationError
from modelloop.tuning import Validation, parse_gap, time_values

__all__ = ["resolve_validation", "split_rows"]


def resolve_validation(
    dataset: Dataset, *, target: str, group: str | None, time: str | None, gap: Any
) -> tuple[Dataset, Validation | None]:
    """The dataset (its group column made a non-feature) and the validation asked for.

    Raises ``ConfigurationError`` for both a group and a time column, a gap without a time
    column, or the target named as either; ``ColumnNotFoundError`` for a missing column;
    ``InvalidInputError`` for a time column that does not hold times in every row.
    """
    if group is not None and time is not None:
        raise ConfigurationError(
            "Validation is by group or by time, not both: give --group or --time. "
            f"Got group '{group}' and time '{time}'."
        )
    if time is None and gap not in (None, 0, "0", ""):
        raise ConfigurationError(f"gap needs a time column (--time COLUMN). Got gap {gap!r}.")
    column = group if group is not None else time
    if column is None:
        return dataset, None
    option = "group" if group is not None else "time"
    if column not in dataset.frame.columns or column not in dataset.schema:
        raise ColumnNotFoundError(
            f"The {option} column '{column}' is not a column of {dataset.name}"
            + (" (left out with --drop?)" if column not in dataset.frame.columns else "")
            + f". Columns: {', '.join(dataset.schema.names[:30])}."
        )
    if column == target:
        raise ConfigurationError(
            f"The {option} column '{column}' is the target; name another column."
        )
    if group is not None:
        kept = dataset.schema[group]
        if kept.role is not Role.IDENTIFIER:
            note = "group column (--group): not a feature"
            kept = replace(kept, role=Role.IDENTIFIER, note=note)
            dataset = replace(dataset, schema=dataset.schema.replace(kept))
        groups = dataset.frame[group].to_numpy(dtype=object)
        return dataset, Validation(groups=groups, column=group)
    values, is_datetime = time_values(dataset.frame[column], column)
    return dataset, Validation(
        times=values, gap=parse_gap(gap), column=column, is_datetime=is_datetime
    )


def split_rows(
    dataset: Dataset, task: Task, test_size: float, seed: int, validation: Validation | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series, Validation | None, str]:
    """``(X_train, X_test, y_train, y_test, validation of the training rows, note)``.

    Without a validation the test split is shuffled (stratified for classification); by
    group it is whole groups; by time it is the latest rows, the training rows ending the
    gap before it. ``note`` says how the split was made (empty for a shuffled one).
    """
    X = dataset.features()
    y = dataset.target_series()
    if validation is None or validation.kind == "random":
        stratify = y if task != "regression" else None
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=test_size, random_state=seed, shuffle=True, stratify=stratify
        )
        return X_train, X_test, y_train, y_test, None, ""
    tr, te = validation.holdout(y, task, test_size, seed=seed)
    if validation.kind == "group":
        n_test = len(np.unique(np.asarray(validation.groups)[te].astype(str)))
        note = (
            f"Test split: {len(te):,} rows of {n_test:,} whole groups of "
            f"'{validation.column}' ({len(te) / len(y):.0%} of the rows)."
        )
    else:
        left = len(y) - len(tr) - len(te)
        note = f"Test split: the latest {len(te):,} rows by '{validation.column}'" + (
            f"; the {left:,} rows in the gap before it were left out." if left else "."
        )
    return X.iloc[tr], X.iloc[te], y.iloc[tr], y.iloc[te], validation.take(tr), note
