"""Folds, cross-validation and the budgeted search over candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelloop.data import load
from modelloop.evaluation import score
from modelloop.exceptions import ConfigurationError
from modelloop.tuning import cross_validate, make_folds, search


@pytest.fixture
def binary_data():
    rng = np.random.default_rng(0)
    n = 240
    x1 = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    y = np.where(x1 + (colour == "red") * 1.5 + rng.normal(scale=0.5, size=n) > 0.5, "yes", "no")
    ds = load(pd.DataFrame({"x1": x1, "colour": colour, "y": y}), target="y")
    return ds


def _rare_positive(rng=None):
    """Two features; the positive class 'rare' (about 10 %) where a noisy score is high.

    ``rng`` (default: seeded 0) is left where the data's draws end, for the caller's own.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    n = 400
    x = rng.normal(size=(n, 2))
    y = np.where(x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=n) > 1.8, "rare", "common")
    return load(pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": y}), target="y")


def _search_state(ds, metric: str, *, k: int):
    """A binary search's trial runner on ``ds`` with ``k`` folds and no trials yet, for the
    stages after the trials (the caller closes ``state.executor``)."""
    from modelloop.models import THRESHOLD_METRICS
    from modelloop.tuning._context import Clock, Policy, Problem
    from modelloop.tuning._executors import LocalExecutor
    from modelloop.tuning._runner import TrialRunner

    X, y = ds.features(), np.asarray(ds.target_series())
    folds = make_folds(pd.Series(y), "binary", k, seed=0)
    problem = Problem(X, y, len(y), ds.schema, "binary", metric, folds, 0)
    policy = Policy(calibration=True, thresholding=metric in THRESHOLD_METRICS, ensemble=True)
    return TrialRunner(problem, policy, LocalExecutor(problem.payload()), Clock.of(None))


def _with(state, **policy):
    """``state`` with some of its policy changed."""
    from dataclasses import replace

    state.policy = replace(state.policy, **policy)
    return state


def test_make_folds_stratifies_and_covers_every_row():
    y = pd.Series(["a"] * 80 + ["b"] * 20)
    folds = make_folds(y, "binary", 5, seed=1)
    assert len(folds) == 5
    seen = np.concatenate([va for _, va in folds])
    assert sorted(seen) == list(range(100))
    for _, va in folds:
        assert (y.iloc[va] == "b").sum() == 4


def test_make_folds_reduces_k_for_rare_class():
    y = pd.Series(["a"] * 30 + ["b"] * 3)
    assert len(make_folds(y, "binary", 5)) == 3


def test_make_folds_rejects_fewer_than_two():
    with pytest.raises(ConfigurationError, match="cv must be an integer >= 2"):
        make_folds(pd.Series([1.0, 2.0, 3.0]), "regression", 1)


def test_cross_validate_keeps_out_of_fold_probabilities(binary_data):
    from modelloop.features import make_pipeline
    from modelloop.models import get_spec

    spec = get_spec("logistic_regression", "binary")
    pipe = make_pipeline(binary_data.schema, spec.family, spec.make("binary"))
    X, y = binary_data.features(), binary_data.target_series()
    folds = make_folds(y, "binary", 4)
    res = cross_validate(pipe, X, y, folds, task="binary", metric="roc_auc")
    assert len(res.scores) == 4
    assert 0.75 < res.mean <= 1.0
    assert res.oof.shape == (len(y), 2)
    assert not np.isnan(res.oof).any()
    np.testing.assert_allclose(res.oof.sum(axis=1), 1.0)


def test_search_ranks_best_first_and_lists_every_candidate(binary_data):
    X, y = binary_data.features(), binary_data.target_series()
    res = search(
        X,
        y,
        schema=binary_data.schema,
        task="binary",
        metric="log_loss",
        candidates=["logistic_regression", "decision_tree", "hist_gradient_boosting"],
        cv=3,
        ensemble=False,
    )
    board = res.leaderboard
    assert set(board["model"]) == {"logistic_regression", "decision_tree", "hist_gradient_boosting"}
    scores = board["cv_log_loss"].to_numpy()
    assert (np.diff(scores) >= 0).all()  # log loss: lower is better, best first
    assert res.best.name == board["model"].iloc[0]


def test_search_refits_the_best_candidate_when_it_is_also_the_fastest(binary_data):
    X, y = binary_data.features(), binary_data.target_series()
    res = search(
        X,
        y,
        schema=binary_data.schema,
        task="binary",
        metric="roc_auc",
        candidates=["logistic_regression", "random_forest"],
        cv=3,
        seed=0,
        ensemble=False,
        final_fit="refit",
    )
    by_score = sorted(res.candidates, key=lambda c: -c.cv_mean)
    assert by_score[0].family == "logistic_regression"  # linear labels: the quick model wins
    assert by_score[0].fit_time < by_score[1].fit_time
    assert res.best is by_score[0]
    assert type(res.model[-1]).__name__ != "RandomForestClassifier"


def test_search_stops_a_slow_fit_and_keeps_the_budget(binary_data):
    import time

    X, y = binary_data.features(), binary_data.target_series()
    big = pd.concat([X] * 40, ignore_index=True)
    big_y = pd.concat([y] * 40, ignore_index=True)
    started = time.monotonic()
    res = search(
        big,
        big_y,
        schema=binary_data.schema,
        task="binary",
        metric="roc_auc",
        candidates=["random_forest"],
        strategy="grid",
        param_grid={"n_estimators": [5, 20000]},
        cv=2,
        time_budget=12,
    )
    elapsed = time.monotonic() - started
    # Awaited, 20,000 trees on these rows take minutes; stopped, the search ends near its
    # 12 s. The bound is loose so that a starved machine cannot fail it (the promise itself
    # is checked by the command's budget test).
    assert elapsed < 60
    status = dict(zip(res.leaderboard["model"], res.leaderboard["status"], strict=True))
    assert status["random_forest"] == "ok"
    # the slow fit is stopped at its limit, or, when the first took most of the budget on a
    # busy machine, never started
    if "random_forest_2" in status:
        assert status["random_forest_2"] == "failed"
        assert "time limit" in res.leaderboard.set_index("model").loc["random_forest_2", "error"]
    assert res.model is not None and res.best_params == {"n_estimators": 5}


def test_search_records_a_failing_candidate_and_goes_on(binary_data):
    X, y = binary_data.features(), binary_data.target_series()
    res = search(
        X,
        y,
        schema=binary_data.schema,
        task="binary",
        metric="roc_auc",
        candidates=["decision_tree"],
        strategy="grid",
        param_grid={"max_depth": [-1, 3]},
        cv=2,
    )
    failed = res.leaderboard.set_index("model").loc["decision_tree"]
    assert failed["status"] == "failed"
    assert "max_depth" in failed["error"]
    assert res.best.name == "decision_tree_2"
    assert [t["status"] for t in res.trials] == ["failed", "ok"]


def test_grid_search_evaluates_every_combination_and_reports_best_params(binary_data):
    X, y = binary_data.features(), binary_data.target_series()
    grid = {"max_depth": [2, 4], "min_samples_split": [2, 10]}
    res = search(
        X,
        y,
        schema=binary_data.schema,
        task="binary",
        metric="roc_auc",
        candidates=["decision_tree"],
        strategy="grid",
        param_grid=grid,
        cv=3,
    )
    assert len(res.trials) == 4
    assert {tuple(sorted(t["params"].items())) for t in res.trials} == {
        (("max_depth", d), ("min_samples_split", m)) for d in (2, 4) for m in (2, 10)
    }
    best = max(res.trials, key=lambda t: t["score"])
    assert res.best_params == best["params"]
    assert res.model.named_steps["model"].max_depth == res.best_params["max_depth"]


def test_random_search_samples_from_the_grid(binary_data):
    X, y = binary_data.features(), binary_data.target_series()
    res = search(
        X,
        y,
        schema=binary_data.schema,
        task="binary",
        metric="roc_auc",
        candidates=["decision_tree"],
        strategy="random",
        param_grid={"max_depth": [2, 3, 4, 5, 6]},
        max_trials=2,
        cv=2,
    )
    assert len(res.trials) == 2
    assert {t["params"]["max_depth"] for t in res.trials} <= {2, 3, 4, 5, 6}


def test_grid_with_unknown_parameter_names_it_and_lists_valid_ones(binary_data):
    X, y = binary_data.features(), binary_data.target_series()
    with pytest.raises(
        ConfigurationError, match=r"Parameter 'depth' .* Valid parameters: .*max_depth"
    ):
        search(
            X,
            y,
            schema=binary_data.schema,
            task="binary",
            metric="roc_auc",
            candidates=["decision_tree"],
            strategy="grid",
            param_grid={"depth": [3]},
        )


@pytest.mark.slow
@pytest.mark.timeout(900)  # the second run shares the cores with three busy processes
def test_search_with_seed_and_max_trials_is_reproducible_on_a_busy_machine(binary_data):
    """With a trial budget no decision reads a clock: a run on a machine whose cores are all
    busy makes the same trials, ensemble and final model as a run on an idle one (two
    trials at a time, so the order Optuna hears of them must not depend on timing)."""
    import subprocess
    import sys

    X, y = binary_data.features(), binary_data.target_series()

    def run():
        return search(X, y, schema=binary_data.schema, task="binary", metric="roc_auc",
                      candidates=["logistic_regression", "lightgbm", "extra_trees"], cv=2,
                      max_trials=6, seed=3, n_jobs=2, time_budget=600)  # fmt: skip

    first = run()
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    try:
        second = run()
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert len([t for t in first.trials if t["stage"] != "ensemble"]) == 6
    assert [t["stage"] for t in first.trials][:3] == ["portfolio"] * 3
    strip = lambda r: [(t["name"], t["params"], t["fold_scores"]) for t in r.trials]  # noqa: E731
    assert strip(first) == strip(second)
    assert first.best.name == second.best.name and first.final_fit == second.final_fit
    assert [n for n in first.notes] == [n for n in second.notes]
    np.testing.assert_array_equal(first.model.predict_proba(X), second.model.predict_proba(X))


def test_search_rejects_nonpositive_budget(binary_data):
    X, y = binary_data.features(), binary_data.target_series()
    with pytest.raises(ConfigurationError, match="time_budget must be > 0"):
        search(
            X,
            y,
            schema=binary_data.schema,
            task="binary",
            metric="roc_auc",
            candidates=["logistic_regression"],
            time_budget=0,
        )


def test_search_temperature_scales_an_overconfident_classifier_and_refits_it_so():
    from modelloop.models import TemperatureScaled, apply_temperature

    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=(n, 2))
    y = np.array(["a", "b", "c"])[(x[:, 0] > 0).astype(int) + (rng.random(n) < 0.3)]
    ds = load(pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": y}), target="y")
    X, target = ds.features(), ds.target_series()
    # A fully grown tree predicts probabilities of 0 and 1: hopeless for log loss until
    # its probabilities are softened.
    res = search(X, target, schema=ds.schema, task="multiclass", metric="log_loss",
                 candidates=["decision_tree"], cv=3, max_trials=1, ensemble=False,
                 final_fit="refit")  # fmt: skip
    (trial,) = res.trials
    temperature = trial["params"]["proba_temperature"]
    assert temperature > 1.0
    assert trial["score"] < 2.0  # unscaled 0/1 probabilities score about 10 here
    final = res.model[-1]
    assert isinstance(final, TemperatureScaled) and final.temperature == temperature
    Xt = res.model[:-1].transform(X)
    np.testing.assert_allclose(
        res.model.predict_proba(X),
        apply_temperature(final.estimator_.predict_proba(Xt), temperature),
    )
    assert res.best_params == {}  # the search's own parameters stay the estimator's


def test_search_weights_classes_for_balanced_accuracy_on_imbalanced_labels():
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    y = np.where(x + rng.normal(scale=1.0, size=n) > 1.6, "rare", "common")  # ~10 % rare
    ds = load(pd.DataFrame({"x": x, "y": y}), target="y")
    X, target = ds.features(), ds.target_series()
    res = search(X, target, schema=ds.schema, task="binary", metric="balanced_accuracy",
                 candidates=["logistic_regression"], cv=3, max_trials=2, ensemble=False,
                 final_fit="refit")  # fmt: skip
    weighted, plain = res.trials
    assert weighted["params"]["class_weight"] == "balanced"
    assert "class_weight" not in plain["params"]
    # The weights move the most-probable-class rule towards the rare class (a tuned
    # decision threshold, kept for both trials here, can do the same for the plain one).
    by_number = {c.number: c for c in res.candidates}
    y_arr, classes = np.asarray(target), np.unique(target)

    def argmax_score(trial: dict) -> float:
        oof = by_number[trial["number"]].oof
        return score("balanced_accuracy", y_arr, y_pred=classes[oof.argmax(axis=1)])

    assert argmax_score(weighted) > argmax_score(plain) + 0.05
    best = res.model[-1].estimator_ if hasattr(res.model[-1], "threshold") else res.model[-1]
    estimator = getattr(best, "estimator_", best)  # inside a TemperatureScaled, if any
    assert estimator.get_params().get("class_weight") == res.best.params.get("class_weight")
    # ROC AUC does not depend on a cut-off: no weights there.
    res = search(X, target, schema=ds.schema, task="binary", metric="roc_auc",
                 candidates=["logistic_regression"], cv=3, max_trials=1, ensemble=False,
                 final_fit="refit")  # fmt: skip
    assert "class_weight" not in res.trials[0]["params"]


def test_search_excludes_every_trial_slower_than_max_latency(binary_data):
    from modelloop.exceptions import TrainingError

    X, y = binary_data.features(), binary_data.target_series()
    with pytest.raises(TrainingError, match=r"latency .* ms > --max-latency-ms 1e-06"):
        search(X, y, schema=binary_data.schema, task="binary", metric="roc_auc",
               candidates=["logistic_regression"], cv=2, max_trials=1, max_latency_ms=1e-6)  # fmt: skip


def test_ensemble_over_the_latency_limit_is_left_out(binary_data):
    from modelloop.tuning._ensemble import run_ensemble as _ensemble
    from modelloop.tuning._records import CandidateResult

    state = _search_state(binary_data, "roc_auc", k=2)
    y = state.problem.y
    rng = np.random.default_rng(0)
    truth = (y == "yes").astype(float)
    for i in range(2):  # two different, partly right models: their blend beats both
        p = np.clip(truth * 0.3 + rng.random(len(y)) * 0.7, 0.01, 0.99)
        state.results.append(CandidateResult(f"m{i}", "lightgbm", "ok", cv_scores=(0.8, 0.8),
                                             oof=np.column_stack([1 - p, p]), latency_ms=3.0))  # fmt: skip
    try:
        assert _ensemble(state) is not None
        _with(state, max_latency_ms=5.0)  # each member is within it; the two together are not
        assert _ensemble(state) is None
    finally:
        state.executor.close()


def test_search_tunes_a_decision_threshold_for_f1_and_refits_with_it():
    from sklearn.model_selection import FixedThresholdClassifier

    from modelloop.models import predicted_labels

    ds = _rare_positive()
    X, target = ds.features(), ds.target_series()
    res = search(X, target, schema=ds.schema, task="binary", metric="f1",
                 candidates=["logistic_regression"], cv=3, max_trials=2, ensemble=False,
                 final_fit="refit")  # fmt: skip
    folds = make_folds(pd.Series(np.asarray(target)), "binary", 3, seed=0)
    classes, y_arr = np.unique(target), np.asarray(target)
    for c in res.candidates:
        threshold = c.to_record()["params"]["decision_threshold"]
        assert 0.0 < threshold < 1.0 and threshold != 0.5
        argmax = [score("f1", y_arr[va], y_pred=classes[c.oof[va].argmax(axis=1)], classes=classes)
                  for _, va in folds]  # fmt: skip
        assert c.cv_mean > np.mean(argmax) + 0.01
    final = res.model[-1]
    assert isinstance(final, FixedThresholdClassifier)
    assert final.threshold == res.best.refit_params["decision_threshold"]
    proba = res.model.predict_proba(X)
    np.testing.assert_array_equal(res.model.predict(X), predicted_labels(res.model, proba))
    assert "decision_threshold" not in res.best_params  # not an estimator parameter


def test_search_leaves_the_decision_threshold_alone_for_a_grid_search():
    rng = np.random.default_rng(0)
    n = 200
    x = rng.normal(size=n)
    y = np.where(x + rng.normal(size=n) > 1.8, "rare", "common")
    ds = load(pd.DataFrame({"x": x, "y": y}), target="y")
    res = search(ds.features(), ds.target_series(), schema=ds.schema, task="binary",
                 metric="f1", candidates=["logistic_regression"], cv=3, strategy="grid",
                 param_grid={"C": [1.0]}, ensemble=False,
                 final_fit="refit")  # fmt: skip
    assert "decision_threshold" not in res.trials[0]["params"]


def _prices(n: int, seed: int = 0, shift: float = 0.0):
    """A house-price-like dataset: the target is multiplicative in its features."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(40, 250, n).round(1)
    town = rng.choice(["north", "south", "centre"], n)
    log_price = 10.5 + 0.012 * area + (town == "centre") * 0.5 + rng.normal(0, 0.15, n)
    ds = load(pd.DataFrame({"area": area, "town": town, "price": np.exp(log_price) + shift}),
              target="price")  # fmt: skip
    return ds, ds.features(), ds.target_series()


def test_search_tries_a_log_target_twin_on_a_skewed_target_and_optuna_keeps_it():
    from modelloop.models import LogTargetRegressor

    ds, X, target = _prices(300)
    res = search(X, target, schema=ds.schema, task="regression", metric="rmse",
                 candidates=["ridge"], cv=3, max_trials=3, ensemble=False,
                 final_fit="refit")  # fmt: skip
    plain, twin, tuned = res.trials
    assert "target_transform" not in plain["params"]
    assert twin["params"] == {"target_transform": "log1p"} and twin["stage"] == "portfolio"
    assert twin["score"] < plain["score"]
    # The family's best trial used the log target: Optuna keeps it fixed.
    assert tuned["stage"] == "optuna" and tuned["params"]["target_transform"] == "log1p"
    # Out-of-fold predictions are back on the price scale, and scored there.
    oof = next(c for c in res.candidates if c.number == twin["number"]).oof[:, 0]
    y = np.asarray(target, dtype=float)
    folds = make_folds(target, "regression", 3, seed=0)
    rmse = [float(np.sqrt(np.mean((oof[va] - y[va]) ** 2))) for _, va in folds]
    np.testing.assert_allclose(rmse, twin["fold_scores"], rtol=1e-9)
    assert isinstance(res.model[-1], LogTargetRegressor)


@pytest.mark.parametrize("shift", [-200_000.0, None])
def test_search_adds_no_log_target_twin_to_a_negative_or_symmetric_target(shift):
    ds, X, target = _prices(200, shift=shift or 0.0)
    if shift is None:  # symmetric: the log of the price
        target = np.log(target)
    res = search(X, target, schema=ds.schema, task="regression", metric="rmse",
                 candidates=["ridge"], cv=3, max_trials=2, ensemble=False,
                 final_fit="refit")  # fmt: skip
    assert [t["stage"] for t in res.trials] == ["portfolio", "optuna"]
    assert all("target_transform" not in t["params"] for t in res.trials)


def test_search_stops_a_log_target_booster_early_on_the_log_scale():
    from modelloop.models import LogTargetRegressor

    ds, X, target = _prices(330)  # training folds of 220 rows: boosters stop early
    res = search(X, target, schema=ds.schema, task="regression", metric="rmse",
                 candidates=["lightgbm"], cv=3, max_trials=3, ensemble=False,
                 final_fit="refit")  # fmt: skip
    plain, _, twin = res.trials  # the twin follows the first two portfolio entries
    assert twin["status"] == "ok" and twin["params"]["target_transform"] == "log1p"
    assert twin["score"] < 1.5 * plain["score"]  # a sane model, scored on the price scale
    candidate = next(c for c in res.candidates if c.number == twin["number"])
    assert candidate.refit_params["n_estimators"] < 3000  # the early-stopped rounds
    assert candidate.refit_params["target_transform"] == "log1p"
    if res.best.number == twin["number"]:
        assert isinstance(res.model[-1], LogTargetRegressor)


# ------------------------------------------------------------------ the final model


def test_bagged_final_model_is_the_trials_own_fold_models(binary_data):
    from modelloop.models import FoldBag

    ds, X, target = _prices(300)
    res = search(X, target, schema=ds.schema, task="regression", metric="rmse",
                 candidates=["lightgbm"], cv=3, max_trials=1, final_fit="bag")  # fmt: skip
    assert res.final_fit == "bagged" and isinstance(res.model, FoldBag)
    assert len(res.model.estimators) == 3  # one per fold
    assert res.leaderboard["final_fit"].tolist()[0] == "bagged"
    # Each fold model is exactly the model behind the trial's out-of-fold predictions
    # (early stopping included), so the CV score is each member's honest score.
    folds = make_folds(target, "regression", 3, seed=0)
    for member, (_, va) in zip(res.model.estimators, folds, strict=True):
        np.testing.assert_allclose(member.predict(X.iloc[va]), res.best.oof[va, 0], rtol=1e-12)
    np.testing.assert_allclose(
        res.model.predict(X), np.mean([m.predict(X) for m in res.model.estimators], axis=0)
    )


def test_bagged_classifier_keeps_the_trials_temperature_and_threshold():
    from modelloop.models import FoldBag, decision_threshold

    ds = _rare_positive()
    X, target = ds.features(), ds.target_series()
    res = search(X, target, schema=ds.schema, task="binary", metric="f1",
                 candidates=["logistic_regression"], cv=3, max_trials=1, final_fit="bag")  # fmt: skip
    bag = res.model
    assert isinstance(bag, FoldBag) and res.final_fit == "bagged"
    params = res.best.refit_params
    assert decision_threshold(bag) == params["decision_threshold"]
    assert bag.temperatures_ == [params.get("proba_temperature")] * 3
    proba = bag.predict_proba(X)
    positive = proba[:, 1] >= params["decision_threshold"]
    assert bag.predict(X).tolist() == np.where(positive, bag.classes_[1], bag.classes_[0]).tolist()


def test_auto_final_fit_with_two_folds_refits_without_a_failed_check(binary_data):
    X, y = binary_data.features(), binary_data.target_series()
    res = search(X, y, schema=binary_data.schema, task="binary", metric="roc_auc",
                 candidates=["logistic_regression"], cv=2, max_trials=1, seed=0)  # fmt: skip
    assert res.final_fit == "refit"
    assert not [n for n in res.notes if n.startswith("Bagging check")]
    assert any("needs --cv 3 or more" in n for n in res.notes)


def test_auto_final_fit_compares_bagging_with_the_refit_and_records_the_choice(binary_data):
    X, y = binary_data.features(), binary_data.target_series()
    res = search(X, y, schema=binary_data.schema, task="binary", metric="roc_auc",
                 candidates=["lightgbm", "logistic_regression"], cv=3, max_trials=3,
                 seed=0)  # fmt: skip
    (note,) = [n for n in res.notes if n.startswith("Bagging check")]
    assert "on 3 held-out folds" in note
    kept = note.endswith("kept the fold models.")
    assert res.final_fit == ("bagged" if kept else "refit")
    assert type(res.model).__name__ == ("FoldBag" if kept else res.model.__class__.__name__)
    assert res.leaderboard["final_fit"].tolist() == [res.final_fit] + [""] * (
        len(res.candidates) - 1
    )


def test_bagging_is_refused_when_the_fold_models_would_predict_too_slowly(binary_data):
    X, y = binary_data.features(), binary_data.target_series()
    res = search(X, y, schema=binary_data.schema, task="binary", metric="roc_auc",
                 candidates=["logistic_regression"], cv=3, max_trials=1, final_fit="bag",
                 min_rows_per_s=1e12)  # fmt: skip
    assert res.final_fit == "refit" and type(res.model).__name__ == "Pipeline"
    assert any("Refitted rather than bagged: 3 fold models would predict" in n for n in res.notes)


def test_refit_final_fit_never_checks_bagging(binary_data):
    X, y = binary_data.features(), binary_data.target_series()
    res = search(X, y, schema=binary_data.schema, task="binary", metric="roc_auc",
                 candidates=["logistic_regression"], cv=3, max_trials=1, final_fit="refit")  # fmt: skip
    assert res.final_fit == "refit" and not any("Bagging" in n for n in res.notes)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"final_fit": "fold"}, "final_fit must be one of auto, refit, bag"),
     ({"min_rows_per_s": -1.0}, "min_rows_per_s must be >= 0")],
)  # fmt: skip
def test_search_rejects_bad_final_fit_options(binary_data, kwargs, message):
    X, y = binary_data.features(), binary_data.target_series()
    with pytest.raises(ConfigurationError, match=message):
        search(X, y, schema=binary_data.schema, task="binary", metric="roc_auc",
               candidates=["logistic_regression"], **kwargs)  # fmt: skip


def test_ensemble_takes_members_only_while_the_blend_is_fast_enough(binary_data):
    from modelloop.tuning._ensemble import run_ensemble as _ensemble
    from modelloop.tuning._records import CandidateResult

    state = _search_state(binary_data, "roc_auc", k=2)
    y = state.problem.y
    rng = np.random.default_rng(0)
    truth = (y == "yes").astype(float)
    for i, speed in enumerate((30_000.0, 30_000.0, 12_000.0)):
        p = np.clip(truth * 0.3 + rng.random(len(y)) * 0.7, 0.01, 0.99)
        state.results.append(CandidateResult(f"m{i}", "lightgbm", "ok", cv_scores=(0.8, 0.8),
                                             oof=np.column_stack([1 - p, p]), rows_per_s=speed))  # fmt: skip
    try:
        free = _ensemble(state)
        assert free is not None and len(free.weights) == 3  # all three blend best
        _with(state, min_rows_per_s=10_000.0)
        fast = _ensemble(state)
        assert fast is not None and fast.rows_per_s >= 10_000.0
        assert set(fast.weights) == {"m0", "m1"}  # 30k and 30k blend at 15k; with 12k, 5.5k
        _with(state, min_rows_per_s=14_000.0)  # 15k does not clear it by the 15 % margin
        assert _ensemble(state) is None
    finally:
        state.executor.close()


def test_ensemble_tunes_its_own_decision_threshold_and_the_refit_applies_it():
    from sklearn.ensemble import VotingClassifier
    from sklearn.model_selection import FixedThresholdClassifier

    from modelloop.models import decision_threshold, thresholded
    from modelloop.tuning._ensemble import run_ensemble as _ensemble
    from modelloop.tuning._final import final_fit as _final_fit
    from modelloop.tuning._records import CandidateResult

    rng = np.random.default_rng(0)
    state = _search_state(_rare_positive(rng), "f1", k=3)
    X, y, folds, n = state.problem.X, state.problem.y, state.problem.folds, len(state.problem.y)
    truth = (y == "rare").astype(float)
    for i, family in enumerate(("logistic_regression", "decision_tree")):
        # Partly right and too timid about the rare class: a threshold under 0.5 pays.
        p = np.clip(truth * 0.35 + rng.random(n) * 0.45, 0.01, 0.99)
        oof = np.column_stack([1 - p, p])
        labels = np.unique(y)[(p >= 0.5).astype(int)]
        fold_f1 = tuple(
            score("f1", y[va], y_pred=labels[va], classes=np.unique(y)) for _, va in folds
        )
        state.results.append(CandidateResult(f"m{i}", family, "ok", cv_scores=fold_f1, oof=oof,
                                             params={"max_depth": 3} if i else {},
                                             refit_params={"max_depth": 3} if i else {}))  # fmt: skip
    try:
        blend = _ensemble(state)
        assert blend is not None
        threshold = blend.refit_params["decision_threshold"]
        assert 0.0 < threshold < 0.5
        assert blend.to_record()["params"]["decision_threshold"] == threshold
        state.results.append(blend)
        by_name = {c.name: c for c in state.results}
        model, chosen, _, how = _final_fit(state, [blend, *state.results[:2]], by_name, [])
        assert chosen is blend and how == "refit"
        assert isinstance(model, FixedThresholdClassifier)
        assert decision_threshold(model) == threshold
        assert isinstance(thresholded(model), VotingClassifier)
        proba = model.predict_proba(X)
        assert (
            model.predict(X).tolist()
            == np.where(proba[:, 1] >= threshold, "rare", "common").tolist()
        )
    finally:
        state.executor.close()


def _timed_like(table: dict[str, float], whole: float | None = None):
    """A stand-in for ``measure_speed``: each member of a refitted blend predicts at the
    rows/s ``table`` gives its name, and a blend at the rate of its members in a row (or
    at ``whole``, a slow timing of the whole blend)."""
    from sklearn.ensemble import VotingClassifier
    from sklearn.model_selection import FixedThresholdClassifier

    from modelloop.models import thresholded
    from modelloop.tuning._ensemble import blend_rows_per_s

    names: dict[int, str] = {}

    def fake(model, X, task, batches=1):
        model = thresholded(model) if isinstance(model, FixedThresholdClassifier) else model
        if isinstance(model, VotingClassifier):
            for (name, _), est in zip(model.estimators, model.estimators_, strict=True):
                names[id(est)] = name
            speed = blend_rows_per_s([table[names[id(e)]] for e in model.estimators_])
            return 1.0, speed if whole is None else whole
        return 1.0, table[names[id(model)]]

    return fake


@pytest.mark.parametrize(
    ("floor", "kept", "whole"),
    [
        (10_000.0, {"m0", "m1"}, None),
        (20_000.0, {"m1"}, None),
        (6_000.0, None, None),
        (10_000.0, None, 9_000.0),  # one slow timing; the members together clear the floor
    ],
)
def test_a_refitted_blend_under_the_speed_floor_keeps_its_fastest_best_members(
    binary_data, monkeypatch, floor, kept, whole
):
    from sklearn.ensemble import VotingClassifier

    from modelloop.tuning import _final as search_module
    from modelloop.tuning._ensemble import run_ensemble as _ensemble
    from modelloop.tuning._final import final_fit as _final_fit
    from modelloop.tuning._final import speed_check as _speed_check
    from modelloop.tuning._records import CandidateResult

    state = _search_state(binary_data, "roc_auc", k=2)
    y, X = state.problem.y, state.problem.X
    rng = np.random.default_rng(0)
    truth = (y == "yes").astype(float)
    speeds = {"m0": 30_000.0, "m1": 30_000.0, "m2": 12_000.0}  # as the refitted members run
    for i, family in enumerate(("logistic_regression", "decision_tree", "knn")):
        p = np.clip(truth * 0.3 + rng.random(len(y)) * 0.7, 0.01, 0.99)
        state.results.append(
            CandidateResult(
                f"m{i}",
                family,
                "ok",
                cv_scores=(0.8, 0.8),
                oof=np.column_stack([1 - p, p]),
                rows_per_s=1e6,
            )
        )  # their fold models looked fast
    try:
        blend = _ensemble(state)
        assert blend is not None and len(blend.weights) == 3
        state.results.append(blend)
        by_name = {c.name: c for c in state.results}
        model, chosen, _, _ = _final_fit(state, [blend, *state.results[:3]], by_name, [])
        if whole is not None:
            speeds = {"m0": 60_000.0, "m1": 60_000.0, "m2": 60_000.0}
        monkeypatch.setattr(search_module, "measure_speed", _timed_like(speeds, whole))
        _with(state, min_rows_per_s=floor)
        notes: list[str] = []
        faster, final, speed = _speed_check(state, model, chosen, by_name, notes)
        if kept is None and whole is None:  # 6.7k rows/s clears a 6k floor: nothing said
            assert faster is model and final is blend and speed[1] == pytest.approx(20_000 / 3)
            assert notes == []
            return
        if kept is None:  # 9k timed, the members 20k together: the blend stays as it is
            assert faster is model and final is blend and speed[1] == whole
            assert notes == [
                "The final model predicts 9,000 rows/s on a 10,000-row batch, under "
                "--min-rows-per-second 10,000; its members, timed one by one, clear it "
                "together (20,000 rows/s), so it was kept."
            ]
            return
        assert isinstance(faster, VotingClassifier) and set(faster.named_estimators_) == kept
        for name in kept:  # the members fitted by the refit, not fitted again
            assert faster.named_estimators_[name] is model.named_estimators_[name]
        assert speed[1] >= floor
        if len(kept) > 1:  # a new candidate, scored on the same out-of-fold predictions
            assert final.name == "ensemble_fast" and final in state.results
            assert by_name["ensemble_fast"] is final and set(final.weights) == kept
        else:  # the best single member (m1 here) is never left out for its speed
            assert final is by_name["m1"]
        (note,) = notes
        assert note.startswith("The final model predicts 6,667 rows/s on a 10,000-row batch, "
                               f"under --min-rows-per-second {floor:,.0f}; its members measured ")  # fmt: skip
        assert (
            "m0 30,000" in note
            and "m2 12,000" in note
            and f"CV roc_auc {final.cv_mean:.6g}" in note
        )
        proba = faster.predict_proba(X)
        assert proba.shape == (len(y), 2) and np.allclose(proba.sum(axis=1), 1.0)
    finally:
        state.executor.close()


def test_search_times_its_final_model(binary_data):
    X, y = binary_data.features(), binary_data.target_series()
    res = search(X, y, schema=binary_data.schema, task="binary", metric="roc_auc",
                 candidates=["logistic_regression"], cv=2, max_trials=1)  # fmt: skip
    assert set(res.speed) == {"latency_ms", "rows_per_s"}
    assert res.speed["latency_ms"] > 0 and res.speed["rows_per_s"] > 0


def test_an_ensemble_that_cannot_be_scored_is_skipped_with_a_warning(
    binary_data, monkeypatch, caplog
):
    from modelloop.tuning import _ensemble
    from modelloop.tuning._records import CandidateResult

    state = _search_state(binary_data, "roc_auc", k=2)
    y = state.problem.y
    p = np.full(len(y), 0.5)
    for i in range(2):
        state.results.append(CandidateResult(f"m{i}", "lightgbm", "ok", cv_scores=(0.8, 0.8),
                                             oof=np.column_stack([1 - p, p])))  # fmt: skip

    def undefined(*args, **kwargs):
        raise ValueError("the metric is undefined on these predictions")

    monkeypatch.setattr(_ensemble, "select_ensemble", undefined)
    try:
        with caplog.at_level("WARNING", logger="modelloop.tuning"):
            assert _ensemble.run_ensemble(state) is None
    finally:
        state.executor.close()
    assert "The ensemble stage was skipped: the metric is undefined" in caplog.text
