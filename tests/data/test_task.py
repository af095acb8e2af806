"""detect_task(), check_target() and drop_missing_target()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelloop.data import check_target, detect_task, drop_missing_target, load
from modelloop.exceptions import TargetError


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["yes", "no", "yes"], "binary"),
        (["a", "b", "c", "a"], "multiclass"),
        ([True, False, True], "binary"),
        ([0.0, 1.0, 1.0, np.nan], "binary"),
        ([1, 2, 1, 2], "binary"),
        (["1", "2", "3"] * 40, "multiclass"),
        ([3, 4, 5, 6, 7, 8] * 100, "multiclass"),
        ([3, 4, 5, 6, 7, 8] * 5, "regression"),  # 6 values are 20% of 30 rows
        ([0.5, 1.5, 2.25, 3.0] * 50, "regression"),
        (list(range(100)), "regression"),
    ],
)
def test_detect_task(values, task):
    assert detect_task(pd.Series(values)) == task


def test_detect_task_wine_quality_is_multiclass(shared_datasets):
    ds = load(shared_datasets / "wine_quality_red.csv", target="quality")
    assert detect_task(ds.target_series()) == "multiclass"


def test_check_target_all_missing():
    with pytest.raises(TargetError, match=r"Target 'x' of f\.csv is missing in every row\."):
        check_target(pd.Series([None, np.nan]), "binary", name="x", source="f.csv")


def test_check_target_single_class():
    with pytest.raises(
        TargetError, match=r"has a single class 'yes'; a classifier needs at least two\. Check"
    ):
        check_target(pd.Series(["yes", "yes", None]), "binary", name="y", source="f.csv")
    with pytest.raises(TargetError, match="single class '1'"):
        check_target(pd.Series([1.0, 1.0]), "binary", name="y", source="f.csv")


def test_check_target_binary_with_three_classes():
    with pytest.raises(TargetError, match="has 3 classes; a binary task needs exactly two"):
        check_target(pd.Series(["a", "b", "c", "a", "b", "c"]), "binary", name="y", source="f")


def test_check_target_class_with_one_row():
    y = pd.Series(["a", "a", "b", "b", "c"])
    with pytest.raises(TargetError, match=r"class\(es\) 'c' with a single row; stratified"):
        check_target(y, "multiclass", name="y", source="f.csv")


def test_check_target_regression_must_be_numeric():
    y = pd.Series(["1.5", "2", "lots", "4"])
    with pytest.raises(TargetError, match=r"must be numeric for regression\. Got 'lots' in row 3"):
        check_target(y, "regression", name="price", source="f.csv")
    with pytest.raises(TargetError, match="must be finite"):
        check_target(pd.Series([1.0, np.inf]), "regression", name="price", source="f.csv")


def test_check_target_accepts_good_targets():
    check_target(pd.Series([1.5, 2.0, None]), "regression", name="y", source="f")
    check_target(pd.Series(["a", "b", "a", "b"]), "binary", name="y", source="f")


def test_drop_missing_target():
    ds = load(pd.DataFrame({"x": [1.0, 2, 3, 4], "y": ["a", None, "b", "?"]}), target="y")
    cleaned, dropped = drop_missing_target(ds)
    assert dropped == 2
    assert cleaned.frame["x"].tolist() == [1.0, 3.0]
    assert cleaned.frame.index.tolist() == [0, 1]
    assert cleaned.hash != ds.hash
    assert cleaned.schema["y"].n_missing == 0
    same, none = drop_missing_target(cleaned)
    assert same is cleaned and none == 0


def test_drop_missing_target_needs_a_target():
    with pytest.raises(TargetError, match="has no target column"):
        drop_missing_target(load(pd.DataFrame({"x": [1.0, 2.0]})))
