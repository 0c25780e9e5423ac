"""Plans and quotas inside ``jobs.submit``: counted in the job's own transaction, so concurrent
submissions at the quota edge never exceed it (real Redis, SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from billing import entitlements
from billing.quota import PlanAdmission, QuotaReached
from core.db.billing_models import QuotaUsage
from core.db.models import Channel, Lane, utcnow
from jobs.accounts import user_for
from jobs.contract import Submitted
from jobs.queues import lane_queue
from tests.conftest import SampleFiles
from tests.fixtures_redis import Valkey
from tests.jobs.helpers import count_jobs, job_row
from tests.jobs.service import Client, client, request_for, service

ADMIN = "telegram:1"
FREE_USED_UP = "You've used your 5 free swaps today. Get /pro for more, or try again tomorrow."


async def _submit_many(c: Client, files: SampleFiles, n: int) -> list[Submitted | BaseException]:
    requests = [request_for(files.target, files.source, user="alice") for _ in range(n)]
    return await asyncio.gather(*(c.submitter.submit(r) for r in requests), return_exceptions=True)


def test_twenty_submissions_at_once_never_exceed_the_free_quota(
    tmp_path: Path, valkey: Valkey, database_url: str, sample_files: SampleFiles
) -> None:
    with service(tmp_path, valkey.url, database_url, free_swaps_per_day=5) as svc:

        async def scenario() -> None:
            admission = PlanAdmission(svc.settings)
            async with client(svc.settings, deliver=False, admission=admission) as c:
                results = await _submit_many(c, sample_files, 20)
                made = [r for r in results if isinstance(r, Submitted)]
                refused = [r for r in results if isinstance(r, QuotaReached)]
                assert (len(made), len(refused)) == (5, 15), results
                assert {str(r) for r in refused} == {FREE_USED_UP}
                assert await count_jobs(c.db) == 5
                assert await c.queue.zcard(lane_queue(Lane.FREE)) == 5
                async with c.db.sessions() as session:
                    used = list(await session.scalars(select(QuotaUsage.used)))
                assert used == [5]
                # The refused ones left no files behind: only the five jobs' inputs are stored.
                stored = sorted(p for p in c.settings.media_dir.rglob("*") if p.is_file())
                assert len(stored) == 10
                job = await job_row(c.db, made[0].job_id)
                assert (job.lane, job.watermark, job.max_side) == (Lane.FREE, True, 480)

        asyncio.run(scenario())


def test_admin_credits_give_extra_swaps_and_pro_lifts_the_terms(
    tmp_path: Path, valkey: Valkey, sqlite_url: str, sample_files: SampleFiles
) -> None:
    with service(tmp_path, valkey.url, sqlite_url, free_swaps_per_day=1, admins=[ADMIN]) as svc:

        async def scenario() -> None:
            settings = svc.settings
            async with client(settings, deliver=False, admission=PlanAdmission(settings)) as c:
                first = await c.submitter.submit(
                    request_for(sample_files.target, sample_files.source, user="bob")
                )
                with pytest.raises(QuotaReached, match="used your 1 free swaps today"):
                    await c.submitter.submit(
                        request_for(sample_files.target, sample_files.source, user="bob")
                    )
                bob = await user_for(c.db, Channel.CLI, "bob")
                later = utcnow() + timedelta(days=7)
                await entitlements.grant(
                    c.db, admins=settings.admins, by=ADMIN, user_id=bob,
                    what="credits", amount=1, reason="support ticket 12", expires_at=later,
                )  # fmt: skip
                extra = await c.submitter.submit(
                    request_for(sample_files.target, sample_files.source, user="bob")
                )
                with pytest.raises(QuotaReached):
                    await c.submitter.submit(
                        request_for(sample_files.target, sample_files.source, user="bob")
                    )
                await entitlements.grant(
                    c.db, admins=settings.admins, by=ADMIN, user_id=bob,
                    what="pro", reason="launch partner", expires_at=later,
                )  # fmt: skip
                pro = await c.submitter.submit(
                    request_for(sample_files.target, sample_files.source, user="bob")
                )
                rows = [await job_row(c.db, s.job_id) for s in (first, extra, pro)]
                assert [(j.lane, j.watermark, j.max_side) for j in rows] == [
                    (Lane.FREE, True, 480),
                    (Lane.FREE, True, 480),
                    (Lane.PRO, False, 1080),
                ]

        asyncio.run(scenario())
