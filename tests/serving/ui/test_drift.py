"""The live view's drift panel: background checks, their cache, their states and charts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from modelloop.serving.ui._drift import (
    COMPUTING,
    ERROR,
    NO_REFERENCE,
    NOT_ENOUGH,
    READY,
    DriftCache,
    DriftStatus,
    drift_charts,
    top_features,
)
from modelloop.store import Store


def _stub_cache(check: Any, ttl: float = 60.0) -> DriftCache:
    return DriftCache(None, None, ttl=ttl, check=check)  # type: ignore[arg-type]


def test_drift_cache_answers_at_once_and_checks_in_the_background() -> None:
    release = threading.Event()
    threads: list[str] = []

    def check(ref: str) -> DriftStatus:
        threads.append(threading.current_thread().name)
        release.wait(10)
        return DriftStatus(READY, ref=ref, result="a result")

    cache = _stub_cache(check)
    first = cache.status("churn:1")
    assert first.state == COMPUTING and first.result is None
    release.set()
    done = cache.wait("churn:1", timeout=10)
    assert done.state == READY and done.result == "a result" and done.seconds is not None
    assert threads == ["modelloop-drift-churn:1"]  # not the caller's thread


def test_drift_cache_reuses_a_result_for_ttl_seconds() -> None:
    calls: list[str] = []

    def check(ref: str) -> DriftStatus:
        calls.append(ref)
        return DriftStatus(READY, ref=ref, result=len(calls))

    cache = _stub_cache(check, ttl=3600)
    assert cache.wait("m:1", timeout=10).result == 1
    assert cache.status("m:1").result == 1 and cache.wait("m:1", timeout=10).result == 1
    assert calls == ["m:1"]
    assert cache.wait("m:2", timeout=10).result == 2  # another version: its own check

    gate = threading.Event()

    def slow(ref: str) -> DriftStatus:
        gate.wait(10)
        return check(ref)

    expiring = _stub_cache(slow, ttl=0)
    gate.set()
    assert expiring.wait("m:1", timeout=10).result == 3
    gate.clear()
    shown = expiring.status("m:1")  # expired: the old result, while a new check runs
    assert shown.result == 3 and shown.stale
    gate.set()
    assert expiring.wait("m:1", timeout=10).result == 4


def test_drift_cache_turns_a_failing_check_into_an_error_state() -> None:
    def check(ref: str) -> DriftStatus:
        raise RuntimeError("disk on fire")

    status = _stub_cache(check).wait("m:1", timeout=10)
    assert status.state == ERROR
    assert "RuntimeError: disk on fire" in status.message


def test_drift_check_of_a_shifted_window_finds_drift_and_fires_alerts(
    drift_settings: Any, drift_data: Any, log_rows: Any
) -> None:
    with Store.from_settings(drift_settings) as store:
        log_rows(store, "churn", drift_data(400, 2, shift=1.5))
        cache = DriftCache(store, drift_settings)
        status = cache.wait("churn:1", timeout=60)
        status_again, html = cache.html("churn:1", timeout=60)
        _, html_again = cache.html("churn:1", timeout=60)
    assert status.state == READY and status.ref == "churn:1"
    report = status.result.report
    assert "a" in report.drifted_features and report.domain.auc is not None
    assert "drift_share" in [a.rule for a in status.result.alerts]
    assert status.alerting
    assert status_again.result is status.result  # the cached check
    assert html is not None and 'data-plot="hist-a"' in html and "Drift report: churn:1" in html
    assert html_again is html  # drawn once per check


def test_drift_check_of_a_quiet_window_fires_no_alert(
    drift_settings: Any, drift_data: Any, log_rows: Any
) -> None:
    with Store.from_settings(drift_settings) as store:
        log_rows(store, "churn", drift_data(300, 5))
        status = DriftCache(store, drift_settings).compute("churn:1")
    assert status.state == READY
    assert status.result.report.drifted_features == [] and status.result.alerts == []
    assert not status.alerting


def test_drift_check_says_not_enough_data_and_no_reference_data(
    drift_settings: Any, drift_data: Any, log_rows: Any
) -> None:
    with Store.from_settings(drift_settings) as store:
        cache = DriftCache(store, drift_settings)
        nothing = cache.compute("churn:1")
        log_rows(store, "churn", drift_data(12, 3))
        few = cache.compute("churn:1")
        bare = cache.compute("bare:1")
        missing = cache.compute("nobody")
    assert nothing.state == NOT_ENOUGH and "0 logged predictions of 'churn'" in nothing.message
    assert few.state == NOT_ENOUGH and "12 logged predictions" in few.message
    assert "at least 30" in few.message
    assert bare.state == NO_REFERENCE
    assert "registered without its training rows" in bare.message
    assert missing.state == ERROR and "nobody" in missing.message


def test_drift_check_of_old_predictions_outside_a_time_window_is_not_enough_data(
    drift_settings: Any, drift_data: Any, log_rows: Any
) -> None:
    settings = drift_settings.with_overrides(monitor_window="1h")
    with Store.from_settings(settings) as store:
        log_rows(store, "churn", drift_data(100, 3), start=datetime.now(UTC) - timedelta(days=3))
        status = DriftCache(store, settings).compute("churn")
    assert status.state == NOT_ENOUGH
    assert "no logged predictions in the last 1h" in status.message


def test_drift_check_of_inputs_without_the_model_s_columns_is_an_error(
    drift_settings: Any,
) -> None:
    now = datetime.now(UTC)
    with Store.from_settings(drift_settings) as store:
        store.log_predictions(
            [
                {
                    "request_id": f"r{i}",
                    "model_name": "churn",
                    "model_version": 1,
                    "inputs": {"other": i},
                    "prediction": "1",
                    "created_at": now - timedelta(seconds=i),
                }
                for i in range(40)
            ]
        )
        status = DriftCache(store, drift_settings).compute("churn:1")
    assert status.state == ERROR and "lacks column(s) 'a', 'b'" in status.message


def test_top_features_put_drifted_columns_first() -> None:
    cols = [
        SimpleNamespace(name="quiet", drifted=False, p_adjusted=0.9, statistic=0.01),
        SimpleNamespace(name="unsure", drifted=None, p_adjusted=None, statistic=None),
        SimpleNamespace(name="weak", drifted=True, p_adjusted=0.04, statistic=0.2),
        SimpleNamespace(name="strong", drifted=True, p_adjusted=0.001, statistic=0.9),
        SimpleNamespace(name="close", drifted=False, p_adjusted=0.06, statistic=0.05),
    ]
    assert [f.name for f in top_features(cols)] == ["strong", "weak", "close", "quiet", "unsure"]
    assert len(top_features(cols, n=2)) == 2


def test_drift_charts_draw_share_estimate_measure_and_training_line() -> None:
    t0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    windows = [
        {
            "start": (t0 + timedelta(minutes=10 * i)).isoformat(),
            "drift_share": i / 4,
            "expected": {"roc_auc": 0.8 - 0.05 * i},
            "actual": {"roc_auc": 0.78 - 0.05 * i} if i >= 2 else {},
        }
        for i in range(4)
    ]
    charts = drift_charts(windows, "roc_auc", 0.82)
    drift, metric = str(charts["drift"]), str(charts["metric"])
    assert 'data-series="share of drifted features"' in drift and ">12:10<" in drift
    assert drift.count("<circle") == 4
    assert 'data-series="estimated roc_auc"' in metric
    assert 'data-series="measured roc_auc"' in metric and 'data-series="at training"' in metric
    measured = metric.split('data-series="measured roc_auc"')[1].split('points="')[1].split('"')[0]
    assert len(measured.split()) == 2  # labels arrived in the last two windows only


def test_drift_charts_without_windows_or_labels_say_so() -> None:
    charts = drift_charts([], None)
    assert list(charts) == ["drift"] and "at least 100 logged rows" in str(charts["drift"])
    regression = drift_charts([{"drift_share": 0.0, "expected": {}, "actual": {}}], "rmse", 2.0)
    assert "no estimate and no labels yet" in str(regression["metric"])
