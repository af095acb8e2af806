"""train(group=, time=, gap=): the columns checked, the test split, the run's record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelloop.config import Settings
from modelloop.data import Role, load
from modelloop.exceptions import ColumnNotFoundError, ConfigurationError
from modelloop.workflows import train
from modelloop.workflows._validation import resolve_validation, split_rows


def _frame(n=240, seed=0):
    rng = np.random.default_rng(seed)
    patient = rng.integers(0, 30, n)
    x = rng.normal(size=n) + 0.3 * patient
    return pd.DataFrame(
        {
            "patient_id": patient,
            "x": x,
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90, n), "D"),
            "y": (x + rng.normal(size=n) > 4).astype(int),
        }
    )


def test_group_column_is_not_a_feature_and_test_groups_are_unseen():
    ds = load(_frame(), target="y")
    ds, v = resolve_validation(ds, target="y", group="patient_id", time=None, gap=None)
    assert ds.schema["patient_id"].role is Role.IDENTIFIER
    assert "patient_id" not in ds.schema.feature_columns()
    X_train, X_test, _, _, v_train, note = split_rows(ds, "binary", 0.2, 0, v)
    train_groups = set(ds.frame.loc[X_train.index, "patient_id"])
    test_groups = set(ds.frame.loc[X_test.index, "patient_id"])
    assert train_groups and test_groups and not train_groups & test_groups
    assert set(v_train.groups) == train_groups  # the folds see the training rows' groups
    assert "whole groups of 'patient_id'" in note


def test_time_split_tests_on_the_latest_rows_after_the_gap_and_keeps_the_column():
    ds = load(_frame(), target="y")
    ds, v = resolve_validation(ds, target="y", group=None, time="day", gap="3D")
    assert "day" in ds.schema.feature_columns()  # date parts stay features
    X_train, X_test, *_, note = split_rows(ds, "binary", 0.25, 0, v)
    assert X_test["day"].min() - X_train["day"].max() > pd.Timedelta("3D")
    assert "the latest" in note


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"group": "nope"}, ColumnNotFoundError, "group column 'nope' is not a column"),
        ({"time": "nope"}, ColumnNotFoundError, "time column 'nope' is not a column"),
        ({"group": "y"}, ConfigurationError, "group column 'y' is the target"),
        ({"group": "patient_id", "time": "day"}, ConfigurationError, "not both"),
        ({"gap": 5}, ConfigurationError, "gap needs a time column"),
        ({"time": "x", "gap": "2D"}, ConfigurationError, "duration gap .* 'x' holds numbers"),
    ],
)
def test_bad_validation_options_are_refused_before_the_store_is_touched(
    tmp_path, kwargs, error, match
):
    with pytest.raises(error, match=match):
        train(_frame(), "y", max_trials=1, settings=Settings(home=tmp_path / "h"), **kwargs)
    assert not (tmp_path / "h").exists()


@pytest.mark.slow
def test_train_by_group_and_by_time_records_the_validation(tmp_path):
    settings = Settings(home=tmp_path / "home")
    frame = _frame(n=400)
    grouped = train(frame, "y", group="patient_id", models=["logistic_regression"],
                    max_trials=1, time_budget=None, settings=settings)  # fmt: skip
    assert grouped.validation["kind"] == "group"
    assert "patient_id" not in grouped.model.feature_names_in_
    assert any("grouped by 'patient_id'" in n for n in grouped.notes)
    timed = train(frame, "y", time="day", gap=2, models=["logistic_regression", "lightgbm"],
                  max_trials=2, time_budget=None, final_fit="bag", settings=settings)  # fmt: skip
    assert timed.validation == {
        "kind": "time", "column": "day", "gap": 2,
        "description": "time-ordered by 'day' (train on the past, validate on the future; gap 2 rows)",
    }  # fmt: skip
    assert timed.final_fit == "refit"  # fold models trained on the past only are not kept
    assert timed.to_dict()["validation"]["kind"] == "time"
    from modelloop.store import Store

    with Store.from_settings(settings) as store:
        params = store.get_run(timed.run_id).params
    assert params["time"] == "day" and params["gap"] == 2 and params["group"] is None
    from modelloop.workflows import report

    html = report(timed.run_id, tmp_path / "r.html", settings=settings).read_text()
    assert "time-ordered by &#x27;day&#x27;" in html or "time-ordered by 'day'" in html


def test_retrain_keeps_the_champions_validation_while_its_column_is_complete():
    from modelloop.workflows._retrain import _validation_options

    frame = _frame(n=10)
    notes: list[str] = []
    params = {"group": None, "time": "day", "gap": "7D"}
    assert _validation_options(params, frame, notes) == {"time": "day", "gap": "7D"}
    assert _validation_options({"group": "patient_id"}, frame, notes) == {"group": "patient_id"}
    assert not notes
    frame.loc[3, "day"] = pd.NaT  # a production row without its time
    assert _validation_options(params, frame, notes) == {}
    assert "validated by time column 'day'" in notes[0] and "shuffled" in notes[0]
