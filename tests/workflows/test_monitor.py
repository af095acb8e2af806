"""``monitor``: reference rows of a registered model against its logged inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from modelloop.exceptions import EmptyDataError, InvalidInputError, NotFoundError
from modelloop.monitoring import AlertRules
from modelloop.store import Store
from modelloop.workflows import monitor
from modelloop.workflows._monitor import parse_window


def _data(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(shift, 1.0, n)
    b = rng.choice(["x", "y", "z"], n)
    logit = 1.5 * a + (b == "x")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"a": a, "b": b, "label": y})


@pytest.fixture
def trained(settings):
    """Model 'churn' v1 registered with its reference rows (no search: fast and steady)."""
    from sklearn.linear_model import LogisticRegression

    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline

    frame = _data(600, 0)
    schema = infer_schema(frame, target="label")
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame[["a", "b"]], frame["label"])
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary", "classes": [0, 1]}
    with Store.from_settings(settings) as store:
        store.register_model(
            "churn",
            bundle,
            run_id=None,
            schema=schema.to_dict(),
            task="binary",
            metrics={"test": {"roc_auc": 0.8, "accuracy": 0.75}},
            reference=frame,
        )
    return settings


def _log(store: Store, frame: pd.DataFrame, start: datetime, prefix: str) -> list[str]:
    ids = [f"{prefix}{i}" for i in range(len(frame))]
    store.log_predictions(
        [
            {
                "request_id": rid,
                "model_name": "churn",
                "model_version": 1,
                "inputs": {"a": float(row.a), "b": row.b},
                "prediction": 0,
                "created_at": start + timedelta(seconds=i),
            }
            for i, (rid, row) in enumerate(zip(ids, frame.itertuples(), strict=True))
        ]
    )
    return ids


def test_parse_window_counts_and_spans():
    assert parse_window("5000") == 5000 and parse_window(7) == 7
    assert parse_window("12h") == timedelta(hours=12) and parse_window("2w") == timedelta(weeks=2)
    with pytest.raises(InvalidInputError, match="row count such as 5000"):
        parse_window("seven days")


def test_monitor_quiet_window_raises_no_alert(trained):
    with Store.from_settings(trained) as store:
        _log(store, _data(500, 1), datetime.now(UTC) - timedelta(hours=1), "q")
        result = monitor("churn", store=store, settings=trained, window="1000")
    report = result.report
    assert result.alerts == [] and report.n_current == 500
    assert report.drifted_features == []
    assert report.prediction is not None and report.prediction.drifted is False
    assert report.performance.metric == "roc_auc" and report.performance.source == "estimated"
    assert report.performance.training is not None
    assert len(report.windows) == 5 and all("drift_share" in w for w in report.windows)
    assert report.attribution is not None and report.attribution.drifted is False


def test_monitor_shifted_window_alerts_and_measures_labels(trained):
    with Store.from_settings(trained) as store:
        start = datetime.now(UTC) - timedelta(days=3)
        _log(store, _data(300, 1), start - timedelta(days=10), "old")
        shifted = _data(400, 2, shift=1.5)
        ids = _log(store, shifted, start, "s")
        store.record_feedback(
            "churn",
            [
                {"request_id": r, "label": int(y)}
                for r, y in zip(ids, shifted["label"], strict=True)
            ],
            task="binary",
            classes=[0, 1],
        )
        result = monitor(
            "churn@latest" if False else "churn", store=store, settings=trained, window="7d"
        )
        by_count = monitor("churn", store=store, settings=trained, window=400)
    report = result.report
    assert report.n_current == 400  # the 10-day-old rows are outside the window
    assert by_count.report.n_current == 400
    assert "a" in report.drifted_features
    assert report.prediction.drifted
    assert report.domain.drifted
    assert "drift_share" in [a.rule for a in result.alerts]
    perf = report.performance
    assert perf.current.n_labeled == 400 and "roc_auc" in perf.current.actual
    assert perf.source == "labels"
    assert result.to_dict()["report"]["performance"]["current"]["n_labeled"] == 400


def test_monitor_calls_webhook_and_survives_its_failure(trained):
    calls = []
    rules = AlertRules(
        max_drift_share=0.1, webhook_url="http://127.0.0.1:9/unreachable", webhook_timeout=0.5
    )
    with Store.from_settings(trained) as store:
        _log(store, _data(300, 3, shift=2.0), datetime.now(UTC), "w")
        result = monitor("churn", store=store, settings=trained, rules=rules)
        calls.append(result.webhook)
    assert result.alerts and result.webhook is not None and not result.webhook.ok


def test_monitor_without_logged_predictions_is_a_clear_error(trained):
    with pytest.raises(EmptyDataError, match="no logged predictions in the last 7d"):
        monitor("churn", settings=trained, window="7d")


def test_monitor_model_without_reference_data_is_a_clear_error(settings):
    from sklearn.linear_model import LogisticRegression

    with Store.from_settings(settings) as store:
        schema = {"columns": [{"name": "a", "role": "numeric", "dtype": "float64"}], "target": None}
        bundle = {
            "pipeline": LogisticRegression(),
            "schema": schema,
            "task": "binary",
            "classes": [0, 1],
        }
        store.register_model("bare", bundle, run_id=None, schema=schema, task="binary", metrics={})
        with pytest.raises(NotFoundError, match="bare:1 has no reference data"):
            monitor("bare", store=store, settings=settings)


def _reasons_data(n: int, seed: int, spread: float = 1.0) -> pd.DataFrame:
    """'a' drives the label; c1..c3 are noise the model barely uses."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"c{i}": rng.normal(size=n) for i in range(1, 4)})
    frame["a"] = rng.normal(0.0, spread, n)
    frame["b"] = rng.choice(["x", "y", "z"], n)
    logit = 2.0 * frame["a"] + (frame["b"] == "x")
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def test_monitor_alerts_when_the_models_reasons_shift_though_few_inputs_drift(settings):
    from sklearn.linear_model import LogisticRegression

    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline

    frame = _reasons_data(600, 0)
    features = ["c1", "c2", "c3", "a", "b"]
    schema = infer_schema(frame, target="label")
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame[features], frame["label"])
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary", "classes": [0, 1]}
    rules = AlertRules(max_domain_auc=None, max_metric_drop=None)
    with Store.from_settings(settings) as store:
        store.register_model("reasons", bundle, run_id=None, schema=schema.to_dict(),
                             task="binary", metrics={"test": {}}, reference=frame)  # fmt: skip
        # the one column the model leans on narrows: 1 of 5 inputs drifts, its weight falls
        current = _reasons_data(400, 1, spread=0.25)
        store.log_predictions(
            [
                {"request_id": f"r{i}", "model_name": "reasons", "model_version": 1,
                 "inputs": {c: row[c] for c in features}, "prediction": 0,
                 "created_at": datetime.now(UTC) - timedelta(seconds=400 - i)}
                for i, row in enumerate(current.to_dict(orient="records"))
            ]
        )  # fmt: skip
        shifted = monitor("reasons", store=store, settings=settings, window="1000", rules=rules)
    report = shifted.report
    assert report.drift_share < 0.3  # the input drift rule stays quiet
    assert [a.rule for a in shifted.alerts] == ["attribution_drift"]
    shift = report.attribution
    assert shift.drifted and shift.distance >= 0.15 and shift.p_value <= 0.05
    assert shift.moved[0].name == "a" and shift.moved[0].change < 0
    assert "a " in shifted.alerts[0].message and "->" in shifted.alerts[0].message
    assert shift.output == "probability" and "LogisticRegression" in shift.method
    assert report.to_dict()["attribution"]["columns"][0]["name"] in features
