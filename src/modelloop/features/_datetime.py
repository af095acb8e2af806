"""Calendar features from datetime columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["DatetimeFeatures"]

_NS_PER_DAY = 86_400 * 10**9
_PARTS = ("year", "month", "day", "day_of_week")


class DatetimeFeatures(TransformerMixin, BaseEstimator):
    """Expand each datetime column into calendar parts and elapsed days.

    For every input column the output holds, in order: ``year``, ``month``, ``day``,
    ``day_of_week`` (Monday=0), ``hour`` (only when some value seen in ``fit`` has a time of
    day), and ``days`` (days since 1970-01-01 as a float, keeping trends over time).
    Missing values (``NaT``) give ``NaN`` in every part; impute afterwards.

    Input columns may be ``datetime64`` (time-zone aware ones are converted to UTC),
    strings (parsed, unparseable ones become ``NaT``) or numbers (read as nanoseconds since
    the epoch, the way numpy stores ``datetime64[ns]``).

    Attributes
    ----------
    has_time_ : ndarray of bool, shape (n_features_in_,)
        Whether each column had a time of day in ``fit`` (and so gets an ``hour`` part).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"t": pd.to_datetime(["2024-03-01", None])})
    >>> DatetimeFeatures().fit_transform(X).tolist()
    [[2024.0, 3.0, 1.0, 4.0, 19783.0], [nan, nan, nan, nan, nan]]
    """

    def fit(self, X: Any, y: Any = None) -> DatetimeFeatures:
        columns = self._columns(X, reset=True)
        has_time = []
        for values in columns:
            ns = values.view("int64")[~np.isnat(values)]
            has_time.append(bool((ns % _NS_PER_DAY != 0).any()))
        self.has_time_ = np.array(has_time, dtype=bool)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "has_time_")
        blocks = []
        for values, has_time in zip(self._columns(X, reset=False), self.has_time_, strict=True):
            index = pd.DatetimeIndex(values)
            parts = [getattr(index, name) for name in _PARTS]
            if has_time:
                parts.append(index.hour)
            missing = np.isnat(values)
            days = values.view("int64") / _NS_PER_DAY
            days[missing] = np.nan
            block = np.column_stack([np.asarray(p, dtype=np.float64) for p in parts] + [days])
            block[missing] = np.nan
            blocks.append(block)
        if not blocks:
            return np.empty((len(X), 0))
        return np.hstack(blocks)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "has_time_")
        if input_features is None:
            input_features = getattr(
                self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)]
            )
        if len(input_features) != self.n_features_in_:
            raise ValueError(
                f"input_features should have length {self.n_features_in_}. "
                f"Got {len(input_features)}."
            )
        names: list[str] = []
        for col, has_time in zip(input_features, self.has_time_, strict=True):
            parts = [*_PARTS, "hour"] if has_time else list(_PARTS)
            names.extend(f"{col}_{p}" for p in [*parts, "days"])
        return np.asarray(names, dtype=object)

    def _columns(self, X: Any, *, reset: bool) -> list[np.ndarray]:
        """Each column of X as a ``datetime64[ns]`` array, after the usual sklearn checks."""
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, skip_check_array=True, reset=reset)
            if X.shape[0] == 0:
                raise ValueError(
                    f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is "
                    "required."
                )
            return [_to_datetime64(X.iloc[:, i]) for i in range(X.shape[1])]
        arr = validate_data(self, X, dtype=None, ensure_all_finite=False, reset=reset)
        return [_to_datetime64(pd.Series(arr[:, i])) for i in range(arr.shape[1])]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def _to_datetime64(col: pd.Series) -> np.ndarray:
    """A column as naive UTC ``datetime64[ns]``; anything unreadable becomes ``NaT``."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        col = col.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        numbers = pd.to_numeric(col, errors="coerce").astype("float64").to_numpy()
        inside = np.isfinite(numbers) & (np.abs(numbers) < 9.2e18)  # int64 range
        ns = np.zeros(len(numbers), dtype="int64")
        ns[inside] = numbers[inside].astype("int64")
        out = ns.view("datetime64[ns]").copy()
        out[~inside] = np.datetime64("NaT")
        return out
    elif not pd.api.types.is_datetime64_dtype(col.dtype):
        col = pd.to_datetime(col, errors="coerce", format="mixed", utc=True).dt.tz_localize(None)
    return col.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT"))
