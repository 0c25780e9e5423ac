"""The service's figures, read at scrape time (nothing is counted in process memory, so every
web replica reports the same truth): queue depth per lane, jobs by state, oldest waiting job,
engine seconds, live workers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy import func, select

from core.db.models import JobState, Lane, SwapJob, utcnow
from core.db.session import Database
from jobs.queues import WORKER_PREFIX
from jobs.status import LANE_ORDER, LaneFigures, lane_figures


@dataclass(frozen=True)
class Figures:
    lanes: list[LaneFigures]
    jobs_by_state: dict[JobState, int]
    oldest_waiting_s: float  # age of the oldest job still queued (0 when none)
    engine_seconds: float  # total engine time of finished jobs
    undelivered: int  # finished jobs whose result has not reached the user yet
    workers: int  # live worker processes


async def count_workers(redis: Redis) -> int:
    n = 0
    async for _ in redis.scan_iter(match=WORKER_PREFIX + "*", count=100):
        n += 1
    return n


async def gather_figures(db: Database, redis: Redis) -> Figures:
    lanes = [await lane_figures(redis, lane) for lane in LANE_ORDER]
    async with db.sessions() as session:
        by_state = {
            JobState(state): int(n)
            for state, n in (
                await session.execute(select(SwapJob.state, func.count()).group_by(SwapJob.state))
            ).all()
        }
        oldest = await session.scalar(
            select(func.min(SwapJob.created_at)).where(SwapJob.state == JobState.QUEUED)
        )
        engine_seconds = await session.scalar(select(func.sum(SwapJob.engine_seconds)))
        undelivered = await session.scalar(
            select(func.count()).where(
                SwapJob.state.in_([JobState.SUCCEEDED, JobState.FAILED]),
                SwapJob.delivered_at.is_(None),
            )
        )
    if oldest is not None and oldest.tzinfo is None:  # aggregate results skip the column type
        oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=UTC)
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return Figures(
        lanes=lanes,
        jobs_by_state={state: by_state.get(state, 0) for state in JobState},
        oldest_waiting_s=max(age, 0.0),
        engine_seconds=float(engine_seconds or 0.0),
        undelivered=int(undelivered or 0),
        workers=await count_workers(redis),
    )


__all__ = ["Figures", "Lane", "gather_figures"]
