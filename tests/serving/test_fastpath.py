"""The fast path builds exactly the frame the pipeline's SchemaEnforcer builds."""

from __future__ import annotations

import json

import pandas as pd
from pandas.testing import assert_frame_equal

from modelloop.data import ColumnSchema, Role, Schema, infer_schema
from modelloop.features import SchemaEnforcer
from modelloop.serving._fastpath import FrameBuilder
from modelloop.serving._schemas import RowParser


def _both(schema: Schema, records: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    enforcer = SchemaEnforcer(schema.to_dict()).fit(pd.DataFrame.from_records(records))
    rows = RowParser(schema, "t").validate(records)
    return FrameBuilder(enforcer.schema_).build(rows), enforcer.transform(records)


def test_fastpath_equals_enforcer_on_titanic_rows(titanic_frame) -> None:
    frame = titanic_frame.drop(columns=["Survived"])
    schema = infer_schema(titanic_frame, target="Survived")
    records = json.loads(frame.head(60).to_json(orient="records"))
    fast, slow = _both(schema, records)
    assert_frame_equal(fast, slow)


def test_fastpath_equals_enforcer_on_awkward_values() -> None:
    schema = Schema(
        (
            ColumnSchema("n", Role.NUMERIC, "float64"),
            ColumnSchema("grade", Role.CATEGORICAL, "object", categories=("1", "2", "3")),
            ColumnSchema("city", Role.CATEGORICAL, "object", categories=("Oslo", "Rome")),
            ColumnSchema("member", Role.BOOLEAN, "object", categories=("no", "yes")),
            ColumnSchema("day", Role.DATETIME, "datetime64[ns]", format="ISO8601"),
        )
    )
    records = [
        {"n": "4.5", "grade": 2, "city": " Oslo ", "member": "yes", "day": "2024-01-02"},
        {"n": None, "grade": "3.0", "city": "NA", "member": "no", "day": None},
        {"n": 7, "grade": None, "city": "Paris", "member": None, "day": "2024-03-04T05:06:07"},
    ]
    fast, slow = _both(schema, records)
    assert_frame_equal(fast, slow)
