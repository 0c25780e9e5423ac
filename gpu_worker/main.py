"""``swapzy worker``: the swap worker process.

Start-up builds everything once: the engines (models loaded, warm), the database, storage.
Then it serves its lanes until SIGINT/SIGTERM. When Redis goes away (restarted, failed over)
the worker does not exit: it reconnects with backoff, keeping its warm engines, and the sweeper
re-enqueues whatever Redis lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable

from arq.connections import ArqRedis
from redis.exceptions import RedisError

from core.anchors import Anchorer, build_anchor_store
from core.config import Settings
from core.db.migrate import check_schema
from core.db.models import Lane
from core.db.session import Database
from core.errors import ServiceUnavailable
from core.storage import build_storage
from gpu_worker.lanes import lane_workers
from gpu_worker.pool import EnginePool
from gpu_worker.worker import CTX_KEY, WorkerResources, run_swap
from jobs.connect import connect_queue, redis_url
from jobs.queues import WORKER_PREFIX
from jobs.runner import run_workers
from jobs.sweeper import Sweeper

log = logging.getLogger("swapzy.worker")

POLL_DELAY_S = 0.05
MAX_RECONNECT_DELAY_S = 5.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def maintain(res: WorkerResources, stop: asyncio.Event) -> None:
    """Advertise this worker (for /metrics); when elected, sweep and anchor the audit log (every
    N rows and every hour)."""
    settings = res.settings.worker
    sweeper = Sweeper(res.settings, res.db, res.queue, owner=res.worker_id)
    anchorer = Anchorer(
        res.db,
        build_anchor_store(res.settings),
        res.settings.audit_anchor_every_rows,
        res.settings.audit_anchor_every_s,
    )
    every = min(settings.sweep_every_s, settings.heartbeat_s)
    info = json.dumps(
        {"lanes": list(settings.lanes), "slots": settings.slots, "engine": res.engines.info.name}
    )
    last_sweep = 0.0
    while not stop.is_set():
        await res.queue.set(WORKER_PREFIX + res.worker_id, info, px=int(every * 3000))
        if time.monotonic() - last_sweep >= settings.sweep_every_s:
            last_sweep = time.monotonic()
            if await sweeper.sweep_if_elected() is not None:
                await anchor_if_due(anchorer)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def anchor_if_due(anchorer: Anchorer) -> None:
    """Anchor the audit log's head when due; a failure is logged and retried next sweep."""
    try:
        made = await anchorer.anchor_if_due()
    except Exception as exc:
        log.warning("audit anchor not written (%s); retrying at the next sweep", exc)
        return
    if made is not None:
        log.info("audit log anchored at row %d", made.seq)


async def serve_once(res: WorkerResources, stop: asyncio.Event) -> None:
    settings = res.settings.worker
    workers = lane_workers(
        queue=res.queue,
        lanes=[Lane(lane) for lane in settings.lanes],
        slots=settings.slots,
        job_timeout_s=settings.job_timeout_s,
        function=run_swap,
        ctx={CTX_KEY: res},
        poll_delay_s=POLL_DELAY_S,
    )
    finished = asyncio.Event()  # stop asked, or the maintenance loop died (Redis went away)

    async def maintenance() -> None:
        try:
            await maintain(res, stop)
        finally:
            finished.set()

    async def follow_stop() -> None:
        await stop.wait()
        finished.set()

    helpers = [asyncio.create_task(maintenance()), asyncio.create_task(follow_stop())]
    try:
        await run_workers(workers, finished)
    finally:
        for task in helpers:
            task.cancel()
        outcomes = await asyncio.gather(*helpers, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome


async def serve(settings: Settings, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Run the worker until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    url = redis_url(settings)
    engines = await asyncio.to_thread(EnginePool.build, settings)
    db = Database.connect(settings.sqlalchemy_url)
    worker_id = new_worker_id()
    try:
        await check_schema(db)
        storage = build_storage(settings)
        delay = 0.1
        announced = False
        while not stop.is_set():
            try:
                queue: ArqRedis = await connect_queue(url)
            except ServiceUnavailable as exc:
                log.warning("%s; retrying in %.1f s", exc.message, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, MAX_RECONNECT_DELAY_S)
                continue
            res = WorkerResources(settings, db, storage, queue, engines, worker_id)
            if not announced:
                announced = True
                message = (
                    f"worker {worker_id} ready: engine {engines.info.name} on "
                    f"{engines.info.device}, lanes {', '.join(settings.worker.lanes)}, "
                    f"{settings.worker.slots} slot(s)"
                )
                log.info(message)
                if on_ready is not None:
                    on_ready(message)
            try:
                await serve_once(res, stop)
                delay = 0.1
            except (RedisError, OSError) as exc:
                log.warning("lost the queue (%s); reconnecting", exc)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await queue.delete(WORKER_PREFIX + worker_id)
                await queue.aclose()
    finally:
        await db.close()
        engines.close()
