"""Lanes: one arq worker per queue (``pro``, ``free``) in one process, sharing its slots.

arq drains a single queue per ``Worker``. A Pro worker serves both lanes, Pro first: before
each poll, a lane may pick a job only when a slot is free and no earlier lane has a job really
waiting. The gate's lock makes the check-and-pick atomic within the process, so the lanes
together never run more clips than there are slots (engines).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from arq.connections import ArqRedis
from arq.worker import Worker, func

from core.db.models import Lane
from jobs.queues import RUN_SWAP, lane_queue
from jobs.status import lane_figures

# A job is retried by our own attempt count (worker.max_attempts, kept in the database), not
# by arq's, which also counts runs cut short by a worker shutdown.
ARQ_MAX_TRIES = 1000


class LaneGate:
    def __init__(self, slots: int, lanes: Sequence[Lane]) -> None:
        self.slots = slots
        self.lanes = list(lanes)
        self.lock = asyncio.Lock()
        self.workers: list[LaneWorker] = []

    def running(self) -> int:
        return sum(w.job_counter for w in self.workers)

    async def earlier_lane_waiting(self, redis: ArqRedis, lane: Lane) -> bool:
        for other in self.lanes:
            if other == lane:
                return False
            if (await lane_figures(redis, other)).waiting > 0:
                return True
        return False


class LaneWorker(Worker):
    def __init__(self, *, gate: LaneGate, lane: Lane, **kwargs: Any) -> None:
        super().__init__(queue_name=lane_queue(lane), **kwargs)
        self.gate = gate
        self.lane = lane

    async def _poll_iteration(self) -> None:
        async with self.gate.lock:
            free = self.gate.slots - self.gate.running()
            self.allow_pick_jobs = free > 0 and not await self.gate.earlier_lane_waiting(
                self.pool, self.lane
            )
            self.max_jobs = self.job_counter + max(free, 0)
            await super()._poll_iteration()


def lane_workers(
    *,
    queue: ArqRedis,
    lanes: Sequence[Lane],
    slots: int,
    job_timeout_s: int,
    function: Any,
    ctx: dict[str, Any],
    poll_delay_s: float,
) -> list[LaneWorker]:
    gate = LaneGate(slots, lanes)
    gate.workers = [
        LaneWorker(
            gate=gate,
            lane=lane,
            functions=[func(function, name=RUN_SWAP, max_tries=ARQ_MAX_TRIES)],
            redis_pool=queue,
            ctx=ctx,
            handle_signals=False,
            max_jobs=slots,
            job_timeout=job_timeout_s,
            keep_result=0,
            poll_delay=poll_delay_s,
            log_results=False,
        )
        for lane in lanes
    ]
    return gate.workers
