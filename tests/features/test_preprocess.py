from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge

from modelloop.data import ColumnSchema, Role, Schema
from modelloop.exceptions import ConfigurationError, InvalidInputError
from modelloop.features import FAMILIES, make_pipeline, make_preprocessor

FEATURES = ["income", "flag", "color", "city", "signup", "review"]


def _xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    return frame.drop(columns="churn"), frame["churn"].to_numpy()


def test_make_preprocessor_unknown_family_raises(messy_schema: Schema) -> None:
    with pytest.raises(
        ConfigurationError, match=r"must be one of 'linear', 'tree', 'deep', 'finetune'\. Got 'wide'"
    ):
        make_preprocessor(messy_schema, "wide")
    assert FAMILIES == ("linear", "tree", "deep", "finetune")


def test_make_preprocessor_unknown_task_raises(messy_schema: Schema) -> None:
    with pytest.raises(ConfigurationError, match="Got 'ranking'"):
        make_preprocessor(messy_schema, "tree", task="ranking")


def test_make_preprocessor_no_feature_columns_raises() -> None:
    schema = Schema(
        (
            ColumnSchema("id", Role.IDENTIFIER, "int64"),
            ColumnSchema("k", Role.CONSTANT, "int64"),
            ColumnSchema("y", Role.NUMERIC, "float64"),
        ),
        target="y",
    )
    with pytest.raises(InvalidInputError, match="no feature column"):
        make_preprocessor(schema, "linear")


def test_make_preprocessor_routes_columns_by_role(messy_schema: Schema) -> None:
    pre = make_preprocessor(messy_schema, "linear")
    routed = {name: cols for name, _, cols in pre.transformers}
    assert routed == {
        "numeric": ["income"],
        "boolean": ["flag"],
        "categorical": ["color"],
        "high_cardinality": ["city"],
        "datetime": ["signup"],
        "text0": ["review"],
    }
    used = [c for cols in routed.values() for c in cols]
    assert "churn" not in used and "customer_id" not in used


def test_make_preprocessor_tree_output_is_dense(messy_frame, messy_schema) -> None:
    X, y = _xy(messy_frame)
    out = make_preprocessor(messy_schema, "tree").fit_transform(X, y)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float64
    assert not np.isnan(out).any()


def test_make_preprocessor_linear_is_sparse_with_text_dense_without(
    messy_frame, messy_schema
) -> None:
    X, y = _xy(messy_frame)
    with_text = make_preprocessor(messy_schema, "linear").fit_transform(X, y)
    assert sparse.issparse(with_text)
    no_text = Schema(tuple(c for c in messy_schema if c.name != "review"), target="churn")
    without = make_preprocessor(no_text, "linear").fit_transform(X, y)
    assert isinstance(without, np.ndarray)
    assert not np.isnan(without).any()


# 'finetune' needs an image column (tests/features/test_image.py)
@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "finetune"])
def test_make_preprocessor_feature_names_match_output(family, messy_frame, messy_schema) -> None:
    X, y = _xy(messy_frame)
    pre = make_preprocessor(messy_schema, family)
    out = pre.fit_transform(X, y)
    names = list(pre.get_feature_names_out())
    assert len(names) == out.shape[1]
    assert len(set(names)) == len(names)
    assert "income" in names and "missingindicator_income" in names
    assert "signup_year" in names and "signup_days" in names
    assert "signup_hour" in names  # seconds-resolution timestamps have a time of day
    assert "city" in names  # target encoded, binary target: one column


def test_make_preprocessor_indicator_only_for_columns_missing_in_fit(messy_frame) -> None:
    schema = Schema(
        (
            ColumnSchema("income", Role.NUMERIC, "float64"),
            ColumnSchema("complete", Role.NUMERIC, "float64"),
        )
    )
    X = messy_frame[["income"]].assign(complete=np.arange(len(messy_frame), dtype=float))
    pre = make_preprocessor(schema, "tree").fit(X)
    assert list(pre.get_feature_names_out()) == ["income", "complete", "missingindicator_income"]


def test_make_preprocessor_linear_scales_numbers(messy_frame, messy_schema) -> None:
    X, y = _xy(messy_frame)
    pre = make_preprocessor(messy_schema, "linear")
    out = pre.fit_transform(X, y).toarray()
    income = out[:, list(pre.get_feature_names_out()).index("income")]
    assert abs(income.mean()) < 1e-9 and income.std() == pytest.approx(1.0)
    tree_out = make_preprocessor(messy_schema, "tree").fit_transform(X, y)
    assert tree_out[:, 0].mean() > 1000  # unscaled


def test_make_preprocessor_missing_is_its_own_category(messy_frame, messy_schema) -> None:
    X, y = _xy(messy_frame)
    pre = make_preprocessor(messy_schema, "linear").fit(X, y)
    names = list(pre.get_feature_names_out())
    assert "color___missing__" in names
    assert "color_NA" in names  # the string 'NA' is a level ('no alley'), not missing


def test_make_preprocessor_short_names_fall_back_to_prefixed_when_ambiguous() -> None:
    schema = Schema(
        (
            ColumnSchema("t", Role.DATETIME, "datetime64[ns]"),
            ColumnSchema("t_year", Role.NUMERIC, "float64"),
        )
    )
    X = pd.DataFrame({"t": pd.to_datetime(["2020-01-01", "2021-06-01"]), "t_year": [1.0, 2.0]})
    names = list(make_preprocessor(schema, "tree").fit(X).get_feature_names_out())
    assert "numeric__t_year" in names and "datetime__t_year" in names


def test_make_preprocessor_high_cardinality_regression_target(messy_frame, messy_schema) -> None:
    # an integer-valued regression target would be read as classes without task=
    X = messy_frame.drop(columns="churn")
    y = np.round(messy_frame["income"].fillna(0) / 1000)
    pre = make_preprocessor(messy_schema, "tree", task="regression").fit(X, y)
    names = list(pre.get_feature_names_out())
    assert "city" in names and "city_0" not in names


@pytest.mark.parametrize(
    ("family", "estimator"),
    [
        ("linear", LogisticRegression(max_iter=2000)),
        ("tree", HistGradientBoostingClassifier(max_iter=30)),
    ],
)
def test_make_pipeline_fits_and_predicts_messy_rows(family, estimator, messy_frame, messy_schema):
    X, y = _xy(messy_frame)
    model = make_pipeline(messy_schema, family, estimator).fit(X, y)
    assert [name for name, _ in model.steps] == ["schema", "preprocess", "model"]
    assert model.score(X, y) > 0.6

    unseen = X.iloc[:3].copy()
    unseen["color"] = ["purple", "violet", "red"]
    unseen["city"] = ["atlantis", "city3", "el dorado"]
    unseen["review"] = ["completely new words", "", "great"]
    assert model.predict_proba(unseen).shape == (3, 2)

    all_missing = pd.DataFrame({c: [None, None] for c in FEATURES})
    proba = model.predict_proba(all_missing)
    assert proba.shape == (2, 2) and np.isfinite(proba).all()

    one = X.iloc[[5]]
    assert model.predict(one).shape == (1,)
    np.testing.assert_allclose(model.predict_proba(one), model.predict_proba(X)[[5]])


def test_make_pipeline_ignores_extra_and_reordered_columns(messy_frame, messy_schema) -> None:
    X, y = _xy(messy_frame)
    model = make_pipeline(messy_schema, "tree", HistGradientBoostingClassifier(max_iter=20))
    model.fit(X, y)
    shuffled = X[FEATURES[::-1]].assign(unrelated=1)
    np.testing.assert_allclose(model.predict_proba(shuffled), model.predict_proba(X))


def test_make_pipeline_multiclass_and_regression(messy_frame, messy_schema) -> None:
    X = messy_frame.drop(columns="churn")
    y3 = pd.qcut(messy_frame["income"].fillna(0), 3, labels=False).to_numpy()
    clf = make_pipeline(messy_schema, "linear", LogisticRegression(max_iter=2000))
    assert clf.fit(X, y3).predict_proba(X).shape == (len(X), 3)
    y = messy_frame["income"].fillna(0).to_numpy() / 1000
    for family, est in (("linear", Ridge()), ("tree", HistGradientBoostingRegressor(max_iter=20))):
        reg = make_pipeline(messy_schema, family, est, task="regression").fit(X, y)
        assert reg.score(X, y) > 0.5
