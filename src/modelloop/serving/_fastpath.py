"""The fast path: validated request rows straight to the typed frame a pipeline's model takes.

A modelloop pipeline starts with a ``SchemaEnforcer`` that conforms raw rows with pandas;
for a one-row request that costs more than the model itself. Rows that passed the request
schema are already typed, so :class:`FrameBuilder` builds the conformed frame with plain
Python and numpy (numeric and categorical columns), leaves only boolean and date columns to
:func:`modelloop.data.conform`'s column function, and the pipeline runs from its second step.
The result equals the enforcer's output (a test checks it on real rows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelloop.data import MISSING_MARKERS, Role, Schema
from modelloop.data._conform import conform_column

__all__ = ["FrameBuilder"]

_INT_FLOAT = re.compile(r"^(-?\d+)\.0+$")


def _text_value(value: Any, int_categories: bool) -> Any:
    if value is None:
        return np.nan
    if isinstance(value, bool):
        text = "True" if value else "False"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value).strip()
    if text in MISSING_MARKERS:
        return np.nan
    if int_categories:
        m = _INT_FLOAT.match(text)
        if m:
            return m.group(1)
    return text


class FrameBuilder:
    """Builds the frame ``SchemaEnforcer.transform`` would return, from validated rows.

    Examples
    --------
    >>> from modelloop.data import ColumnSchema, Role, Schema
    >>> s = Schema((ColumnSchema("age", Role.NUMERIC, "float64"),
    ...             ColumnSchema("city", Role.CATEGORICAL, "object")))
    >>> FrameBuilder(s).build([{"age": 41.0, "city": " Oslo"}]).values.tolist()
    [[41.0, 'Oslo']]
    """

    def __init__(self, schema: Schema, source: str = "the request") -> None:
        self.schema = schema.features()
        self.columns = self.schema.columns
        self.source = source
        self._int_categories = {
            c.name: bool(c.categories) and all(x.lstrip("-").isdigit() for x in c.categories or ())
            for c in self.columns
        }

    def build(self, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        data: dict[str, Any] = {}
        index = pd.RangeIndex(len(rows))
        for col in self.columns:
            name = col.name
            values = [r.get(name) for r in rows]
            if col.role is Role.NUMERIC:
                data[name] = np.array([np.nan if v is None else v for v in values], dtype="float64")
            elif col.role in (Role.CATEGORICAL, Role.TEXT):
                ints = self._int_categories[name]
                arr = np.empty(len(values), dtype=object)
                arr[:] = [_text_value(v, ints) for v in values]
                # a Series keeps object dtype (pandas 3 would infer its "str" dtype)
                data[name] = pd.Series(arr, dtype=object, index=index, copy=False)
            else:  # boolean, datetime: the same column function conform() uses
                raw = pd.Series(values, dtype=object, name=name)
                data[name] = conform_column(raw, col, source=self.source, strict=True).to_numpy()
        return pd.DataFrame(data, index=index)
