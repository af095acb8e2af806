"""retrain (champion vs challenger on the same recent rows), the policy and the watcher."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelloop.exceptions import ConfigurationError, InvalidInputError, NotFoundError

MODEL = "drifty"
RUN_PARAMS = {
    "candidates": ["logistic_regression"],
    "search": "auto",
    "param_grid": None,
    "max_trials": 1,
    "max_latency_ms": None,
    "cv": 2,
    "time_budget": 60,
    "seed": 0,
}


def _rows(n: int, shifted: bool, seed: int) -> pd.DataFrame:
    """Before the shift 'y' follows x1; after it, x2 (and x1 moves by one std)."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(1.0 if shifted else 0.0, 1.0, n)
    x2 = rng.normal(size=n)
    signal = x2 if shifted else x1
    y = np.where(signal + 0.3 * rng.normal(size=n) > 0, "yes", "no")
    return pd.DataFrame({"x1": x1, "x2": x2, "c": rng.choice(["a", "b"], n), "y": y})


def _register_champion(store: Any, frame: pd.DataFrame, *, with_reference: bool = True) -> Any:
    """Version 1 of MODEL as ``train`` registers it (run, schema, reference), fitted quickly."""
    from sklearn.linear_model import LogisticRegression

    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline

    schema = infer_schema(frame, target="y")
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame.drop(columns=["y"]), frame["y"])
    run = store.create_run(
        name=MODEL, dataset_hash=None, target="y", task="binary", metric="roc_auc",
        params=RUN_PARAMS,
    )  # fmt: skip
    store.finish_run(run.id, status="finished")
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary", "target": "y",
              "classes": pipeline.classes_.tolist()}  # fmt: skip
    return store.register_model(
        MODEL, bundle, run_id=run.id, schema=schema.to_dict(), task="binary", metrics={},
        aliases=["production"], reference=frame if with_reference else None,
        lineage={"trigger": "train"},
    )  # fmt: skip


def _serve_and_label(store: Any, frame: pd.DataFrame, start: int = 0, labels: bool = True) -> None:
    """Log ``frame`` as production traffic of MODEL, then send its labels."""
    records = frame.drop(columns=["y"]).to_dict(orient="records")
    store.log_predictions(
        [
            {"request_id": f"q{start + i}", "model_name": MODEL, "model_version": 1, "inputs": r}
            for i, r in enumerate(records)
        ]
    )
    if labels:
        items = [{"request_id": f"q{start + i}", "label": y} for i, y in enumerate(frame["y"])]
        result = store.record_feedback(MODEL, items, task="binary", classes=["no", "yes"])
        assert result.labeled == len(frame)


@pytest.fixture
def store(settings: Any):
    from modelloop.store import Store

    with Store.from_settings(settings) as opened:
        yield opened


def test_retrain_promotes_a_better_challenger(settings, store) -> None:
    from modelloop.workflows import retrain

    _register_champion(store, _rows(300, False, 0))
    _serve_and_label(store, _rows(200, True, 1))
    result = retrain(MODEL, window=100, recent_weight=2.0, settings=settings, store=store)

    assert result.promoted and result.challenger_score > result.champion_score
    assert result.improvement == pytest.approx(result.challenger_score - result.champion_score)
    assert "better by" in result.reason
    assert (result.n_reference, result.n_production, result.n_holdout) == (300, 100, 40)
    assert store.get_model_version(MODEL, alias="production").version == 2
    v2 = store.get_model_version(MODEL, 2)
    assert v2.aliases == ("challenger", "production")
    assert v2.lineage["trigger"] == "retrain" and v2.lineage["parent"] == 1
    data = v2.lineage["data"]
    assert data["reference_snapshot"] == "drifty.reference@1"
    assert (data["production_rows"], data["window"], data["holdout_rows"]) == (100, 100, 40)
    assert v2.lineage["evaluation"]["promoted"] is True
    # the challenger's reference: every row it saw, once (no weighting copies, no holdout)
    assert len(store.reference_data(v2)) == 400
    # same settings as the champion: its search space and budget
    params = store.get_run(v2.run_id).params
    assert params["candidates"] == ["logistic_regression"] and params["max_trials"] == 1
    assert params["test_source"] == "separate test table"
    # both scored on the same rows: the challenger's test metrics are its held-out scores
    assert result.train_result.metrics["roc_auc"] == pytest.approx(result.challenger_score)


def test_retrain_keeps_the_champion_when_not_better_enough(settings, store) -> None:
    from modelloop.workflows import RetrainPolicy, watch

    _register_champion(store, _rows(300, False, 0))
    _serve_and_label(store, _rows(120, False, 5))
    events: list[Any] = []
    results = watch(
        [MODEL],
        policy=RetrainPolicy(min_new_labels=100),
        interval_s=0.01,
        max_checks=2,
        on_event=events.append,
        retrain_options={"min_improvement": 0.05, "min_holdout": 30},
        settings=settings,
        store=store,
    )
    assert len(results) == 1  # the second check finds no new labels since version 2
    result = results[0]
    assert not result.promoted and result.trigger == "auto"
    assert "the champion is kept" in result.reason
    assert store.get_model_version(MODEL, alias="production").version == 1
    v2 = store.get_model_version(MODEL, 2)
    assert v2.aliases == ("challenger",) and v2.lineage["trigger"] == "auto"
    assert v2.lineage["evaluation"]["promoted"] is False
    assert [e.kind for e in events] == ["check", "retrain", "check"]
    assert "waiting for 100" in events[-1].message


def test_retrain_without_labels_is_a_clear_error(settings, store) -> None:
    from modelloop.workflows import retrain

    _register_champion(store, _rows(100, False, 0))
    with pytest.raises(InvalidInputError, match="no labeled production rows"):
        retrain(MODEL, settings=settings, store=store)
    _serve_and_label(store, _rows(30, True, 1))
    with pytest.raises(InvalidInputError, match="has 30 labeled production rows; retrain needs"):
        retrain(MODEL, settings=settings, store=store)
    assert [v.version for v in store.list_versions(MODEL)] == [1]  # nothing registered


def test_retrain_without_reference_data_is_a_clear_error(settings, store) -> None:
    from modelloop.workflows import retrain

    _register_champion(store, _rows(100, False, 0), with_reference=False)
    with pytest.raises(NotFoundError, match="has no reference data"):
        retrain(MODEL, settings=settings, store=store)


def test_retrain_unknown_model_and_bad_options(settings, store) -> None:
    from modelloop.exceptions import ModelNotFoundError
    from modelloop.workflows import retrain

    with pytest.raises(ModelNotFoundError, match="No model named 'nope'"):
        retrain("nope", settings=settings, store=store)
    with pytest.raises(ConfigurationError, match="recent_weight must be in"):
        retrain(MODEL, recent_weight=0.5, settings=settings, store=store)
    with pytest.raises(ConfigurationError, match="holdout must be a share"):
        retrain(MODEL, holdout=1.5, settings=settings, store=store)
    with pytest.raises(ConfigurationError, match="window must be a number of recent"):
        retrain(MODEL, window="lots", settings=settings, store=store)


def test_parse_window_counts_and_durations() -> None:
    from datetime import timedelta

    from modelloop.workflows._retrain import parse_window

    assert parse_window(None) is None
    assert parse_window("250") == 250
    assert parse_window("7d") == timedelta(days=7)
    assert parse_window("90m") == timedelta(minutes=90)
    with pytest.raises(ConfigurationError, match="at least 1 row"):
        parse_window(0)


def test_duplicate_weights_recent_rows() -> None:
    from modelloop.workflows._retrain import _duplicate

    frame = pd.DataFrame({"a": range(1000)})
    assert len(_duplicate(frame, 1.0, 0)) == 1000
    assert len(_duplicate(frame, 3.0, 0)) == 3000
    n = len(_duplicate(frame, 2.5, 0))
    assert 2400 < n < 2600  # every row twice, half of them three times


def test_verdict_respects_the_metric_direction() -> None:
    from modelloop.workflows._retrain import _verdict

    promoted, gain, _ = _verdict("rmse", 2.0, 1.5, 0.0, 50)
    assert promoted and gain == pytest.approx(0.5)
    promoted, gain, why = _verdict("roc_auc", 0.80, 0.81, 0.02, 50)
    assert not promoted and "less than the required" in why
    promoted, gain, why = _verdict("roc_auc", math.nan, 0.9, 0.0, 50)
    assert not promoted and "undefined" in why


def test_policy_due_counts_labels_since_the_newest_version(settings, store) -> None:
    from modelloop.workflows import RetrainPolicy, policy_due

    _register_champion(store, _rows(100, False, 0))
    due, why = policy_due(store, MODEL, RetrainPolicy(min_new_labels=10))
    assert not due and "0 new labels" in why
    _serve_and_label(store, _rows(12, True, 1))
    due, why = policy_due(store, MODEL, RetrainPolicy(min_new_labels=10))
    assert due and "12 new labels since version 1" in why
    with pytest.raises(ConfigurationError, match="min_new_labels"):
        RetrainPolicy(min_new_labels=0).check()


def test_policy_due_on_a_drift_alert(settings, store) -> None:
    from modelloop.workflows import RetrainPolicy, policy_due

    _register_champion(store, _rows(300, False, 0))
    shifted = _rows(200, True, 1)
    _serve_and_label(store, shifted, labels=False)
    store.record_feedback(
        MODEL, [{"request_id": "q0", "label": "yes"}], task="binary", classes=["no", "yes"]
    )
    due, why = policy_due(store, MODEL, RetrainPolicy(min_new_labels=100), settings)
    assert not due and "waiting for 100" in why
    due, why = policy_due(store, MODEL, RetrainPolicy(min_new_labels=100, drift=True), settings)
    assert due and why.startswith("drift alert (") and "1 new labels" in why
