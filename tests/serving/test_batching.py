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
