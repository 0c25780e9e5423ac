"""Running arq workers inside our own processes: several queues on one Redis pool, stopped by an
event, and kept running across Redis restarts (arq's own ``Worker.run`` exits when Redis goes
away; a restarted Redis is a normal event for us, see the sweeper)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from arq.worker import Worker
from redis.exceptions import RedisError

from jobs.wake import Doorbell

log = logging.getLogger(__name__)

MAX_RESTART_DELAY_S = 5.0


async def run_workers(workers: Sequence[Worker], stop: asyncio.Event) -> None:
    """Run arq workers sharing one pool until ``stop`` is set; running jobs are then cancelled
    (arq re-queues them at once). Raises what made a worker die (e.g. Redis went away).
    Each worker polls its queue every ``poll_delay`` and at once when its doorbell rings."""
    if not workers:
        await stop.wait()
        return
    async with Doorbell(workers[0].pool, [w.queue_name for w in workers]) as bell:
        mains = []
        for worker in workers:
            worker.main_task = asyncio.create_task(_serve(worker, bell))
            mains.append(worker.main_task)
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([*mains, stopper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            for worker in workers:
                for task in worker.tasks.values():
                    task.cancel()
                if worker.main_task is not None:
                    worker.main_task.cancel()
            running = [t for w in workers for t in w.tasks.values()]
            await asyncio.gather(*mains, *running, return_exceptions=True)
    for task in done:
        if task is not stopper and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def _serve(worker: Worker, bell: Doorbell) -> None:
    """arq's ``Worker.main`` for a worker built on a shared pool (no burst mode), with the
    sleep between polls cut short by the queue's doorbell."""
    worker.ctx["redis"] = worker.pool
    if worker.on_startup is not None:
        await worker.on_startup(worker.ctx)
    while True:
        bell.clear(worker.queue_name)
        await worker._poll_iteration()
        await bell.wait(worker.queue_name, worker.poll_delay_s)


async def keep_running(
    make_workers: Callable[[], Sequence[Worker]], stop: asyncio.Event, what: str
) -> None:
    """``run_workers`` until ``stop``; when Redis fails, build fresh workers and go on."""
    delay = 0.1
    while not stop.is_set():
        try:
            await run_workers(make_workers(), stop)
            delay = 0.1
        except (RedisError, OSError) as exc:
            log.warning("%s lost the queue (%s); restarting in %.1f s", what, exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, MAX_RESTART_DELAY_S)
