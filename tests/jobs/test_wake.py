"""Doorbells: a job enqueued through Swapzy's own calls is picked up at once by an idle worker
that would otherwise sleep a whole poll interval (here a minute, far past the test's deadline);
without a ring it waits for the poll."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from arq.connections import ArqRedis
from arq.worker import Worker, func

from jobs.connect import connect_queue
from jobs.runner import run_workers
from jobs.wake import ring

QUEUE = "swapzy:test-wake"
SLOW_POLL_S = 60.0  # a worker that only polled would not answer within the deadline below
DEADLINE_S = 10.0


@contextlib.asynccontextmanager
async def idle_worker(url: str, done: asyncio.Queue[str]) -> AsyncIterator[ArqRedis]:
    async def work(ctx: dict[str, object], value: str) -> None:
        await done.put(value)

    queue = await connect_queue(url)
    worker = Worker(
        functions=[func(work, name="work")],
        queue_name=QUEUE,
        redis_pool=queue,
        handle_signals=False,
        keep_result=0,
        poll_delay=SLOW_POLL_S,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run_workers([worker], stop))
    try:
        # the worker's first poll (an empty queue) is over once it has subscribed and slept
        await asyncio.wait_for(_subscribed(queue), DEADLINE_S)
        yield queue
    finally:
        stop.set()
        await running
        await queue.aclose()


async def _subscribed(queue: ArqRedis) -> None:
    while not (await queue.pubsub_numsub(f"swapzy:wake:{QUEUE}"))[0][1]:
        await asyncio.sleep(0.01)


def test_a_ring_wakes_an_idle_worker_at_once(redis_url: str) -> None:
    async def scenario() -> None:
        done: asyncio.Queue[str] = asyncio.Queue()
        async with idle_worker(redis_url, done) as queue:
            for value in ("first", "second"):
                await queue.enqueue_job("work", value, _queue_name=QUEUE)
                await ring(queue, QUEUE)
                assert await asyncio.wait_for(done.get(), DEADLINE_S) == value

    asyncio.run(scenario())


def test_without_a_ring_the_job_waits_for_the_poll(redis_url: str) -> None:
    async def scenario() -> None:
        done: asyncio.Queue[str] = asyncio.Queue()
        async with idle_worker(redis_url, done) as queue:
            await queue.enqueue_job("work", "quiet", _queue_name=QUEUE)
            await asyncio.sleep(1.0)  # not synchronisation: proving nothing happens meanwhile
            assert done.empty()
            await ring(queue, QUEUE)
            assert await asyncio.wait_for(done.get(), DEADLINE_S) == "quiet"

    asyncio.run(scenario())
