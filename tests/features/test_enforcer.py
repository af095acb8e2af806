from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from modelloop.data import ColumnSchema, Role, Schema
from modelloop.exceptions import ConfigurationError, InvalidInputError, SchemaMismatchError
from modelloop.features import FAMILIES, SchemaEnforcer, make_pipeline

SMALL = Schema(
    (
        ColumnSchema("age", Role.NUMERIC, "float64"),
        ColumnSchema("member", Role.BOOLEAN, "float64", categories=("no", "yes")),
        ColumnSchema("plan", Role.CATEGORICAL, "object", n_unique=2, categories=("a", "b")),
        ColumnSchema("y", Role.CATEGORICAL, "object", n_unique=2),
    ),
    target="y",
)


def _raw_rows(messy_frame: pd.DataFrame) -> pd.DataFrame:
    """The messy frame as a CSV reader with dtype=str would give it."""
    raw = messy_frame.drop(columns="churn").astype(object)
    raw["signup"] = messy_frame["signup"].dt.strftime("%Y-%m-%d %H:%M:%S")
    raw = raw.map(lambda v: "" if pd.isna(v) else str(v))
    return raw


def test_schema_enforcer_types_raw_rows_and_keeps_feature_order() -> None:
    enforcer = SchemaEnforcer(SMALL.to_dict())
    raw = pd.DataFrame(
        {"plan": ["a", "?"], "extra": [1, 2], "member": ["yes", "no"], "age": ["41", "n/a"]}
    )
    out = enforcer.fit_transform(raw)
    assert list(out.columns) == ["age", "member", "plan"]  # target dropped, extras ignored
    assert out["age"].dtype == np.float64 and np.isnan(out["age"][1])
    assert out["member"].tolist() == [1.0, 0.0]
    assert out["plan"][0] == "a" and pd.isna(out["plan"][1])
    assert list(enforcer.get_feature_names_out()) == ["age", "member", "plan"]
    assert enforcer.schema_.target is None


def test_schema_enforcer_accepts_arrays_records_and_single_row() -> None:
    enforcer = SchemaEnforcer(SMALL.to_dict()).fit(
        pd.DataFrame({"age": [1.0], "member": [1.0], "plan": ["a"]})
    )
    expected = enforcer.transform(
        pd.DataFrame({"age": ["3", "4"], "member": ["yes", "no"], "plan": ["b", "a"]})
    )
    rows = [["3", "yes", "b"], ["4", "no", "a"]]
    pd.testing.assert_frame_equal(enforcer.transform(rows), expected)
    pd.testing.assert_frame_equal(enforcer.transform(np.array(rows, dtype=object)), expected)
    records = [{"age": 3, "member": "yes", "plan": "b"}, {"plan": "a", "member": "no", "age": 4}]
    pd.testing.assert_frame_equal(enforcer.transform(records), expected)
    one = enforcer.transform({"age": 3, "member": "yes", "plan": "b"})
    pd.testing.assert_frame_equal(one, expected.iloc[[0]])
    pd.testing.assert_frame_equal(enforcer.transform(expected.iloc[0]), expected.iloc[[0]])


def test_schema_enforcer_wrong_width_raises() -> None:
    enforcer = SchemaEnforcer(SMALL.to_dict()).fit([[1, "yes", "a"]])
    with pytest.raises(
        SchemaMismatchError,
        match=r"must have 3 values, in the order \['age', 'member', 'plan'\]\. Got 2",
    ):
        enforcer.transform([[1, "yes"]])
    with pytest.raises(SchemaMismatchError, match="Got an array of shape"):
        enforcer.transform([1, "yes", "a"])


def test_schema_enforcer_missing_column_and_bad_value_raise() -> None:
    enforcer = SchemaEnforcer(SMALL.to_dict(), source="the request").fit([[1, "yes", "a"]])
    with pytest.raises(SchemaMismatchError, match="'plan'"):
        enforcer.transform(pd.DataFrame({"age": [1], "member": ["yes"]}))
    with pytest.raises(
        InvalidInputError, match=r"Column 'age' of the request must be numeric\. Got 'forty'"
    ):
        enforcer.transform([["forty", "yes", "a"]])


def test_schema_enforcer_without_schema_raises() -> None:
    with pytest.raises(ConfigurationError, match=r"needs schema=Schema\.to_dict"):
        SchemaEnforcer().fit([[1]])
    with pytest.raises(ConfigurationError, match="not a schema"):
        SchemaEnforcer({"cols": []}).fit([[1]])


def test_schema_enforcer_keeps_only_plain_state() -> None:
    enforcer = SchemaEnforcer(SMALL.to_dict()).fit([[1, "yes", "a"]])
    state = enforcer.__getstate__()
    assert isinstance(state["schema_"], dict)
    restored = SchemaEnforcer.__new__(SchemaEnforcer)
    restored.__setstate__(state)
    assert restored.schema_ == enforcer.schema_


@pytest.mark.parametrize(
    ("family", "estimator"),
    [
        ("linear", LogisticRegression(max_iter=2000)),
        ("tree", HistGradientBoostingClassifier(max_iter=20)),
    ],
)
def test_make_pipeline_predicts_raw_string_rows(family, estimator, messy_frame, messy_schema):
    X, y = messy_frame.drop(columns="churn"), messy_frame["churn"]
    model = make_pipeline(messy_schema, family, estimator).fit(X, y)
    raw = _raw_rows(messy_frame)
    np.testing.assert_allclose(model.predict_proba(raw), model.predict_proba(X))


# 'finetune' needs an image column (tests/features/test_image.py)
@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "finetune"])
def test_make_pipeline_survives_skops_roundtrip(family, messy_frame, messy_schema, tmp_path):
    X, y = messy_frame.drop(columns="churn"), messy_frame["churn"]
    est = (
        LogisticRegression(max_iter=2000)
        if family == "linear"
        else HistGradientBoostingClassifier(max_iter=20)
    )
    model = make_pipeline(messy_schema, family, est).fit(X, y)
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert all(
        t.startswith(("modelloop.", "sklearn.", "numpy.", "scipy.", "builtins.")) for t in untrusted
    ), untrusted
    loaded = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.named_steps["schema"].schema_ == model.named_steps["schema"].schema_
    np.testing.assert_array_equal(
        loaded.predict_proba(_raw_rows(messy_frame)), model.predict_proba(X)
    )
