"""infer_schema(): roles on synthetic columns and on the real datasets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelloop.data import Role, Schema, infer_schema, load
from modelloop.exceptions import ColumnNotFoundError, ConfigurationError, InvalidInputError


def _roles(frame: pd.DataFrame, **kw) -> dict[str, Role]:
    return {c.name: c.role for c in infer_schema(frame, **kw)}


def test_infer_schema_constant_and_all_missing():
    roles = _roles(pd.DataFrame({"k": ["a"] * 5, "m": [None] * 5, "x": [1.5, 2, 3, 4, 5]}))
    assert roles == {"k": Role.CONSTANT, "m": Role.CONSTANT, "x": Role.NUMERIC}


def test_infer_schema_one_value_else_missing_is_kept():
    schema = infer_schema(pd.DataFrame({"phone": ["yes", None, "yes", None, None]}))
    assert schema["phone"].role is Role.CATEGORICAL


@pytest.mark.parametrize(
    "values",
    [["yes", "no"], ["True", "false"], ["Y", "n"], ["t", "F"], [1, 0], [1.0, 0.0], [True, False]],
)
def test_infer_schema_boolean_pairs(values):
    schema = infer_schema(pd.DataFrame({"b": values * 5}))
    assert schema["b"].role is Role.BOOLEAN
    assert len(schema["b"].categories) == 2


def test_infer_schema_two_values_that_are_not_a_pair_are_categorical():
    assert _roles(pd.DataFrame({"sex": ["male", "female"] * 5}))["sex"] is Role.CATEGORICAL
    assert _roles(pd.DataFrame({"n": [1, 2] * 5}))["n"] is Role.NUMERIC


def test_infer_schema_numeric_text_and_categories():
    frame = pd.DataFrame({"n": ["1.5", "2", "?", "-3e2"] * 3, "c": ["a", "b", "c", "a"] * 3})
    schema = infer_schema(frame)
    assert schema["n"].role is Role.NUMERIC
    assert schema["n"].n_missing == 3
    assert schema["n"].dtype == "float64"
    assert schema["c"].categories == ("a", "b", "c")
    assert schema["c"].dtype == "object"


def test_infer_schema_many_categories_are_not_listed():
    schema = infer_schema(pd.DataFrame({"c": [f"v{i % 60}" for i in range(600)]}))
    assert schema["c"].role is Role.CATEGORICAL
    assert schema["c"].categories is None
    assert schema["c"].n_unique == 60


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["2020-01-05", "2021-12-31 10:00:00", "2019-06-01T08:30"], "ISO8601"),
        (["20-06-2020", "01-02-2019", "15-11-2018"], "%d-%m-%Y"),
        (["06/20/2020", "01/02/2019", "11/15/2018"], "%m/%d/%Y"),
        (["20.06.2020", "01.02.2019"], "%d.%m.%Y"),
    ],
)
def test_infer_schema_datetime_formats(values, fmt):
    schema = infer_schema(pd.DataFrame({"d": values * 4}))
    assert schema["d"].role is Role.DATETIME
    assert schema["d"].format == fmt
    assert schema["d"].dtype == "datetime64[ns]"


def test_infer_schema_numbers_are_never_dates():
    schema = infer_schema(pd.DataFrame({"d": ["20200614", "20200615", "20200701"] * 4}))
    assert schema["d"].role is Role.NUMERIC


def test_infer_schema_identifiers():
    n = 40
    frame = pd.DataFrame(
        {
            "row": np.arange(100, 100 + n),  # consecutive
            "user_id": np.repeat(np.arange(n // 2) * 97, 2),  # id-like name, 50% distinct
            "code": [f"AB{i:04d}X" for i in range(n)],  # distinct codes without spaces
            "measure": np.linspace(0.1, 99.9, n),  # distinct floats: a measurement
            "count": np.arange(n) * 13,  # distinct whole numbers, sparse, no id name
        }
    )
    roles = _roles(frame)
    assert roles["row"] is Role.IDENTIFIER
    assert roles["user_id"] is Role.IDENTIFIER
    assert roles["code"] is Role.IDENTIFIER
    assert roles["measure"] is Role.NUMERIC
    assert roles["count"] is Role.NUMERIC


@pytest.mark.parametrize("name", ["id", "Id", "PassengerId", "host_id", "userID", "key", "uuid"])
def test_infer_schema_id_like_names(name):
    schema = infer_schema(pd.DataFrame({name: np.arange(5) * 7}))
    assert schema[name].role is Role.IDENTIFIER


@pytest.mark.parametrize("name", ["paid", "valid", "monkey"])
def test_infer_schema_names_that_only_end_like_id(name):
    assert infer_schema(pd.DataFrame({name: np.arange(5) * 7}))[name].role is Role.NUMERIC


def test_infer_schema_free_text():
    words = ["red", "big", "old", "fast", "blue", "tiny", "car", "house"]
    texts = [f"{words[i % 8]} {words[(i * 3) % 8]} {words[(i * 5) % 7]} n{i}" for i in range(60)]
    assert _roles(pd.DataFrame({"t": texts}))["t"] is Role.TEXT


def test_infer_schema_target_is_never_identifier_text_or_constant():
    frame = pd.DataFrame({"y": np.arange(30), "k": ["only"] * 30, "x": np.ones(30)})
    schema = infer_schema(frame, target="y")
    assert schema.target == "y"
    assert schema["y"].role is Role.NUMERIC
    schema = infer_schema(frame, target="k")
    assert schema["k"].role is Role.CATEGORICAL
    assert "k" not in schema.feature_columns()


def test_infer_schema_types_override():
    frame = pd.DataFrame({"zip": ["01234", "02345", "01234"], "x": [1, 2, 3]})
    schema = infer_schema(frame, types={"zip": "categorical", "x": Role.CATEGORICAL})
    assert schema["zip"].role is Role.CATEGORICAL
    assert schema["zip"].categories == ("01234", "02345")
    assert schema["x"].categories == ("1", "2", "3")


def test_infer_schema_types_errors():
    frame = pd.DataFrame({"a": [1, 2, 3]})
    with pytest.raises(ColumnNotFoundError, match="Column 'b' is not in data"):
        infer_schema(frame, types={"b": "numeric"})
    with pytest.raises(ConfigurationError, match="Valid roles: numeric, categorical, boolean"):
        infer_schema(frame, types={"a": "float"})
    with pytest.raises(InvalidInputError, match="cannot be boolean: it has 3 distinct values"):
        infer_schema(frame, types={"a": "boolean"})


def test_infer_schema_roundtrips_through_dict():
    frame = pd.DataFrame({"d": ["20-06-2020", "01-02-2019"] * 3, "c": ["a", "b", "a"] * 2})
    schema = infer_schema(frame, target="c")
    assert Schema.from_dict(schema.to_dict()) == schema


# --- the real datasets --------------------------------------------------------------------


def test_infer_schema_titanic(shared_datasets):
    schema = load(shared_datasets / "titanic.csv", target="Survived").schema
    assert schema["PassengerId"].role is Role.IDENTIFIER
    assert "891 values distinct" in schema["PassengerId"].note
    assert schema["Name"].role is Role.TEXT
    assert schema["Sex"].role in (Role.CATEGORICAL, Role.BOOLEAN)
    assert schema["Age"].role is Role.NUMERIC and schema["Age"].n_missing == 177
    assert schema["Cabin"].role is Role.CATEGORICAL and schema["Cabin"].n_missing == 687
    assert schema["Survived"].role is Role.CATEGORICAL  # the target keeps its labels
    assert schema["Survived"].categories == ("0", "1")
    assert "PassengerId" not in schema.feature_columns()


def test_infer_schema_auto_mpg(shared_datasets):
    schema = load(shared_datasets / "auto_mpg.csv", target="mpg").schema
    assert schema["horsepower"].role is Role.NUMERIC
    assert schema["horsepower"].n_missing == 6
    # "chevrolet chevelle malibu": short names (2.6 words on average) are a high-cardinality
    # category, not free text; free text averages at least 3 words (titanic Name: 4.1).
    assert schema["car name"].role is Role.CATEGORICAL


def test_infer_schema_airbnb(shared_datasets):
    ds = load(shared_datasets / "airbnb_amsterdam.csv", target="price")
    schema = ds.schema
    assert schema["last_review"].role is Role.DATETIME
    assert schema["last_review"].format == "%d-%m-%Y"
    assert ds.frame["last_review"].max() == pd.Timestamp("2020-06-10")
    assert schema["neighbourhood_group"].role is Role.CONSTANT
    assert schema["id"].role is Role.IDENTIFIER
    assert schema["host_id"].role is Role.IDENTIFIER
    assert schema["name"].role is Role.TEXT
    assert schema["price"].role is Role.NUMERIC


def test_infer_schema_ames_and_wine(shared_datasets):
    schema = load(shared_datasets / "ames_house_prices.csv", target="SalePrice").schema
    assert schema["Id"].role is Role.IDENTIFIER
    assert schema["SalePrice"].role is Role.NUMERIC
    wine = load(shared_datasets / "wine_quality_red.csv", target="quality").schema
    assert {c.role for c in wine} == {Role.NUMERIC}


def test_infer_schema_small_shuffled_run_is_not_an_identifier():
    ages = [20 + (i * 7) % 30 for i in range(30)]  # 30 distinct ages 20..49, not sorted
    assert infer_schema(pd.DataFrame({"age": ages}))["age"].role is Role.NUMERIC
    assert infer_schema(pd.DataFrame({"age": sorted(ages)}))["age"].role is Role.IDENTIFIER


def test_a_column_of_numbers_and_some_text_is_never_read_silently() -> None:
    """The three cases the README's Errors section lists, each said in one line."""
    import pandas as pd
    import pytest

    from modelloop.data import load
    from modelloop.exceptions import InvalidInputError

    y = [0, 1] * 50
    stray = pd.DataFrame({"x": [str(i) for i in range(99)] + ["abc"], "y": y})
    col = load(stray, target="y").schema["x"]
    assert col.role.value == "numeric" and "'abc' treated as missing" in col.note
    few_words = pd.DataFrame({"x": ["1", "2", "abc"] * 33 + ["5"], "y": y})
    col = load(few_words, target="y").schema["x"]
    assert col.role.value == "categorical"
    assert "67% of its values are numbers" in col.note and "--types x=numeric" in col.note
    words = pd.DataFrame({"x": ["1", "2", "abc", "de", "fgh"] * 20, "y": y})
    with pytest.raises(InvalidInputError, match=r"Column 'x' of .* mixes numbers and text"):
        load(words, target="y")
