"""encode(): typing only the distinct values gives what conforming every row gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelloop.data import ColumnSchema, Role, Schema, conform
from modelloop.monitoring._encode import as_numeric, encode

COLUMNS = (
    ColumnSchema("num", Role.NUMERIC, "float64"),
    ColumnSchema("num_text", Role.NUMERIC, "float64"),
    ColumnSchema("cat", Role.CATEGORICAL, "object", categories=("a", "b")),
    ColumnSchema("cat2", Role.CATEGORICAL, "object", categories=("a", "b")),
    ColumnSchema("code", Role.CATEGORICAL, "object", categories=("1", "2")),
    ColumnSchema("flag", Role.BOOLEAN, "float64", categories=("no", "yes")),
    ColumnSchema("when", Role.DATETIME, "datetime64[ns]"),
    ColumnSchema("note", Role.TEXT, "object"),
    ColumnSchema("absent", Role.CATEGORICAL, "object"),
)
SCHEMA = Schema(COLUMNS)


def _raw(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "num": rng.integers(0, 50, n),
            "num_text": rng.choice(["1.5", " 2", "?", "3e2", "x"], n),
            "cat": rng.choice(["a", " b", "NA", "", "c "], n),
            "cat2": rng.choice(["a", "b", "b "], n),
            "code": rng.choice(["1", "2.0", "2", None], n),
            "flag": rng.choice(["yes", "No", "YES", "maybe", None], n),
            "when": rng.choice(["2024-01-02", "2024-03-04 10:00", "", "not a date"], n),
            "note": rng.choice(["short", "a longer note", " "], n),
        }
    ).astype({c: "str" for c in ("num_text", "cat", "cat2", "code", "flag", "when", "note")})


def _expected(frame: pd.DataFrame, col: ColumnSchema) -> list:
    """Per-row conform, then the value the tests see (number, or category label)."""
    typed = conform(frame, SCHEMA, require=False, strict=False)
    if col.name not in typed.columns:
        return [None] * len(frame)
    s = typed[col.name]
    if col.role in (Role.NUMERIC, Role.DATETIME, Role.TEXT):
        return [None if np.isnan(v) else float(v) for v in as_numeric(s, col.role)]
    return [None if pd.isna(v) else str(v) for v in s]


def _seen(values: np.ndarray, labels: np.ndarray | None) -> list:
    if labels is None:
        return [None if np.isnan(v) else float(v) for v in values]
    return [None if c < 0 else labels[c] for c in values]


@pytest.mark.parametrize("typed_current", [False, True])
def test_encode_equals_conforming_every_row(typed_current):
    ref, cur = _raw(400, 0), _raw(300, 1)
    if typed_current:  # already typed input (object / float / datetime dtypes) gives the same
        cur = conform(cur, SCHEMA, require=False, strict=False)
    for enc in encode(COLUMNS, ref, cur):
        col = SCHEMA[enc.name]
        assert _seen(enc.reference, enc.labels) == _expected(ref, col), enc.name
        assert _seen(enc.current, enc.labels) == _expected(cur, col), enc.name


def test_encode_shares_one_label_list_between_windows():
    ref = pd.DataFrame({"cat": ["a", "b", "b"]})
    cur = pd.DataFrame({"cat": pd.Series(["b", "z", None], dtype=object)})
    (enc,) = encode([COLUMNS[2]], ref, cur)
    assert enc.labels.tolist() == ["a", "b", "z"]
    assert enc.reference.tolist() == [0, 1, 1] and enc.current.tolist() == [1, 2, -1]
