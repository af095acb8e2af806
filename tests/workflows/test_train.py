"""The Python API: ``train`` records runs, registers versions and returns a usable result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import modelloop as ml
from modelloop.exceptions import ConfigurationError, TargetError


@pytest.fixture
def frame():
    rng = np.random.default_rng(3)
    n = 300
    df = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "tenure": rng.integers(1, 60, size=n).astype(float),
            "plan": rng.choice(["basic", "plus", "pro"], size=n),
            "signup": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        }
    )
    df.loc[rng.choice(n, 30, replace=False), "tenure"] = np.nan
    logit = -0.08 * df["tenure"].fillna(30) + (df["plan"] == "basic") * 1.5 + 1
    df["churn"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return df


def test_train_returns_leaderboard_model_and_metrics(frame, settings):
    result = ml.train(
        frame,
        target="churn",
        models=["logistic_regression", "hist_gradient_boosting"],
        max_trials=3,
        cv=3,
        settings=settings,
    )
    assert result.task == "binary" and result.metric == "roc_auc"
    assert result.leaderboard["model"].iloc[0] == result.best_model
    assert {"roc_auc", "accuracy", "log_loss", "f1"} <= set(result.metrics)
    assert 0.5 < result.metrics["roc_auc"] <= 1.0
    pred = result.model.predict(frame.drop(columns=["churn"]).head(5))
    assert set(pred) <= {"yes", "no"}
    assert result.version is None  # no name: recorded, not registered
    with ml.registry(settings) as reg:
        run = reg.get_run(result.run_id)
        assert run.status == "finished"
        assert run.best_model == result.best_model
        assert run.test_metrics["roc_auc"] == pytest.approx(result.metrics["roc_auc"])
        assert reg.list_models() == []


def test_train_with_name_registers_versions(frame, settings):
    first = ml.train(
        frame,
        target="churn",
        name="churn",
        models=["logistic_regression"],
        max_trials=3,
        cv=2,
        settings=settings,
        aliases=["production"],
    )
    second = ml.train(
        frame,
        target="churn",
        name="churn",
        models=["logistic_regression"],
        max_trials=3,
        cv=2,
        settings=settings,
    )
    assert (first.version, second.version) == (1, 2)
    with ml.registry(settings) as reg:
        assert reg.resolve("churn@production").version == 1
        assert reg.resolve("churn").version == 2


def test_identifier_column_is_not_a_feature(frame, settings):
    result = ml.train(
        frame, target="churn", models=["logistic_regression"], max_trials=3, cv=2, settings=settings
    )
    assert "customer_id" not in result.dataset.schema.feature_columns()
    assert any("customer_id" in note for note in result.notes)


def test_train_with_separate_test_table(frame, settings):
    result = ml.train(
        frame.iloc[:240],
        target="churn",
        test=frame.iloc[240:],
        cv=2,
        models=["logistic_regression"],
        max_trials=3,
        settings=settings,
    )
    with ml.registry(settings) as reg:
        assert reg.get_run(result.run_id).params["n_test"] == 60


def test_rows_with_missing_target_are_left_out_with_a_note(frame, settings):
    frame.loc[:9, "churn"] = None
    result = ml.train(
        frame, target="churn", models=["logistic_regression"], max_trials=3, cv=2, settings=settings
    )
    assert any("10 rows with a missing target" in note for note in result.notes)


def test_regression_task_and_metric_override(frame, settings):
    frame = frame.dropna(subset=["tenure"])
    result = ml.train(
        frame,
        target="tenure",
        metric="mae",
        models=["ridge"],
        max_trials=3,
        cv=2,
        settings=settings,
    )
    assert result.task == "regression" and result.metric == "mae"
    assert result.cv_metrics["mae"] > 0


def test_bad_options_raise_before_the_store_is_touched(frame, settings):
    for kwargs, pattern in [
        ({"cv": 1}, "cv must be an integer >= 2"),
        ({"test_size": 1.5}, "test_size must be in the open range"),
        ({"time_budget": 0}, "time_budget must be a number of seconds > 0"),
        ({"task": "ranking"}, "task must be one of"),
        ({"metric": "rmse"}, "Metric 'rmse' does not apply to a binary task"),
        ({"models": ["ridge"]}, "ridge"),
    ]:
        with pytest.raises(ConfigurationError, match=pattern):
            ml.train(frame, target="churn", settings=settings, **kwargs)
    assert not settings.home.exists()


def test_single_class_target_is_refused(frame, settings):
    frame["churn"] = "no"
    with pytest.raises(TargetError, match="single class"):
        ml.train(frame, target="churn", settings=settings)
    assert not settings.home.exists()


def test_train_keeps_every_trial_in_the_store(frame, settings):
    result = ml.train(
        frame,
        target="churn",
        models=["logistic_regression", "decision_tree"],
        cv=2,
        max_trials=3,
        seed=1,
        settings=settings,
    )
    with ml.registry(settings) as reg:
        trials = reg.list_trials(result.run_id)
    assert [t.number for t in trials] == sorted(t.number for t in trials)
    assert len([t for t in trials if t.stage != "ensemble"]) == 3
    first = trials[0]
    assert first.model == "logistic_regression" and first.status == "ok"
    assert len(first.fold_scores) == 2 and first.latency_ms is not None


def test_train_grid_search_reports_best_params(frame, settings):
    result = ml.train(
        frame,
        target="churn",
        models=["decision_tree"],
        search_strategy="grid",
        param_grid={"max_depth": [2, 3]},
        cv=2,
        settings=settings,
    )
    assert result.best_params["max_depth"] in (2, 3)
    assert result.to_dict()["best_params"] == result.best_params


def test_search_options_are_checked_before_the_store_is_touched(frame, settings):
    for kwargs, pattern in [
        ({"time_budget": 1}, r"too small to fit even one model .* at least \d"),
        ({"models": ["lightgbn"]}, "Unknown model 'lightgbn'.*Models for binary: .*lightgbm"),
        (
            {"models": ["decision_tree"], "search_strategy": "grid", "param_grid": {"depth": [1]}},
            "Parameter 'depth' .* Valid parameters: .*max_depth",
        ),
        ({"search_strategy": "grid"}, "needs models"),
        ({"max_trials": 0}, "max_trials must be an integer >= 1"),
        ({"search_strategy": "bayes"}, "search must be one of auto, grid, random"),
        ({"metric": "r2"}, "Metric 'r2' does not apply to a binary task"),
    ]:
        with pytest.raises(ConfigurationError, match=pattern):
            ml.train(frame, target="churn", settings=settings, **kwargs)
    assert not settings.home.exists()


def test_train_on_a_sampled_file_records_the_sample(frame, settings, tmp_path):
    path = tmp_path / "big.csv"
    pd.concat([frame] * 20, ignore_index=True).to_csv(path, index=False)  # 6,000 rows
    sampled = settings.with_overrides(load_sample_rows=1_000)
    result = ml.train(
        path,
        target="churn",
        models=["logistic_regression"],
        max_trials=1,
        cv=2,
        settings=sampled,
    )
    assert result.dataset.n_rows == 1_000
    assert any("sample of 1,000 of 6,000 rows" in note for note in result.notes)
    with ml.registry(sampled) as reg:
        recorded = reg.get_run(result.run_id).params["data_sample"]
    assert (recorded["rows_kept"], recorded["rows_total"]) == (1_000, 6_000)
    assert recorded["method"].startswith("reservoir sample stratified by 'churn'")
    assert result.lineage["data_sample"] == recorded


@pytest.mark.slow
def test_train_on_a_local_dask_cluster_keeps_the_optuna_study_in_a_journal(frame, settings):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    on_cluster = settings.model_copy(update={"cluster": "local:2"})
    result = ml.train(frame, target="churn", models=["logistic_regression", "decision_tree"],
                   max_trials=4, settings=on_cluster, register=False)  # fmt: skip
    assert {t["stage"] for t in result.trials} >= {"portfolio", "optuna"}
    journal = settings.resolved_artifacts_dir() / "runs" / result.run_id / "optuna.journal"
    study = optuna.load_study(
        study_name="optuna", storage=JournalStorage(JournalFileBackend(str(journal)))
    )
    assert len(study.trials) >= 2
