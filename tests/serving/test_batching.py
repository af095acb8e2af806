"""Adaptive micro-batching: concurrent requests share predict calls, errors stay their own."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from modelloop.exceptions import InvalidInputError
from modelloop.serving._batching import MicroBatcher


def _predict(calls: list[int]):
    def predict(rows: list[int]) -> tuple[list[int], None]:
        calls.append(len(rows))
        if any(r < 0 for r in rows):
            raise InvalidInputError("negative row")
        return [r * 10 for r in rows], None

    return predict


def test_concurrent_requests_are_batched_and_answered_individually() -> None:
    calls: list[int] = []
    sizes: list[int] = []

    async def main() -> list:
        with ThreadPoolExecutor(1) as pool:
            batcher = MicroBatcher(_predict(calls), pool, max_rows=64, on_batch=sizes.append)
            return await asyncio.gather(*(batcher.submit([i, i + 1]) for i in range(40)))

    results = asyncio.run(main())
    assert [r[0] for r in results] == [[i * 10, (i + 1) * 10] for i in range(40)]
    assert sum(calls) == 80 and len(calls) < 40
    assert max(sizes) <= 64


def test_a_bad_request_fails_alone() -> None:
    calls: list[int] = []

    async def main() -> list:
        with ThreadPoolExecutor(1) as pool:
            batcher = MicroBatcher(_predict(calls), pool)
            return await asyncio.gather(
                *(batcher.submit([i]) for i in (1, -1, 2, 3)), return_exceptions=True
            )

    results = asyncio.run(main())
    assert isinstance(results[1], InvalidInputError)
    assert [results[i][0] for i in (0, 2, 3)] == [[10], [20], [30]]


def test_a_lone_request_is_not_delayed() -> None:
    async def main() -> tuple:
        with ThreadPoolExecutor(1) as pool:
            batcher = MicroBatcher(_predict([]), pool, wait_s=10.0)
            return await asyncio.wait_for(batcher.submit([5]), timeout=5)

    assert asyncio.run(main()) == ([50], None)


def test_small_batches_run_on_the_event_loop_and_large_ones_in_the_executor() -> None:
    import threading

    threads: list[str] = []

    def predict(rows: list[int]) -> tuple[list[int], None]:
        threads.append(threading.current_thread().name)
        return rows, None

    async def main() -> None:
        with ThreadPoolExecutor(1, thread_name_prefix="pool") as pool:
            batcher = MicroBatcher(predict, pool, inline_rows=4)
            await batcher.submit([1, 2])
            await batcher.submit(list(range(10)))

    asyncio.run(main())
    assert threads[0] == threading.main_thread().name
    assert threads[1].startswith("pool")


def test_a_slow_model_that_is_not_compiled_never_blocks_health(tmp_path) -> None:
    """A one-row request to a model outside the fast path runs in the thread pool: while
    its predict call is stuck, /health (on the event loop) still answers."""
    import threading

    from fastapi.testclient import TestClient

    from modelloop.config import Settings
    from modelloop.data import ColumnSchema, Role, Schema
    from modelloop.serving import ModelRegistry, ServedModel, create_app
    from modelloop.serving._schemas import RowParser

    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    class Stuck:
        def predict(self, X: list) -> list[float]:
            started.set()
            release.wait(20)  # a slow k-NN, SVM or text model, at its worst
            finished.set()
            return [1.0] * len(X)

    schema = Schema((ColumnSchema("x", Role.NUMERIC, "float64"),))
    served = ServedModel("slow", 1, "regression", None, schema, RowParser(schema, "slow"),
                         Stuck(), list)  # fmt: skip
    assert served.compiled is False
    app = create_app(Settings(home=tmp_path / "h", serve_log_predictions=False),
                     registry=ModelRegistry(None, fixed=served))  # fmt: skip
    answers: list[int] = []
    with TestClient(app) as client:
        request = threading.Thread(
            target=lambda: answers.append(
                client.post("/v1/models/slow/predict", json={"instances": [{"x": 1}]}).status_code
            )
        )
        request.start()
        assert started.wait(30)
        try:
            health = client.get("/health")  # would wait for predict if it ran on the loop
            assert not finished.is_set(), "/health waited for a slow model's predict call"
            assert health.status_code == 200
        finally:
            release.set()
            request.join(30)
    assert answers == [200]
