"""Share links: one slug per finished job, and its renditions stored once (see renditions.py).

The share page reads one row (link + job); the clip bytes go out through signed links whose
expiry is rounded up to the hour, so the page stays the same for an hour and caches well.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.db.models import AssetKind, JobState, MediaAsset, SwapJob, utcnow
from core.db.session import Database
from core.db.web_models import ShareLink
from core.storage import Storage
from jobs.queues import output_key
from web.renditions import make_renditions

LINK_ROUND_S = 3600


def new_slug() -> str:
    return secrets.token_urlsafe(8)  # 11 characters, 64 random bits


async def share_link_for(db: Database, job_id: str) -> ShareLink:
    """The job's share link, made on first call (race-safe)."""
    for _ in range(3):
        async with db.sessions() as session:
            link = await session.scalar(select(ShareLink).where(ShareLink.job_id == job_id))
            if link is not None:
                return link
        try:
            async with db.sessions() as session, session.begin():
                link = ShareLink(slug=new_slug(), job_id=job_id)
                session.add(link)
            return link
        except IntegrityError:
            continue  # made concurrently (or a slug collision): read it back / try again
    raise RuntimeError("could not make a share link")


@dataclass(frozen=True)
class Shared:
    """What the share page shows."""

    slug: str
    job_id: str
    gif_key: str
    mp4_key: str
    thumb_key: str
    width: int
    height: int
    frames: int | None


_PAGE_COLUMNS = (
    ShareLink.slug,
    ShareLink.job_id,
    ShareLink.gif_key,
    ShareLink.mp4_key,
    ShareLink.thumb_key,
    ShareLink.width,
    ShareLink.height,
    ShareLink.removed_at,
    SwapJob.state,
    SwapJob.frames,
)


async def load_shared(db: Database, storage: Storage, slug: str) -> Shared | None:
    """The clip behind ``slug`` (renditions made on first view); None when unknown, removed,
    or not a finished clip. One indexed read (plain columns, no ORM objects) once made."""
    query = (
        select(*_PAGE_COLUMNS)
        .join(SwapJob, SwapJob.id == ShareLink.job_id)
        .where(ShareLink.slug == slug)
    )
    async with db.engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None or row.removed_at is not None or row.state is not JobState.SUCCEEDED:
        return None
    if row.gif_key and row.mp4_key and row.thumb_key:
        return Shared(
            row.slug,
            row.job_id,
            row.gif_key,
            row.mp4_key,
            row.thumb_key,
            row.width or 0,
            row.height or 0,
            row.frames,
        )
    async with db.sessions() as session:
        link = await session.get(ShareLink, slug)
        job = await session.get(SwapJob, row.job_id)
    if link is None or job is None:
        return None
    link = await _store_renditions(db, storage, link, job)
    assert link.gif_key and link.mp4_key and link.thumb_key
    return Shared(
        link.slug,
        job.id,
        link.gif_key,
        link.mp4_key,
        link.thumb_key,
        link.width or 0,
        link.height or 0,
        job.frames,
    )


async def _store_renditions(
    db: Database, storage: Storage, link: ShareLink, job: SwapJob
) -> ShareLink:
    out_key = output_key(job.id, job.output_format)
    output = await asyncio.to_thread(storage.get_bytes, out_key)
    made = await asyncio.to_thread(make_renditions, output, job.output_format)
    files = {
        f"jobs/{job.id}/share.mp4": (made.mp4, "video/mp4"),
        f"jobs/{job.id}/thumb.jpg": (made.thumbnail, "image/jpeg"),
    }
    gif_key = out_key if made.gif is None else f"jobs/{job.id}/share.gif"
    if made.gif is not None:
        files[gif_key] = (made.gif, "image/gif")
    if job.output_format == "mp4":
        files.pop(f"jobs/{job.id}/share.mp4")
    mp4_key = out_key if job.output_format == "mp4" else f"jobs/{job.id}/share.mp4"
    for key, (data, content_type) in files.items():
        await asyncio.to_thread(storage.put_bytes, key, data, content_type)
    values = {
        "gif_key": gif_key,
        "mp4_key": mp4_key,
        "thumb_key": f"jobs/{job.id}/thumb.jpg",
        "width": made.width,
        "height": made.height,
    }
    async with db.sessions() as session, session.begin():
        result = await session.execute(
            update(ShareLink)
            .where(ShareLink.slug == link.slug, ShareLink.thumb_key.is_(None))
            .values(**values)
        )
        if getattr(result, "rowcount", 0):
            # Recorded as the user's assets, so deleting their data deletes these files too.
            session.add_all(
                MediaAsset(
                    user_id=job.user_id,
                    kind=AssetKind.OUTPUT,
                    storage_key=key,
                    content_type=content_type,
                    bytes=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    width=made.width,
                    height=made.height,
                )
                for key, (data, content_type) in files.items()
            )
    for name, value in values.items():
        setattr(link, name, value)
    return link


def signed_url(storage: Storage, key: str, ttl_s: int) -> str:
    """A signed link valid at least ``ttl_s``, its expiry rounded up to the hour."""
    now = int(time.time())
    return storage.url(key, ttl_s + LINK_ROUND_S - now % LINK_ROUND_S)


async def remove_clip(db: Database, storage: Storage, slug: str) -> bool:
    """Take a clip down (after a report): its page answers 404 and its files are deleted."""
    async with db.sessions() as session, session.begin():
        link = await session.get(ShareLink, slug)
        if link is None or link.removed_at is not None:
            return False
        link.removed_at = utcnow()
        job = await session.get(SwapJob, link.job_id)
        keys = {k for k in (link.gif_key, link.mp4_key, link.thumb_key) if k}
        if job is not None:
            keys.add(output_key(job.id, job.output_format))
    for key in keys:
        await asyncio.to_thread(storage.delete, key)
    return True
