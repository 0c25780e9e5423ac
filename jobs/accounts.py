"""Users as every channel sees them: who is behind a channel identity, their consent, their
jobs, and deleting their data. Channel-neutral (the bots and the web use the same calls)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from core.audit import AuditKind, record
from core.db.models import (
    Channel,
    ChannelIdentity,
    JobState,
    MediaAsset,
    SwapJob,
    User,
    UserEvent,
    utcnow,
)
from core.db.session import Database
from core.storage import Storage


async def user_for(db: Database, channel: Channel, external_id: str, username: str = "") -> str:
    """The user behind this channel identity, created on first contact (race-safe)."""
    query = select(ChannelIdentity.user_id).where(
        ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
    )
    for _ in range(3):
        try:
            async with db.sessions() as session, session.begin():
                user_id = await session.scalar(query)
                if user_id is not None:
                    return user_id
                user = User(display_name=username)
                session.add(user)
                await session.flush()
                session.add(
                    ChannelIdentity(
                        user_id=user.id, channel=channel, external_id=external_id, username=username
                    )
                )
            return user.id
        except IntegrityError:
            continue  # created by a concurrent request: read it back
    raise RuntimeError("could not create the user record")


async def has_consented(db: Database, user_id: str) -> bool:
    async with db.sessions() as session:
        return (
            await session.scalar(select(User.face_consent_at).where(User.id == user_id)) is not None
        )


async def record_consent(db: Database, user_id: str, channel: Channel) -> None:
    """The user confirmed they have the right to use the faces they send (asked once)."""
    async with db.sessions() as session, session.begin():
        await session.execute(
            update(User)
            .where(User.id == user_id, User.face_consent_at.is_(None))
            .values(face_consent_at=utcnow())
        )
        session.add(
            UserEvent(user_id=user_id, kind="face_consent", data={"channel": channel.value})
        )
        await record(session, AuditKind.CONSENT_GIVEN, {"user": user_id, "channel": channel.value})


async def recent_jobs(db: Database, user_id: str, *, limit: int = 10) -> list[SwapJob]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(SwapJob)
            .where(SwapJob.user_id == user_id)
            .order_by(SwapJob.created_at.desc())
            .limit(limit)
        )
        return list(rows)


async def cancel_waiting(db: Database, user_id: str) -> int:
    """Cancel the user's jobs that have not started; a worker skips a cancelled job."""
    async with db.sessions() as session, session.begin():
        result = await session.execute(
            update(SwapJob)
            .where(SwapJob.user_id == user_id, SwapJob.state == JobState.QUEUED)
            .values(state=JobState.CANCELLED, finished_at=utcnow(), delivered_at=utcnow())
        )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class Deleted:
    files: int
    jobs: int


async def delete_user_data(db: Database, storage: Storage, user_id: str) -> Deleted:
    """Delete every upload and result of the user (files, then rows); the user record and the
    event saying it happened stay (and the audit log's record of the request and of each job)."""
    async with db.sessions() as session, session.begin():
        await record(session, AuditKind.DATA_DELETION, {"user": user_id, "state": "requested"})
    await cancel_waiting(db, user_id)
    async with db.sessions() as session:
        assets = list(
            (
                await session.execute(
                    select(MediaAsset.id, MediaAsset.storage_key).where(
                        MediaAsset.user_id == user_id
                    )
                )
            ).all()
        )
    for _, key in assets:
        await asyncio.to_thread(storage.delete, key)
    asset_ids = [asset_id for asset_id, _ in assets]
    async with db.sessions() as session, session.begin():
        job_ids = list(await session.scalars(select(SwapJob.id).where(SwapJob.user_id == user_id)))
        jobs = await session.execute(delete(SwapJob).where(SwapJob.user_id == user_id))
        if asset_ids:
            await session.execute(
                delete(MediaAsset).where(
                    or_(MediaAsset.user_id == user_id, MediaAsset.id.in_(asset_ids))
                )
            )
        count = int(getattr(jobs, "rowcount", 0) or 0)
        session.add(
            UserEvent(
                user_id=user_id, kind="data_deleted", data={"files": len(assets), "jobs": count}
            )
        )
        for job_id in sorted(job_ids):
            await record(session, AuditKind.JOB_DELETED, {"job": job_id, "user": user_id})
        done = {"user": user_id, "state": "done", "files": len(assets), "jobs": count}
        await record(session, AuditKind.DATA_DELETION, done)
    return Deleted(files=len(assets), jobs=count)
