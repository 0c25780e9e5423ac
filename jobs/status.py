"""Live status: progress written by workers, queue positions, and the figures behind /metrics.

arq keeps a lane as one sorted set scored by "run at" time in ms. That set also holds running
jobs (until they finish) and deferred retries (score in the future), so "really waiting" is
"score <= now and no in-progress key".
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis
from redis.asyncio import Redis

from core.db.models import JobState, Lane, SwapJob
from core.db.session import Database
from jobs.contract import JobStatus
from jobs.queues import ARQ_IN_PROGRESS, events_channel, lane_queue, output_key, progress_key

PROGRESS_TTL_S = 24 * 3600
LANE_ORDER = (Lane.PRO, Lane.FREE)  # pro is always drained first


async def publish_progress(redis: Redis, job_id: str, **fields: Any) -> None:
    """Record the job's latest progress and tell listeners (chats, pages) at once."""
    payload = json.dumps({"job_id": job_id, **fields})
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(progress_key(job_id), payload, ex=PROGRESS_TTL_S)
        pipe.publish(events_channel(job_id), payload)
        await pipe.execute()


async def read_progress(redis: Redis, job_id: str) -> dict[str, Any]:
    raw = await redis.get(progress_key(job_id))
    return dict(json.loads(raw)) if raw else {}


@dataclass(frozen=True)
class LaneFigures:
    lane: Lane
    waiting: int  # ready to run, not started
    running: int
    deferred: int  # retries waiting for their backoff


async def _ready_ids(redis: Redis, lane: Lane, max_score: float) -> list[str]:
    ids = await redis.zrangebyscore(lane_queue(lane), float("-inf"), max_score)
    return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]


async def _in_progress(redis: Redis, ids: list[str]) -> list[bool]:
    if not ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.exists(ARQ_IN_PROGRESS + job_id)
        return [bool(n) for n in await pipe.execute()]


async def lane_figures(redis: Redis, lane: Lane) -> LaneFigures:
    now_ms = time.time() * 1000
    queue = lane_queue(lane)
    async with redis.pipeline(transaction=True) as pipe:  # one consistent view of the lane
        pipe.zrangebyscore(queue, float("-inf"), now_ms)
        pipe.zcount(queue, f"({now_ms}", float("inf"))
        ready_raw, deferred = await pipe.execute()
    ready = [i.decode() if isinstance(i, bytes) else str(i) for i in ready_raw]
    running = sum(await _in_progress(redis, ready))
    return LaneFigures(lane, len(ready) - running, running, int(deferred))


async def queue_position(redis: Redis, lane: Lane, job_id: str) -> int | None:
    """1 = this job runs next; counts waiting jobs ahead of it, pro lane first."""
    score = await redis.zscore(lane_queue(lane), job_id)
    if score is None:
        return None
    ahead = 0
    for other in LANE_ORDER:
        if other == lane:
            ids = await _ready_ids(redis, other, score)
            flags = await _in_progress(redis, ids)
            if dict(zip(ids, flags, strict=True)).get(job_id):
                return None  # it is running
            ahead += sum(
                1 for i, running in zip(ids, flags, strict=True) if i != job_id and not running
            )
            return ahead + 1
        ahead += (await lane_figures(redis, other)).waiting
    return ahead + 1


async def job_status(db: Database, redis: ArqRedis, job_id: str) -> JobStatus | None:
    async with db.sessions() as session:
        job = await session.get(SwapJob, job_id)
    if job is None:
        return None
    frames_done, frames_total, position = job.frames_done, job.frames or 0, None
    if job.state is JobState.RUNNING:
        progress = await read_progress(redis, job_id)
        frames_done = int(progress.get("frames_done", frames_done))
        frames_total = int(progress.get("frames_total", frames_total))
    elif job.state is JobState.QUEUED:
        position = await queue_position(redis, job.lane, job_id)
    output = None
    if job.state is JobState.SUCCEEDED:
        frames_done = frames_total
        output = output_key(job.id, job.output_format)
    return JobStatus(
        job_id=job.id,
        state=job.state,
        frames_done=frames_done,
        frames_total=frames_total,
        queue_position=position,
        failure_reason=job.failure_reason,
        failure_message=job.failure_message,
        output_key=output,
    )
