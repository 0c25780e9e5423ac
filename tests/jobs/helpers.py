"""Reading what a user would see: the job row, and what the built-in channel delivered."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from core.db.models import SwapJob
from core.db.session import Database
from jobs.queues import inbox_key


async def job_row(db: Database, job_id: str) -> SwapJob:
    async with db.sessions() as session:
        job = await session.get(SwapJob, job_id)
    assert job is not None, f"no job {job_id}"
    return job


async def count_jobs(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(SwapJob)) or 0)


async def deliveries(queue: Any, job_id: str) -> list[dict[str, Any]]:
    """Every message the built-in channel delivered for this job, oldest first."""
    return [json.loads(raw) for raw in await queue.lrange(inbox_key(job_id), 0, -1)]
