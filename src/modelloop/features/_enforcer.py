"""The first step of every pipeline: raw rows in, the typed frame the model was fit on out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from modelloop.data import Schema, conform
from modelloop.exceptions import ConfigurationError, SchemaMismatchError

__all__ = ["SchemaEnforcer"]


class SchemaEnforcer(TransformerMixin, BaseEstimator):
    """Conform any input to the model's input schema.

    Placed first in a Pipeline, it lets the fitted model take raw rows: a DataFrame of
    strings read from a CSV, typed frames, JSON records (a dict or a list of dicts), or a
    2-D array / list of rows in the order of the schema's feature columns. Every input goes
    through :func:`modelloop.data.conform`, which types the columns and raises
    :class:`~modelloop.exceptions.SchemaMismatchError` on missing columns or bad values.
    Extra columns are ignored. The output is a DataFrame with exactly the feature columns,
    in schema order.

    Parameters
    ----------
    schema : dict
        ``Schema.to_dict()`` of the model input. Kept as a plain dict so the fitted
        pipeline serialises with skops; a :class:`~modelloop.data.Schema` is accepted too.
    source : str, default="input"
        How error messages name the data ("Column 'age' of input must be numeric ...").

    Attributes
    ----------
    schema_ : Schema
        The feature columns of ``schema`` (target and dropped columns removed).
    feature_names_in_ : ndarray of str
        Feature columns in order.

    Examples
    --------
    >>> from modelloop.data import ColumnSchema, Role, Schema
    >>> s = Schema((ColumnSchema("age", Role.NUMERIC, "float64"),))
    >>> enforcer = SchemaEnforcer(s.to_dict())  # doctest: +SKIP
    >>> enforcer.fit_transform([["41"], ["n/a"]])  # doctest: +SKIP
        age
    0  41.0
    1   NaN
    """

    def __init__(self, schema: dict[str, Any] | None = None, source: str = "input") -> None:
        self.schema = schema
        self.source = source

    def fit(self, X: Any, y: Any = None) -> SchemaEnforcer:
        self._fit_schema()
        self._conform(X)  # fail at fit time on data the model could never take
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> pd.DataFrame:
        self._fit_schema()
        return self._conform(X)

    def transform(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "schema_")
        return self._conform(X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "schema_")
        return self.feature_names_in_.copy()

    def _fit_schema(self) -> None:
        if isinstance(self.schema, Schema):
            schema = self.schema
        elif isinstance(self.schema, Mapping):
            try:
                schema = Schema.from_dict(dict(self.schema))
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigurationError(
                    "SchemaEnforcer needs schema=Schema.to_dict(). The dict given is not a "
                    f"schema: {exc!r}."
                ) from None
        else:
            raise ConfigurationError(
                "SchemaEnforcer needs schema=Schema.to_dict() of the model input. "
                f"Got {type(self.schema).__name__}."
            )
        schema = schema.features()
        if not schema.columns:
            raise ConfigurationError("SchemaEnforcer needs a schema with at least one feature.")
        self.schema_ = schema
        self.feature_names_in_ = np.asarray(schema.names, dtype=object)
        self.n_features_in_ = len(schema.names)

    def _conform(self, X: Any) -> pd.DataFrame:
        frame = _as_frame(X, list(self.feature_names_in_), self.source)
        out = conform(
            frame, self.schema_, source=self.source, require=True, extra="ignore", strict=True
        )
        return out[list(self.feature_names_in_)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # a missing value is conformed, not refused
        tags.input_tags.string = True  # CSV rows arrive as strings
        tags.input_tags.categorical = True
        tags.transformer_tags.preserves_dtype = []  # the output has the schema's types
        return tags

    # skops restores objects through __setstate__ and should see only plain values: keep
    # the schema as a dict in the file and rebuild the Schema object on load.
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        if isinstance(state.get("schema_"), Schema):
            state = {**state, "schema_": state["schema_"].to_dict()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("schema_"), Mapping):
            state = {**state, "schema_": Schema.from_dict(dict(state["schema_"]))}
        super().__setstate__(state)


def _as_frame(X: Any, names: list[str], source: str) -> pd.DataFrame:
    """Any supported input shape as a DataFrame with named columns."""
    if sparse.issparse(X):  # before Mapping: a DOK matrix is a dict
        raise SchemaMismatchError(
            f"Rows of {source} must be a DataFrame, records or a 2-D array with columns "
            f"{names}. Got a sparse matrix: sparse input is not supported."
        )
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, pd.Series):  # one row, indexed by column name (df.iloc[i])
        return X.to_frame().T
    if isinstance(X, Mapping):  # one JSON record, or a dict of columns
        values = list(X.values())
        if values and all(np.ndim(v) == 0 for v in values):
            return pd.DataFrame([dict(X)])
        return pd.DataFrame(dict(X))
    if isinstance(X, Sequence) and not isinstance(X, str) and X and isinstance(X[0], Mapping):
        return pd.DataFrame.from_records(list(X))
    arr = np.asarray(X, dtype=object)
    if arr.ndim != 2:
        raise SchemaMismatchError(
            f"Rows of {source} must be a DataFrame, records or a 2-D array with columns "
            f"{names}. Got an array of shape {arr.shape}."
        )
    if arr.shape[1] != len(names):
        raise SchemaMismatchError(
            f"Rows of {source} must have {len(names)} values, in the order {names}. "
            f"Got {arr.shape[1]} values per row."
        )
    return pd.DataFrame(arr, columns=names)
