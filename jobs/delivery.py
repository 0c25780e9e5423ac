"""Handing finished jobs back to their channel, once.

The worker enqueues ``deliver_result(job_id)`` on the channel's delivery queue (arq job id
``deliver-<job id>``, so a job has at most one delivery queued). The delivery marks
``delivered_at`` in the database after the channel accepted the result and skips jobs already
delivered, so a re-enqueued delivery (sweeper, retry) never sends twice. The one window left is a
crash between the channel accepting the message and the database update; then the result is sent
again rather than lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from arq import Retry
from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis
from sqlalchemy import select, update

from core.config import Settings
from core.db.billing_models import BillingNotice
from core.db.models import Channel, ChannelIdentity, JobState, SwapJob, utcnow
from core.db.session import Database
from core.storage import Storage
from jobs.contract import Deliverer, Notifier
from jobs.queues import (
    DELIVER,
    delivery_job_id,
    delivery_queue,
    events_channel,
    inbox_key,
    output_key,
)
from jobs.wake import ring

log = logging.getLogger(__name__)

INBOX_TTL_S = 24 * 3600
MAX_DELIVERY_TRIES = 8


async def enqueue_delivery(queue: ArqRedis, job_id: str, channel: Channel) -> None:
    await queue.enqueue_job(
        DELIVER, job_id, _job_id=delivery_job_id(job_id), _queue_name=delivery_queue(channel)
    )
    await ring(queue, delivery_queue(channel))


class InboxDeliverer:
    """The built-in channel (CLI and web): the result goes to a Redis list the submitter waits
    on, and to the job's event channel for live pages."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def deliver(self, job: SwapJob, link: str | None) -> None:
        payload = json.dumps(
            {
                "job_id": job.id,
                "state": job.state.value,
                "link": link,
                "failure_reason": job.failure_reason,
                "failure_message": job.failure_message,
            }
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(inbox_key(job.id), payload)
            pipe.expire(inbox_key(job.id), INBOX_TTL_S)
            pipe.publish(events_channel(job.id), payload)
            await pipe.execute()


@dataclass(frozen=True)
class DeliveryResources:
    settings: Settings
    db: Database
    storage: Storage
    deliverers: Mapping[Channel, Deliverer]
    notifiers: Mapping[Channel, Notifier] = field(default_factory=dict)


CTX_KEY = "swapzy_delivery"


async def deliver_result(ctx: dict[str, object], job_id: str) -> str:
    res = ctx[CTX_KEY]
    assert isinstance(res, DeliveryResources)
    async with res.db.sessions() as session:
        job = await session.get(SwapJob, job_id)
    if job is None:
        return "gone"
    if job.delivered_at is not None:
        return "already delivered"
    if not job.state.finished:
        return "not finished"
    deliverer = res.deliverers.get(job.channel)
    if deliverer is None:
        raise Retry(defer=30)  # that channel's process is not up; wait for it
    link = None
    if job.state is JobState.SUCCEEDED:
        key = output_key(job.id, job.output_format)
        link = await asyncio.to_thread(res.storage.url, key)
    try:
        await deliverer.deliver(job, link)
    except Exception as exc:
        tries = int(str(ctx.get("job_try", 1)))
        if tries >= MAX_DELIVERY_TRIES:
            log.error("giving up delivering job %s: %s", job_id, exc)
            raise
        raise Retry(defer=min(60.0, 2.0**tries)) from exc
    async with res.db.sessions() as session, session.begin():
        await session.execute(
            update(SwapJob)
            .where(SwapJob.id == job_id, SwapJob.delivered_at.is_(None))
            .values(delivered_at=utcnow(), delivery_attempts=SwapJob.delivery_attempts + 1)
        )
    return "delivered"


DELIVER_NOTICE = "deliver_notice"  # deliver_notice(notice_id): a plan message to a user


async def enqueue_notices(db: Database, queue: ArqRedis, notice_ids: Iterable[int]) -> None:
    """Queue each billing notice on the delivery queue of the channel its user last used (their
    latest job's, else their first identity's). Unsent notices stay in the table."""
    for notice_id in notice_ids:
        async with db.sessions() as session:
            user_id = await session.scalar(
                select(BillingNotice.user_id).where(BillingNotice.id == notice_id)
            )
            channel = await session.scalar(
                select(SwapJob.channel)
                .where(SwapJob.user_id == user_id)
                .order_by(SwapJob.created_at.desc())
                .limit(1)
            ) or await session.scalar(
                select(ChannelIdentity.channel)
                .where(ChannelIdentity.user_id == user_id)
                .order_by(ChannelIdentity.id)
                .limit(1)
            )
        if channel is not None:
            await queue.enqueue_job(
                DELIVER_NOTICE,
                notice_id,
                _job_id=notice_job_id(notice_id),
                _queue_name=delivery_queue(channel),
            )
            await ring(queue, delivery_queue(channel))


def notice_job_id(notice_id: int) -> str:
    return f"notice-{notice_id}"


async def deliver_notice(ctx: dict[str, object], notice_id: int) -> str:
    res = ctx[CTX_KEY]
    assert isinstance(res, DeliveryResources)
    channel = Channel(str(ctx.get("swapzy_channel", "")))
    async with res.db.sessions() as session:
        notice = await session.get(BillingNotice, notice_id)
        if notice is None or notice.sent_at is not None:
            return "already sent"
        external_id = await session.scalar(
            select(ChannelIdentity.external_id).where(
                ChannelIdentity.user_id == notice.user_id, ChannelIdentity.channel == channel
            )
        )
    notifier = res.notifiers.get(channel)
    if external_id is None or notifier is None:
        return "no way to reach the user on this channel"
    try:
        await notifier.notify(external_id, notice.kind, notice.link)
    except Exception as exc:
        tries = int(str(ctx.get("job_try", 1)))
        if tries >= MAX_DELIVERY_TRIES:
            raise
        raise Retry(defer=min(60.0, 2.0**tries)) from exc
    async with res.db.sessions() as session, session.begin():
        await session.execute(
            update(BillingNotice)
            .where(BillingNotice.id == notice_id, BillingNotice.sent_at.is_(None))
            .values(sent_at=utcnow())
        )
    return "sent"


def delivery_workers(
    resources: DeliveryResources, queue: ArqRedis, channels: list[Channel]
) -> list[Worker]:
    """One arq worker per channel queue, sharing one Redis pool; run them with ``run_workers``."""
    return [
        Worker(
            functions=[deliver_result, deliver_notice],
            queue_name=delivery_queue(channel),
            redis_pool=queue,
            ctx={CTX_KEY: resources, "swapzy_channel": channel.value},
            handle_signals=False,
            max_jobs=10,
            keep_result=0,
            max_tries=MAX_DELIVERY_TRIES + 1,
            poll_delay=0.05,  # as the swap worker: a finished clip waits <= 50 ms
            log_results=False,
        )
        for channel in channels
    ]
