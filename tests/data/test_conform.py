"""conform(): raw rows -> the typed frame a schema describes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelloop.data import ColumnSchema, Role, Schema, conform, infer_schema, load
from modelloop.exceptions import ConfigurationError, InvalidInputError, SchemaMismatchError


@pytest.fixture
def schema() -> Schema:
    train = pd.DataFrame(
        {
            "id": np.arange(1, 31),
            "age": [str(20 + (i * 7) % 13) for i in range(30)],
            "smoker": ["yes", "no"] * 15,
            "since": ["20-06-2020", "01-02-2019", "15-11-2018"] * 10,
            "size": [1, 2, 3] * 10,
            "y": [0.5 * i for i in range(30)],
        }
    )
    return infer_schema(train, target="y", types={"size": "categorical"})


def test_conform_types_every_role(schema):
    raw = pd.DataFrame(
        {
            "since": ["03-04-2021", ""],
            "age": ["41", "NA"],
            "smoker": ["Yes", None],
            "size": [3.0, 2],
            "id": [7, 8],
        },
        index=[5, 9],
    )
    out = conform(raw, schema)
    assert out.columns.tolist() == ["id", "age", "smoker", "since", "size"]
    assert out.index.tolist() == [0, 1]
    assert out["age"].dtype == "float64" and np.isnan(out["age"].iloc[1])
    assert out["smoker"].tolist()[0] == 1.0 and np.isnan(out["smoker"].iloc[1])
    assert out["since"].dtype == "datetime64[ns]"
    assert out["since"].iloc[0] == pd.Timestamp("2021-04-03")
    assert out["since"].isna().iloc[1]
    assert out["size"].dtype == object and out["size"].tolist() == ["3", "2"]
    assert out["id"].dtype == "int64"


def test_conform_categorical_text_of_whole_numbers(schema):
    out = conform(
        pd.DataFrame({"age": [1], "smoker": ["no"], "since": [None], "size": ["3.0"]}), schema
    )
    assert out["size"].tolist() == ["3"]


def test_conform_missing_categorical_is_nan(schema):
    out = conform(
        pd.DataFrame({"age": [1], "smoker": ["no"], "since": [None], "size": ["?"]}), schema
    )
    assert out["size"].dtype == object
    assert out["size"].isna().all()


def test_conform_strict_numeric_error_names_row(schema):
    ages = [str(i) for i in range(20)]
    ages[16] = "forty"
    raw = pd.DataFrame({"age": ages, "smoker": "no", "since": None, "size": "1"})
    with pytest.raises(
        InvalidInputError,
        match=r"Column 'age' of new\.csv must be numeric\. Got 'forty' in row 17\.",
    ):
        conform(raw, schema, source="new.csv")
    out = conform(raw, schema, source="new.csv", strict=False)
    assert np.isnan(out["age"].iloc[16]) and out["age"].iloc[15] == 15.0


def test_conform_strict_boolean_and_datetime_errors(schema):
    raw = pd.DataFrame({"age": [1, 2], "smoker": ["yes", "maybe"], "since": None, "size": "1"})
    with pytest.raises(
        InvalidInputError,
        match=r"Column 'smoker' of data must be 'no' or 'yes'\. Got 'maybe' in row 2",
    ):
        conform(raw, schema)
    raw = pd.DataFrame({"age": [1], "smoker": ["yes"], "since": ["2020-31-31"], "size": "1"})
    with pytest.raises(
        InvalidInputError,
        match=r"Column 'since' of data must be a date like %d-%m-%Y\. Got '2020-31-31' in row 1",
    ):
        conform(raw, schema)
    assert conform(raw, schema, strict=False)["since"].isna().all()


def test_conform_boolean_accepts_other_true_false_tokens(schema):
    raw = pd.DataFrame({"age": [1, 2, 3], "smoker": [True, False, "1"], "since": None, "size": "1"})
    assert conform(raw, schema)["smoker"].tolist() == [1.0, 0.0, 1.0]


def test_conform_require(schema):
    with pytest.raises(
        SchemaMismatchError,
        match=r"req\.json lacks column\(s\) 'age', 'since' that the model needs\.",
    ):
        conform(pd.DataFrame({"smoker": ["no"], "size": [1]}), schema, source="req.json")
    out = conform(pd.DataFrame({"smoker": ["no"]}), schema, require=False)
    assert out.columns.tolist() == ["smoker"]


def test_conform_identifier_and_target_are_never_required_or_extra(schema):
    raw = pd.DataFrame({"age": [1], "smoker": ["no"], "since": [None], "size": [1]})
    assert conform(raw, schema, extra="error").columns.tolist() == [
        "age",
        "smoker",
        "since",
        "size",
    ]
    raw["y"] = [2.5]
    assert conform(raw, schema, extra="error")["y"].tolist() == [2.5]


def test_conform_extra_columns(schema):
    raw = pd.DataFrame({"foo": ["?"], "age": [1], "smoker": ["no"], "since": [None], "size": [1]})
    assert "foo" not in conform(raw, schema).columns
    kept = conform(raw, schema, extra="keep")
    assert kept.columns.tolist()[-1] == "foo" and kept["foo"].tolist() == ["?"]
    with pytest.raises(
        SchemaMismatchError, match=r"has column\(s\) 'foo' that the model does not know"
    ):
        conform(raw, schema, extra="error")
    with pytest.raises(ConfigurationError, match="extra must be"):
        conform(raw, schema, extra="drop")  # type: ignore[arg-type]


def test_conform_long_lacking_list_is_truncated():
    cols = tuple(ColumnSchema(f"c{i}", Role.NUMERIC, "float64") for i in range(15))
    with pytest.raises(SchemaMismatchError, match="'c9' and 5 more that the model needs"):
        conform(pd.DataFrame({"x": [1]}), Schema(cols))


def test_conform_single_row_matches_batch(shared_datasets):
    ds = load(shared_datasets / "titanic.csv", target="Survived")
    raw = pd.read_csv(shared_datasets / "titanic.csv", dtype=str, keep_default_na=False)
    whole = conform(raw, ds.schema, strict=False)
    pd.testing.assert_frame_equal(whole, ds.frame)
    for i in (0, 5, 888):
        one = conform(raw.iloc[[i]], ds.schema, strict=False)
        pd.testing.assert_frame_equal(
            one, ds.frame.iloc[[i]].reset_index(drop=True), check_dtype=False
        )


def test_conform_typed_input_equals_text_input():
    schema = infer_schema(pd.DataFrame({"n": ["1", "2.5", "3"], "c": ["a", "b", "a"]}))
    typed = conform(pd.DataFrame({"n": [1, 2.5, None], "c": ["a", "b", None]}), schema)
    text = conform(pd.DataFrame({"n": ["1", "2.5", " "], "c": ["a", "b", "NA"]}), schema)
    pd.testing.assert_frame_equal(typed, text)


def test_conform_is_idempotent(shared_datasets):
    for name, target in (("titanic.csv", "Survived"), ("airbnb_amsterdam.csv", "price")):
        ds = load(shared_datasets / name, target=target)
        pd.testing.assert_frame_equal(conform(ds.frame, ds.schema), ds.frame)


def test_conform_is_idempotent_for_a_forced_boolean():
    ds = load(pd.DataFrame({"sex": ["male", "female", "male"]}), types={"sex": "boolean"})
    assert ds.frame["sex"].tolist() == [1.0, 0.0, 1.0]
    pd.testing.assert_frame_equal(conform(ds.frame, ds.schema), ds.frame)
