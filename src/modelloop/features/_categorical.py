"""Missing values as a category of their own."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["MISSING_CATEGORY", "MissingCategory"]

MISSING_CATEGORY = "__missing__"


class MissingCategory(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Turn categorical values into strings and missing values into ``fill_value``.

    Missing is often meaningful in tabular data (Ames' ``Alley`` is missing when a house
    has no alley), so it becomes a category the encoder after this step can learn from.
    Unlike ``SimpleImputer(strategy="constant")`` this accepts every missing marker pandas
    knows (``None``, ``NaN``, ``pd.NA``, ``NaT``) and values of any type.

    Parameters
    ----------
    fill_value : str, default="__missing__"
        The category that stands for a missing value.

    Examples
    --------
    >>> import pandas as pd
    >>> MissingCategory().fit_transform(pd.DataFrame({"c": ["a", None, pd.NA]})).ravel()
    array(['a', '__missing__', '__missing__'], dtype=object)
    """

    def __init__(self, fill_value: str = MISSING_CATEGORY) -> None:
        self.fill_value = fill_value

    def fit(self, X: Any, y: Any = None) -> MissingCategory:
        if _is_frame(X):  # keep the frame: check_array would turn pd.NA into errors
            validate_data(self, X, skip_check_array=True, reset=True)
        else:
            validate_data(self, X, dtype=None, ensure_all_finite=False, reset=True)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        if _is_frame(X):
            validate_data(self, X, skip_check_array=True, reset=False)
            frame = X
        else:
            if not hasattr(X, "dtype"):  # rows as lists: keep None (numpy would write 'None')
                X = np.asarray(X, dtype=object)
            arr = validate_data(self, X, dtype=None, ensure_all_finite=False, reset=False)
            frame = pd.DataFrame(arr)
        mask = frame.isna().to_numpy()
        values = frame.astype(object).to_numpy(dtype=object)
        out = np.empty(values.shape, dtype=object)
        out[mask] = self.fill_value
        out[~mask] = [str(v) for v in values[~mask]]
        return out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.transformer_tags.preserves_dtype = []  # str categories out, whatever came in
        return tags


def _is_frame(X: Any) -> bool:
    return isinstance(X, pd.DataFrame)
