"""``train``'s sample weights (a column of the data) and its check of a custom metric."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from modelloop.data import Dataset, Role
from modelloop.evaluation import UndefinedMetricError, get_metric, register_metric, score
from modelloop.exceptions import ColumnNotFoundError, ConfigurationError, InvalidInputError

__all__ = ["attach_weights", "check_custom_metric", "weight_column"]

WEIGHT_NOTE = "sample weight (weight): not a feature"


def attach_weights(source: Any, sample_weight: Any) -> tuple[Any, str]:
    """``source`` (a DataFrame) with the array ``sample_weight`` as a column, and its name."""
    if not isinstance(source, pd.DataFrame):
        raise ConfigurationError(
            "sample_weight= takes a column name, or an array of weights when the data is a "
            f"DataFrame. Got an array for a {type(source).__name__} source: name the column."
        )
    values = np.asarray(sample_weight)
    if values.ndim != 1 or len(values) != len(source):
        raise ConfigurationError(
            f"sample_weight must hold one weight per row of the data ({len(source)}). "
            f"Got shape {values.shape}."
        )
    name = "sample_weight"
    while name in source.columns:
        name = "_" + name
    return source.assign(**{name: values}), name


def weight_column(dataset: Dataset, weight: str, *, target: str, id_column: str | None) -> Dataset:
    """The dataset with column ``weight`` checked (numbers >= 0, none missing, not all 0),
    made numeric and taken out of the features: it weights rows, never predicts."""
    if weight not in dataset.schema:
        raise ColumnNotFoundError(
            f"weight column '{weight}' is not a column of {dataset.name}. "
            f"Columns: {', '.join(dataset.schema.names[:30])}."
        )
    if weight in (target, id_column):
        which = "the target" if weight == target else "the id column"
        raise ConfigurationError(f"weight column '{weight}' is {which}; name another column.")
    raw = dataset.frame[weight]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InvalidInputError(
            f"Weight column '{weight}' of {dataset.name} must hold a number in every row. "
            f"Got {raw.iloc[row]!r} in row {row + 1} ({int(bad.sum())} such rows)."
        )
    negative = values < 0
    if negative.any():
        row = int(np.flatnonzero(negative.to_numpy())[0])
        raise InvalidInputError(
            f"Weight column '{weight}' of {dataset.name} must hold weights >= 0. "
            f"Got {values.iloc[row]} in row {row + 1}."
        )
    if not (values > 0).any():
        raise InvalidInputError(f"Weight column '{weight}' of {dataset.name} is 0 in every row.")
    frame = dataset.frame.reset_index(drop=True)
    frame[weight] = values.to_numpy(dtype=float)
    column = replace(dataset.schema[weight], role=Role.IDENTIFIER, note=WEIGHT_NOTE)
    return replace(dataset, frame=frame, schema=dataset.schema.replace(column))


def check_custom_metric(metric: str, task: str, y: pd.Series, weights: Any) -> None:
    """Narrow custom metric ``metric`` to ``task`` and try it once on ``y`` (a constant
    prediction), so a metric that fails or returns no number stops here, before any work.
    Built-in metrics pass untouched."""
    spec = get_metric(metric)
    if not spec.custom:
        return
    if spec.needs_proba and task == "regression":
        raise ConfigurationError(
            f"Metric {metric!r} needs probabilities, which a regression does not give. "
            "Drop needs_proba (--needs-proba) or train a classifier."
        )
    register_metric(replace(spec, tasks=frozenset({task})))
    truth = y.to_numpy()
    if task == "regression":
        kwargs: dict[str, Any] = {"y_pred": np.full(len(truth), float(np.mean(truth)))}
    else:
        classes, counts = np.unique(truth, return_counts=True)
        shares = counts / counts.sum()
        kwargs = {
            "y_pred": np.full(len(truth), classes[np.argmax(counts)], dtype=truth.dtype),
            "y_proba": np.tile(shares, (len(truth), 1)),
            "classes": classes,
        }
    # NaN on a constant prediction may be fine on real ones
    with contextlib.suppress(UndefinedMetricError):
        score(metric, truth, sample_weight=weights, **kwargs)
