"""The prediction log: written off the hot path, flushed on shutdown, sampled or off."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from modelloop.serving import create_app
from modelloop.serving._predlog import PredictionLog


def test_predictions_are_logged_and_flushed_on_shutdown(serve_settings, store, passenger) -> None:
    with TestClient(create_app(serve_settings, store)) as client:
        body = client.post("/v1/models/titanic/predict", json={"instances": [passenger] * 3}).json()
    logged = store.get_predictions("titanic")
    assert [p.request_id for p in logged] == body["request_ids"]
    first = logged[0]
    assert (first.model_name, first.model_version) == ("titanic", 1)
    assert first.inputs["Sex"] == "male" and first.prediction == body["predictions"][0]
    assert first.probabilities == body["probabilities"][0]
    assert first.latency_ms is not None and first.latency_ms > 0
    assert store.get_predictions("titanic", request_id=body["request_ids"][1])[0].id == logged[1].id


def test_prediction_log_can_be_switched_off(serve_settings, store, passenger) -> None:
    settings = serve_settings.with_overrides(serve_log_predictions=False)
    with TestClient(create_app(settings, store)) as client:
        assert client.post("/predict", json=passenger).status_code == 200
    assert store.get_predictions("titanic") == []


def test_prediction_log_sampling_zero_logs_nothing() -> None:
    written: list[dict] = []
    plog = PredictionLog(written.extend, sample=0.0)
    assert not any(plog.wants() for _ in range(100))
    plog.close()


def test_prediction_log_batches_writes() -> None:
    calls: list[int] = []
    plog = PredictionLog(lambda entries: calls.append(len(entries)), batch_size=10, interval_s=5)
    for i in range(25):
        plog.submit([{"request_id": str(i)}])
    time.sleep(0.05)
    plog.close()
    assert sum(calls) == 25
    assert max(calls) >= 10


def test_prediction_log_survives_a_failing_store() -> None:
    dropped: list[int] = []

    def fail(entries: list) -> None:
        raise RuntimeError("database is down")

    plog = PredictionLog(fail, on_drop=dropped.append)
    plog.submit([{"request_id": "a"}, {"request_id": "b"}])
    plog.close()
    assert dropped == [2]


def test_prediction_log_drops_what_overflows_its_queue() -> None:
    written: list[dict] = []
    dropped: list[int] = []
    plog = PredictionLog(
        written.extend, batch_size=100, interval_s=60, max_queue=2, on_drop=dropped.append
    )
    for i in range(3):
        plog.submit([{"request_id": str(i)}, {"request_id": f"{i}b"}])
    plog.close()
    assert dropped == [2]
    assert [e["request_id"] for e in written] == ["0", "0b", "1", "1b"]


def test_prediction_log_writes_a_full_batch_without_waiting_for_the_interval() -> None:
    calls: list[int] = []
    plog = PredictionLog(lambda entries: calls.append(len(entries)), batch_size=5, interval_s=60)
    for i in range(5):
        plog.submit([{"request_id": str(i)}])
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == [5]
    plog.close()


def test_prediction_log_makes_lazy_entries_on_its_writer_thread() -> None:
    import threading

    written: list[dict] = []
    makers: list[str] = []

    def make() -> list[dict]:
        makers.append(threading.current_thread().name)
        return [{"request_id": "a"}, {"request_id": "b"}]

    plog = PredictionLog(written.extend)
    plog.submit([{"request_id": "0"}])
    plog.submit_lazy(2, make)
    plog.close()
    assert [e["request_id"] for e in written] == ["0", "a", "b"]
    assert makers == ["modelloop-predlog"]


def test_prediction_log_counts_entries_it_could_not_make_as_dropped() -> None:
    written: list[dict] = []
    dropped: list[int] = []

    def broken() -> list[dict]:
        raise ValueError("not JSON")

    plog = PredictionLog(written.extend, on_drop=dropped.append)
    plog.submit_lazy(3, broken)
    plog.submit([{"request_id": "ok"}])
    plog.close()
    assert dropped == [3] and [e["request_id"] for e in written] == ["ok"]
