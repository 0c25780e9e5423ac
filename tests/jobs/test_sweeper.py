"""The database is the source of truth: jobs survive Redis losing everything."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.db.models import JobState
from tests.conftest import SampleFiles
from tests.fixtures_redis import Valkey
from tests.jobs.helpers import deliveries, job_row
from tests.jobs.service import client, request_for, service, wait_for


def test_ten_queued_jobs_all_complete_after_redis_restarts_empty(
    tmp_path: Path, valkey: Valkey, sqlite_url: str, sample_files: SampleFiles
) -> None:
    # One slot, 40 ms a frame: the first job is mid-clip and nine wait when Redis dies.
    with service(tmp_path, valkey.url, sqlite_url, worker={"noop_frame_delay_ms": 40}) as svc:
        worker = svc.start_worker()

        async def scenario() -> None:
            async with client(svc.settings) as c:
                sent = [
                    await c.submitter.submit(request_for(sample_files.target, sample_files.source))
                    for _ in range(10)
                ]
                ids = [s.job_id for s in sent]

                async def one_running() -> bool:
                    states = [(await job_row(c.db, i)).state for i in ids]
                    return (
                        states.count(JobState.RUNNING) == 1 and states.count(JobState.QUEUED) == 9
                    )

                await wait_for(one_running, "one job running and nine queued")
                valkey.kill()  # no persistence: every queued job vanishes from Redis
                valkey.start()

                async def all_delivered() -> bool:
                    return all([await deliveries(c.queue, i) for i in ids])

                await wait_for(all_delivered, "every delivery", 90)
                for job_id in ids:
                    job = await job_row(c.db, job_id)
                    assert job.state is JobState.SUCCEEDED, (job_id, job.state)
                    assert len(await deliveries(c.queue, job_id)) == 1
                    assert c.storage.exists(f"jobs/{job_id}/swapzy.gif")
                assert worker.process.poll() is None, "the worker must survive Redis restarts"

        asyncio.run(scenario())
