"""json_value: the one conversion to JSON data (store, reports, profiles, spools)."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from modelloop.data import json_value
from modelloop.exceptions import InvalidInputError


def test_json_value_turns_every_missing_marker_into_none() -> None:
    missing = [None, float("nan"), np.float32("nan"), float("inf"), pd.NaT, pd.NA,
               np.datetime64("NaT"), np.array([np.nan])[0]]  # fmt: skip
    assert json_value(missing) == [None] * len(missing)


def test_json_value_makes_numpy_pandas_and_dates_plain() -> None:
    value = {
        np.int64(3): np.arange(3),
        "t": pd.Timestamp("2024-05-01 12:00"),
        "d": date(2024, 5, 1),
        "dt64": np.datetime64("2024-05-01T00:00:00"),
        "flags": (np.bool_(True), False),
        "cat": pd.array(["a", None], dtype="string"),
    }
    out = json_value(value, "x")
    assert out == {
        "3": [0, 1, 2],
        "t": "2024-05-01T12:00:00",
        "d": "2024-05-01",
        "dt64": "2024-05-01T00:00:00",
        "flags": [True, False],
        "cat": ["a", None],
    }
    assert json.loads(json.dumps(out, allow_nan=False)) == out


def test_json_value_refuses_what_json_cannot_hold_or_names_it() -> None:
    with pytest.raises(InvalidInputError, match="'params' must hold JSON data"):
        json_value({"f": object()}, "params")
    with pytest.raises(InvalidInputError, match="Keys of 'params' must be strings"):
        json_value({(1, 2): 3}, "params")
    assert json_value({(1, 2): {1j}}, unknown="repr") == {"(1, 2)": "{1j}"}
    kept = object()
    assert json_value([kept], unknown="keep") == [kept]
