"""The sweeper: the database is the source of truth, Redis only the transport.

Every ``sweep_every_s`` one sweeper (a Redis lock elects it among the workers) compares the two:

- a job the database calls ``queued`` that arq does not hold (Redis restarted without
  persistence, or the enqueue after the commit failed) is enqueued again;
- a job the database calls ``running`` whose heartbeat stopped ``stale_after_s`` ago (its worker
  was killed) is put back: arq's in-progress marker is cleared so another worker takes it now,
  instead of after arq's own timeout (the job timeout + 10 s);
- a finished job that was never delivered and has no delivery queued gets its delivery again;
- a plan notice ("You're Pro now") still unsent, with none queued, is queued again (the webhook
  queues it at once; this catches a Redis that was down then).

Every step is idempotent (job id = arq job id), so running it twice, or beside a live worker,
does no harm.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from arq.connections import ArqRedis
from sqlalchemy import select, update

from core.config import Settings
from core.db.billing_models import BillingNotice
from core.db.models import JobState, SwapJob, utcnow
from core.db.session import Database
from jobs.delivery import enqueue_delivery, enqueue_notices, notice_job_id
from jobs.queues import ARQ_IN_PROGRESS, ARQ_JOB, SWEEPER_LOCK, delivery_job_id
from jobs.submit import enqueue_swap

log = logging.getLogger(__name__)

DELIVERY_GRACE_S = 5.0  # a finished job's own delivery is enqueued right after it finishes
GIVE_UP_DELIVERY_AFTER = timedelta(days=1)
NOTICE_GRACE_S = 30.0  # the webhook queues a notice itself right after its commit


@dataclass
class SweepReport:
    requeued: list[str] = field(default_factory=list)  # queued in the DB, missing in Redis
    revived: list[str] = field(default_factory=list)  # running on a worker that died
    redelivered: list[str] = field(default_factory=list)
    notices: list[int] = field(default_factory=list)  # plan notices queued again

    @property
    def changed(self) -> bool:
        return bool(self.requeued or self.revived or self.redelivered or self.notices)


class Sweeper:
    def __init__(self, settings: Settings, db: Database, queue: ArqRedis, owner: str) -> None:
        self.settings = settings
        self.db = db
        self.queue = queue
        self.owner = owner

    async def sweep_if_elected(self) -> SweepReport | None:
        """Sweep unless another process swept in the last period."""
        period_ms = int(self.settings.worker.sweep_every_s * 1000)
        if not await self.queue.set(SWEEPER_LOCK, self.owner, nx=True, px=period_ms):
            return None
        return await self.sweep()

    async def sweep(self) -> SweepReport:
        report = SweepReport()
        await self._requeue_lost(report)
        await self._revive_stale(report)
        await self._redeliver(report)
        await self._resend_notices(report)
        if report.changed:
            log.warning(
                "sweeper: requeued %d, revived %d, redelivered %d, notices %d",
                len(report.requeued),
                len(report.revived),
                len(report.redelivered),
                len(report.notices),
            )
        return report

    async def _requeue_lost(self, report: SweepReport) -> None:
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(SwapJob.id, SwapJob.lane).where(SwapJob.state == JobState.QUEUED)
                )
            ).all()
        for job_id, lane in rows:
            if not await self.queue.exists(ARQ_JOB + job_id) and await enqueue_swap(
                self.queue, job_id, lane
            ):
                report.requeued.append(job_id)

    async def _revive_stale(self, report: SweepReport) -> None:
        cutoff = utcnow() - timedelta(seconds=self.settings.worker.stale_after_s)
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(SwapJob.id, SwapJob.lane).where(
                        SwapJob.state == JobState.RUNNING, SwapJob.heartbeat_at < cutoff
                    )
                )
            ).all()
        for job_id, lane in rows:
            async with self.db.sessions() as session, session.begin():
                result = await session.execute(
                    update(SwapJob)
                    .where(
                        SwapJob.id == job_id,
                        SwapJob.state == JobState.RUNNING,
                        SwapJob.heartbeat_at < cutoff,
                    )
                    .values(state=JobState.QUEUED, worker_id=None)
                )
            if getattr(result, "rowcount", 0) != 1:
                continue  # it finished or moved on meanwhile
            await self.queue.delete(ARQ_IN_PROGRESS + job_id)
            if not await self.queue.exists(ARQ_JOB + job_id):
                await enqueue_swap(self.queue, job_id, lane)
            report.revived.append(job_id)

    async def _redeliver(self, report: SweepReport) -> None:
        now = utcnow()
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(SwapJob.id, SwapJob.channel).where(
                        SwapJob.state.in_([JobState.SUCCEEDED, JobState.FAILED]),
                        SwapJob.delivered_at.is_(None),
                        SwapJob.finished_at < now - timedelta(seconds=DELIVERY_GRACE_S),
                        SwapJob.finished_at > now - GIVE_UP_DELIVERY_AFTER,
                    )
                )
            ).all()
        for job_id, channel in rows:
            if not await self.queue.exists(ARQ_JOB + delivery_job_id(job_id)):
                await enqueue_delivery(self.queue, job_id, channel)
                report.redelivered.append(job_id)

    async def _resend_notices(self, report: SweepReport) -> None:
        now = utcnow()
        async with self.db.sessions() as session:
            ids = (
                await session.scalars(
                    select(BillingNotice.id).where(
                        BillingNotice.sent_at.is_(None),
                        BillingNotice.created_at < now - timedelta(seconds=NOTICE_GRACE_S),
                        BillingNotice.created_at > now - GIVE_UP_DELIVERY_AFTER,
                    )
                )
            ).all()
        lost = [i for i in ids if not await self.queue.exists(ARQ_JOB + notice_job_id(i))]
        await enqueue_notices(self.db, self.queue, lost)
        report.notices.extend(lost)
