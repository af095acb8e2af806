"""Group- and time-aware splits: no group on both sides, no validation row before a training row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelloop.data import load
from modelloop.exceptions import ConfigurationError, InvalidInputError
from modelloop.tuning import Validation, make_folds, parse_gap, time_values
from modelloop.tuning._context import Problem
from modelloop.tuning._scoring import calibrate, tune_threshold
from modelloop.tuning._search import _limit_rows
from modelloop.tuning._validation import format_gap
from modelloop.tuning._worker import early_stopping_split

DAY = pd.Timedelta("1D").value


def _grouped(n=400, groups=40, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, n)
    y = (rng.random(n) < 0.3).astype(int)
    return g, y


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_group_folds_keep_each_group_in_one_validation_fold(task):
    g, y = _grouped()
    target = y if task == "binary" else y + np.arange(len(y)) * 0.01
    folds = make_folds(pd.Series(target), task, 5, seed=3, validation=Validation(groups=g))
    assert len(folds) == 5
    seen: set[int] = set()
    for tr, va in folds:
        assert not set(g[tr]) & set(g[va])  # no group on both sides of a fold
        assert not seen & set(g[va])  # no group validated twice
        seen |= set(g[va])
    assert seen == set(g)


def test_group_folds_change_with_the_seed_and_treat_missing_as_one_group():
    g = np.array([1.0, 1.0, np.nan, np.nan, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0] * 3)
    y = pd.Series(np.arange(30.0))
    folds = make_folds(y, "regression", 3, seed=0, validation=Validation(groups=g))
    nan_rows = np.flatnonzero(np.isnan(g))
    for _, va in folds:
        assert not np.isin(nan_rows, va).any() or np.isin(nan_rows, va).all()
    first = [va.tolist() for _, va in folds]
    other = [va.tolist() for _, va in make_folds(y, "regression", 3, seed=1,
                                                 validation=Validation(groups=g))]  # fmt: skip
    assert sorted(map(sorted, first)) != sorted(map(sorted, other))


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_group_holdout_puts_whole_groups_in_the_test_split(task):
    g, y = _grouped(groups=25)
    if task == "multiclass":
        y = np.arange(len(y)) % 3
    tr, te = Validation(groups=g).holdout(y, task, 0.2, seed=0)
    assert len(tr) + len(te) == len(y) and len(te) > 0
    assert not set(g[tr]) & set(g[te])


def test_too_few_groups_for_the_folds_is_a_clear_error():
    g = np.repeat(np.arange(3), 10)
    with pytest.raises(ConfigurationError, match=r"'site' has 3 groups .* at least 5\. Lower --cv"):
        make_folds(pd.Series(np.arange(30.0)), "regression", 5,
                   validation=Validation(groups=g, column="site"))  # fmt: skip
    with pytest.raises(ConfigurationError, match="has 2 group"):
        Validation(groups=np.repeat([0, 1], 5), column="site").holdout(
            np.arange(10), "regression", 0.2
        )


@pytest.mark.parametrize("gap", [0, 3, pd.Timedelta("5D")])
def test_time_folds_validate_only_on_rows_later_than_every_training_row_plus_gap(gap):
    rng = np.random.default_rng(0)
    days = rng.integers(0, 120, 500)  # ties: several rows a day
    times = (pd.Timestamp("2024-01-01").value + days * DAY).astype(np.int64)
    shuffled = Validation(times=times, gap=gap, column="day", is_datetime=True)
    y = pd.Series(rng.random(500))
    folds = make_folds(y, "regression", 4, validation=shuffled)
    assert len(folds) == 4
    previous_end = -1
    for tr, va in folds:
        last_train, first_val = times[tr].max(), times[va].min()
        assert last_train < first_val  # strictly: rows of one time are never split
        if isinstance(gap, pd.Timedelta):
            assert last_train < first_val - gap.value
        else:  # `gap` rows before the validation block are not trained on
            assert np.sum(times < first_val) - len(tr) == gap
        assert first_val > previous_end  # forward chaining: the blocks follow each other
        previous_end = times[va].max()


def test_time_holdout_is_the_latest_rows_after_the_gap():
    times = np.repeat(np.arange(50.0), 4)  # a numeric time column
    v = Validation(times=times, gap=8, column="t")
    tr, te = v.holdout(np.zeros(200), "regression", 0.2)
    assert times[te].min() > times[tr].max()
    assert len(te) == 40 and len(tr) == 200 - 40 - 8
    with pytest.raises(ConfigurationError, match="leaves 0 training row"):
        Validation(times=times, gap=500, column="t").holdout(np.zeros(200), "regression", 0.2)


def test_time_errors_name_the_column_and_the_fix():
    with pytest.raises(ConfigurationError, match="'t' has one distinct time"):
        make_folds(pd.Series(np.arange(9.0)), "regression", 3,
                   validation=Validation(times=np.zeros(9), column="t"))  # fmt: skip
    with pytest.raises(
        ConfigurationError, match=r"could make 1 fold\(s\) of 3 .* Lower --cv or --gap"
    ):
        make_folds(pd.Series(np.arange(12.0)), "regression", 3,
                   validation=Validation(times=np.arange(12.0), gap=6, column="t"))  # fmt: skip
    with pytest.raises(ConfigurationError, match=r"A duration gap .* 'n' holds numbers"):
        Validation(times=np.arange(5.0), gap=pd.Timedelta("1D"), column="n")
    with pytest.raises(ConfigurationError, match="by group or by time, not both"):
        Validation(groups=np.zeros(3), times=np.zeros(3))


def test_parse_gap_reads_rows_and_durations_and_round_trips():
    assert parse_gap(None) == 0 and parse_gap("12") == 12 and parse_gap(4) == 4
    assert parse_gap("7D") == pd.Timedelta(days=7)
    for text in ("7D", "1D 6h", "30min", "90s"):
        assert parse_gap(format_gap(parse_gap(text))) == parse_gap(text)
    for bad in ("-3", "soon", True, -1):
        with pytest.raises(ConfigurationError, match="gap must be"):
            parse_gap(bad)


def test_time_values_orders_dates_numbers_and_refuses_gaps_in_them():
    values, is_dt = time_values(pd.Series(["2024-01-02 10:00", "2024-01-01"]), "when")
    assert is_dt and values[0] > values[1]
    offsets = pd.Series(["2024-01-01T00:00+02:00", "2023-12-31T23:00+00:00"])
    values, _ = time_values(offsets, "when")
    assert values[0] < values[1]  # 22:00 and 23:00 UTC
    aware = pd.Series(pd.to_datetime(offsets, utc=True)).dt.tz_convert("Europe/Paris")
    assert time_values(aware, "when")[0].tolist() == values.tolist()
    numbers, is_dt = time_values(pd.Series([3, 1, 2]), "n")
    assert numbers.tolist() == [3.0, 1.0, 2.0] and not is_dt
    with pytest.raises(
        InvalidInputError, match=r"'when' must hold dates or numbers .* 'soon' in row 2"
    ):
        time_values(pd.Series(["2024-01-01", "soon"]), "when")
    with pytest.raises(
        InvalidInputError, match=r"time in every row to order rows\. Got 1 missing, first in row 2"
    ):
        time_values(pd.Series([1.0, None, 3.0]), "n")


def test_early_stopping_slice_is_the_latest_rows_or_whole_groups():
    rng = np.random.default_rng(0)
    n = 300
    times = rng.permutation(n).astype(float)
    X = pd.DataFrame({"x": rng.random(n)})
    y = rng.integers(0, 2, n)
    rows = np.sort(rng.choice(n, 250, replace=False))  # a training fold
    X_fit, X_es, *_ = early_stopping_split(
        X.iloc[rows], y[rows], "binary", 0, Validation(times=times), rows
    )
    assert times[X_es.index].min() > times[X_fit.index].max()
    assert 20 <= len(X_es) <= 30
    groups = rng.integers(0, 30, n)
    X_fit, X_es, *_ = early_stopping_split(
        X.iloc[rows], y[rows], "binary", 0, Validation(groups=groups), rows
    )
    assert not set(groups[X_fit.index]) & set(groups[X_es.index])
    # without a validation: the usual stratified random slice
    X_fit, X_es, *_ = early_stopping_split(X.iloc[rows], y[rows], "binary", 0)
    assert len(X_es) == 25


def test_search_sample_is_whole_groups_or_the_latest_rows():
    rng = np.random.default_rng(0)
    n = 1000
    X = pd.DataFrame({"x": rng.random(n)})
    y = rng.integers(0, 2, n)
    groups = rng.integers(0, 50, n)
    Xs, _, n_search, note, v = _limit_rows(X, y, "binary", 5, None, 300, 0,
                                            Validation(groups=groups))  # fmt: skip
    searched = set(v.groups[:n_search])
    assert not searched & set(v.groups[n_search:])
    assert 300 <= n_search < 400 and "whole-group sample" in note
    group_of_x = dict(zip(X["x"], groups, strict=True))
    assert all(group_of_x[x] == g for x, g in zip(Xs["x"], v.groups, strict=True))
    times = rng.permutation(n).astype(float)
    Xs, _, n_search, note, v = _limit_rows(X, y, "binary", 5, None, 300, 0,
                                            Validation(times=times))  # fmt: skip
    assert n_search == 300 and sorted(v.times[:n_search]) == list(range(700, 1000))
    assert "latest sample" in note
    # the rows move with their validation values
    lookup = dict(zip(times, X["x"], strict=True))
    assert all(lookup[t] == x for t, x in zip(v.times, Xs["x"], strict=True))


def test_calibration_and_threshold_use_the_rows_time_folds_validate():
    rng = np.random.default_rng(0)
    n = 600
    y = (rng.random(n) < 0.3).astype(int)
    p1 = np.clip(0.4 * y + rng.normal(0.3, 0.2, n), 0.01, 0.99) ** 0.3  # overconfident
    folds = make_folds(pd.Series(y), "binary", 4, validation=Validation(times=np.arange(n * 1.0)))
    oof = np.full((n, 2), np.nan)
    for _, va in folds:
        oof[va, 1] = p1[va]
        oof[va, 0] = 1 - p1[va]
    ds = load(pd.DataFrame({"x": np.arange(n), "y": y}), target="y")
    problem = Problem(pd.DataFrame({"x": np.arange(n)}), y, n, ds.schema, "binary", "f1", folds)
    assert len(problem.covered) < n  # the first block is only trained on
    calibrated = calibrate(problem, oof)
    assert calibrated is not None  # not skipped because the first rows have no prediction
    scores, scaled, _ = calibrated
    assert np.isfinite(scaled[problem.covered]).all() and len(scores) == 4
    tuned = tune_threshold(problem, scaled, tuple(scores))
    assert tuned is None or len(tuned[0]) == 4


def test_time_folds_skip_blocks_with_one_class_to_train_or_score_on():
    y = np.array([0] * 30 + [0, 1] * 15 + [1] * 15 + [0, 1] * 15)  # 105 rows in time order
    folds = make_folds(pd.Series(y), "binary", 6, validation=Validation(times=np.arange(105.0)))
    assert 2 <= len(folds) < 6
    for tr, va in folds:
        assert set(y[tr]) == {0, 1} and set(y[va]) == {0, 1}


def test_time_folds_train_on_about_half_the_rows_which_the_refit_estimate_uses():
    n = 600
    y = np.arange(n) % 2
    ds = load(pd.DataFrame({"x": np.arange(n), "y": y}), target="y")
    X = pd.DataFrame({"x": np.arange(n)})
    times = Validation(times=np.arange(n * 1.0))
    folds = make_folds(pd.Series(y), "binary", 5, validation=times)
    timed = Problem(X, y, n, ds.schema, "binary", "roc_auc", folds, 0, times)
    shuffled = Problem(
        X, y, n, ds.schema, "binary", "roc_auc", make_folds(pd.Series(y), "binary", 5)
    )
    assert shuffled.fold_rows == n * 4 / 5
    assert timed.fold_rows == pytest.approx(n / 2, rel=0.01)  # blocks 1..5 of 6: mean 3 blocks
