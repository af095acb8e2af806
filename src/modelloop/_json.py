"""The one conversion of Python, numpy and pandas values into plain JSON data.

A module of its own, outside the ``data`` package, so that the store (and with it every
read-only command) can use it without importing pandas: a pandas value can only reach it
once pandas is imported, so pandas is looked up in ``sys.modules``, never imported here.
``modelloop.data.json_value`` is the same function.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

import numpy as np

from modelloop.exceptions import InvalidInputError

__all__ = ["json_value"]


def json_value(
    value: Any, field: str = "value", *, unknown: Literal["raise", "repr", "keep"] = "raise"
) -> Any:
    """``value`` as plain JSON data, the same on every backend and in every file.

    - ``None``, ``str``, ``bool``, ``int`` stay as they are; a float too, unless it is NaN
      or infinite: then ``None`` (PostgreSQL's JSON and strict parsers reject them);
    - missing markers (``pd.NaT``, ``pd.NA``, ``np.datetime64('NaT')``) become ``None``;
    - numpy scalars and arrays, pandas arrays become Python numbers and lists;
    - dates and timestamps become ISO strings;
    - a mapping becomes a dict with string keys, a list or tuple a list.

    Anything else raises :class:`~modelloop.exceptions.InvalidInputError` naming ``field``
    (``unknown="raise"``), becomes its ``repr`` (``"repr"``), or is left as it is
    (``"keep"``, for a caller whose serialiser knows more types); with either, a key of
    any type becomes its ``str``.

    Examples
    --------
    >>> import pandas as pd
    >>> json_value({"auc": float("nan"), "folds": (1, 2), 3: np.int64(4)}, "metrics")
    {'auc': None, 'folds': [1, 2], '3': 4}
    >>> json_value([pd.NaT, pd.Timestamp("2024-05-01"), np.float32(0.5), pd.NA])
    [None, '2024-05-01T00:00:00', 0.5, None]
    >>> json_value(object(), "params")
    Traceback (most recent call last):
    ...
    modelloop.exceptions.InvalidInputError: 'params' must hold JSON data ...
    """
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    pd = sys.modules.get("pandas")
    if pd is not None and (value is pd.NaT or value is pd.NA):  # NaT is a datetime: first
        return None
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if unknown == "raise" and not isinstance(key, str | int | float | bool | np.generic):
                raise InvalidInputError(
                    f"Keys of '{field}' must be strings to be stored as JSON. Got key "
                    f"{key!r} of type {type(key).__name__}."
                )
            key = key.item() if isinstance(key, np.generic) else key
            out[str(key)] = json_value(item, field, unknown=unknown)
        return out
    if isinstance(value, list | tuple):
        return [json_value(item, field, unknown=unknown) for item in value]
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        import pandas  # a timestamp's text as pandas writes it

        return pandas.Timestamp(value).isoformat()
    if isinstance(value, datetime | date):
        return value.isoformat()
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays, pandas arrays
    if callable(tolist) and type(value).__module__.split(".")[0] in {"numpy", "pandas"}:
        return json_value(tolist(), field, unknown=unknown)
    if unknown == "repr":
        return repr(value)
    if unknown == "keep":
        return value
    raise InvalidInputError(
        f"'{field}' must hold JSON data (str, int, float, bool, None, lists and dicts). "
        f"Got a value of type {type(value).__module__}.{type(value).__qualname__}: "
        f"{value!r:.80}."
    )
