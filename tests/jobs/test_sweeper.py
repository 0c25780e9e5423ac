"""The database is the source of truth: jobs survive Redis losing everything."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from core.config import load_settings
from core.db.billing_models import BillingNotice
from core.db.migrate import upgrade
from core.db.models import Channel, ChannelIdentity, JobState, User, utcnow
from core.db.session import Database
from jobs.connect import connect_queue
from jobs.delivery import notice_job_id
from jobs.queues import delivery_queue
from jobs.sweeper import Sweeper
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


def test_an_unsent_plan_notice_is_queued_again_once(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    """The webhook queues "You're Pro now" itself; when Redis was down then, the sweeper does."""

    async def scenario() -> None:
        upgrade(sqlite_url)
        db = Database.connect(sqlite_url)
        queue = await connect_queue(redis_url)
        try:
            long_ago = utcnow() - timedelta(minutes=2)
            async with db.sessions() as session, session.begin():
                user = User(display_name="ada")
                session.add(user)
                await session.flush()
                session.add(
                    ChannelIdentity(user_id=user.id, channel=Channel.TELEGRAM, external_id="7")
                )
                lost = BillingNotice(user_id=user.id, kind="pro_now", created_at=long_ago)
                sent = BillingNotice(
                    user_id=user.id, kind="pro_now", created_at=long_ago, sent_at=long_ago
                )
                fresh = BillingNotice(user_id=user.id, kind="payment_failed")
                session.add_all([lost, sent, fresh])
            settings = load_settings(
                data_dir=tmp_path, database_url=sqlite_url, redis_url=redis_url
            )
            sweeper = Sweeper(settings, db, queue, owner="test")
            first = await sweeper.sweep()
            assert first.notices == [lost.id]
            queued = await queue.zrange(delivery_queue(Channel.TELEGRAM), 0, -1)
            assert [q.decode() for q in queued] == [notice_job_id(lost.id)]
            again = await sweeper.sweep()
            assert again.notices == []  # already queued: not a second copy
        finally:
            await queue.aclose()
            await db.close()

    asyncio.run(scenario())
