"""Measured performance weighted by the rows' sample weights, and the selection metric."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from modelloop.evaluation import make_metric, register_metric
from modelloop.monitoring import window_performance
from modelloop.store import Store
from modelloop.workflows import monitor


def test_window_performance_weights_the_measured_metrics() -> None:
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    y = [0, 1, 1, 0]  # rows 3 and 4 are wrong
    w = [1.0, 1.0, 0.0, None]  # row 3 weighs nothing; row 4 has no weight: counts 1
    got = window_performance("now", "binary", classes=[0, 1], proba=proba, y_true=y,
                             sample_weight=w, min_labels=1)  # fmt: skip
    assert got.actual["accuracy"] == 2 / 3
    plain = window_performance("now", "binary", classes=[0, 1], proba=proba, y_true=y,
                               min_labels=1)  # fmt: skip
    assert plain.actual["accuracy"] == 0.5


def test_window_performance_measures_extra_metrics_it_can_compute() -> None:
    register_metric(
        make_metric(lambda t, p, sample_weight=None: float(np.sum(p != t)), greater_is_better=False,
                    name="errors_count")
    )  # fmt: skip
    got = window_performance(
        "now", "regression", prediction=[1.0, 2.0, 5.0], y_true=[1.0, 2.0, 3.0],
        min_labels=1, extra=["errors_count", "mae", "not_imported:f"],
    )  # fmt: skip
    assert got.actual["errors_count"] == 1.0
    assert got.actual["mae"] == 2 / 3
    assert "not_imported:f" not in got.actual


def test_monitor_weights_labelled_rows_by_the_models_weight_column(settings) -> None:
    from sklearn.linear_model import LogisticRegression

    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=300)})
    frame["label"] = (frame["a"] > 0).astype(int)
    frame["w"] = 1.0
    schema = infer_schema(frame, target="label", types={"w": "identifier"})
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame[["a"]], frame["label"])
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary", "classes": [0, 1]}
    now = datetime.now(UTC)
    current = pd.DataFrame({"a": rng.normal(size=100)})
    truth = (current["a"] > 0).astype(int).to_numpy()
    wrong = np.arange(100) < 40  # the first 40 labels are wrong, and weigh nothing
    labels = np.where(wrong, 1 - truth, truth)
    weights = np.where(wrong, 0.0, 2.0)
    with Store.from_settings(settings) as store:
        store.register_model(
            "weighted", bundle, run_id=None, schema=schema.to_dict(), task="binary",
            metrics={"test": {"roc_auc": 1.0}}, reference=frame, lineage={"weight": "w"},
        )  # fmt: skip
        store.log_predictions(
            [
                {"request_id": f"r{i}", "model_name": "weighted", "model_version": 1,
                 "inputs": {"a": float(a), "w": float(w)}, "prediction": 0,
                 "created_at": now - timedelta(seconds=100 - i)}
                for i, (a, w) in enumerate(zip(current["a"], weights, strict=True))
            ]
        )  # fmt: skip
        store.record_feedback(
            "weighted",
            [{"request_id": f"r{i}", "label": int(y)} for i, y in enumerate(labels)],
            task="binary",
            classes=[0, 1],
        )
        result = monitor("weighted", store=store, settings=settings, window="1000")
    actual = result.report.performance.current.actual
    assert actual["accuracy"] > 0.95  # the wrong labels weigh 0: measured unweighted, ~0.6
