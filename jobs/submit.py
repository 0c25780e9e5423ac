"""``submit``: the one path every channel uses to turn a GIF + a face photo into a queued job.

The database row is the commit point: inputs are stored first (under the job's own keys), then
one transaction writes the media assets and the job, then the job is enqueued. If enqueueing
fails (Redis down), the job is still safe in the database and the sweeper enqueues it later; if
the transaction fails, the stored inputs are deleted. A repeated submission (same ``dedup_key``)
returns the first job instead of making a second one, even when both arrive at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path

from arq.connections import ArqRedis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.audit import AuditKind, record
from core.config import Settings
from core.db.models import AssetKind, JobState, Lane, MediaAsset, SwapJob
from core.db.models import new_id as new_job_id
from core.db.session import Database
from core.errors import InputError, UnsupportedOutput
from core.media import MediaInfo, MediaKind
from core.sandbox import probe_inputs
from core.storage import Storage
from jobs.accounts import user_for
from jobs.contract import Admission, Submitted, SwapRequest, Unmetered
from jobs.queues import RUN_SWAP, lane_queue
from jobs.wake import ring

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    MediaKind.GIF: "image/gif",
    MediaKind.PNG: "image/png",
    MediaKind.JPEG: "image/jpeg",
    MediaKind.WEBP: "image/webp",
    MediaKind.MP4: "video/mp4",
    MediaKind.WEBM: "video/webm",
}
EXTENSIONS = {MediaKind.JPEG: "jpg"}


def input_key(job_id: str, role: AssetKind, kind: MediaKind) -> str:
    return f"jobs/{job_id}/{role.value}.{EXTENSIONS.get(kind, kind.value)}"


def _submitted(job_id: str, user_id: str, assets: dict[AssetKind, MediaAsset]) -> dict[str, str]:
    """The audit body of a submission: who, which job, which inputs (by hash)."""
    return {
        "job": job_id,
        "user": user_id,
        "target_sha256": assets[AssetKind.TARGET].sha256 or "",
        "source_sha256": assets[AssetKind.SOURCE].sha256 or "",
    }


def parse_faces(value: str) -> str:
    v = value.strip().lower()
    if v in ("largest", "all") or (v.isdigit() and 1 <= int(v) <= 99):
        return v
    raise InputError(f"Faces must be 'largest', 'all' or a face number such as 2, not {value!r}.")


async def enqueue_swap(queue: ArqRedis, job_id: str, lane: Lane) -> bool:
    """Put the job on its lane. Idempotent: arq refuses a second copy of the same job id."""
    job = await queue.enqueue_job(RUN_SWAP, job_id, _job_id=job_id, _queue_name=lane_queue(lane))
    if job is not None:
        await ring(queue, lane_queue(lane))
    return job is not None


class Submitter:
    """Built once per process with its resources; ``submit`` per request."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        storage: Storage,
        queue: ArqRedis,
        admission: Admission | None = None,
    ):
        self.settings = settings
        self.db = db
        self.storage = storage
        self.queue = queue
        self.admission = admission

    async def submit(self, request: SwapRequest) -> Submitted:
        """Validate, store, record and enqueue. Raises ``InputError`` for unusable media."""
        if request.dedup_key is not None:
            earlier = await self._find(request.dedup_key)
            if earlier is not None:
                return earlier
        faces = parse_faces(request.faces)
        target, source = await asyncio.to_thread(self._probe, request)
        job_id = new_job_id()
        keys = {
            AssetKind.TARGET: input_key(job_id, AssetKind.TARGET, target.kind),
            AssetKind.SOURCE: input_key(job_id, AssetKind.SOURCE, source.kind),
        }
        await asyncio.to_thread(self._store_inputs, request, keys, target, source)
        user_id = await user_for(
            self.db, request.channel, request.external_user_id, request.username
        )
        try:
            async with self.db.sessions() as session, session.begin():
                assets = {
                    role: MediaAsset(
                        user_id=user_id,
                        kind=role,
                        storage_key=keys[role],
                        content_type=CONTENT_TYPES[info.kind],
                        bytes=len(data),
                        sha256=hashlib.sha256(data).hexdigest(),
                        width=info.width,
                        height=info.height,
                        frames=info.frames,
                    )
                    for role, info, data in (
                        (AssetKind.TARGET, target, request.target.data),
                        (AssetKind.SOURCE, source, request.source.data),
                    )
                }
                session.add_all(assets.values())
                await session.flush()  # SQLite: this write takes the lock, so admits queue up
                admission = self.admission or Unmetered(request.lane)
                terms = await admission.admit(session, user_id=user_id, frames=target.frames)
                if request.output_format not in terms.formats:
                    raise UnsupportedOutput(
                        f"Your plan makes {', '.join(terms.formats)} clips, "
                        f"not {request.output_format}."
                    )
                session.add(
                    SwapJob(
                        id=job_id,
                        user_id=user_id,
                        channel=request.channel,
                        reply_to=dict(request.reply_to),
                        dedup_key=request.dedup_key,
                        lane=terms.lane,
                        watermark=terms.watermark,
                        max_side=terms.max_side,
                        state=JobState.QUEUED,
                        faces=faces,
                        output_format=request.output_format,
                        engine=self.settings.engine,
                        frames=target.frames,
                        target_asset_id=assets[AssetKind.TARGET].id,
                        source_asset_id=assets[AssetKind.SOURCE].id,
                    )
                )
                await record(session, AuditKind.JOB_SUBMITTED, _submitted(job_id, user_id, assets))
        except IntegrityError:
            await asyncio.to_thread(self._delete, keys.values())
            if request.dedup_key is not None:
                earlier = await self._find(request.dedup_key)
                if earlier is not None:
                    return earlier  # a concurrent copy of this submission won the race
            raise
        except InputError:  # refused by the plan check: nothing was recorded
            await asyncio.to_thread(self._delete, keys.values())
            if request.dedup_key is not None:
                earlier = await self._find(request.dedup_key)
                if earlier is not None:
                    return earlier  # a concurrent copy was admitted and counted first
            raise
        except BaseException:
            await asyncio.to_thread(self._delete, keys.values())
            raise
        try:
            await enqueue_swap(self.queue, job_id, terms.lane)
        except Exception as exc:  # the row is the truth; the sweeper enqueues it later
            log.warning("job %s saved but not enqueued yet (%s); the sweeper will", job_id, exc)
        return Submitted(job_id=job_id, created=True, state=JobState.QUEUED)

    async def _find(self, dedup_key: str) -> Submitted | None:
        async with self.db.sessions() as session:
            job = await session.scalar(select(SwapJob).where(SwapJob.dedup_key == dedup_key))
            if job is None:
                return None
            return Submitted(job_id=job.id, created=False, state=job.state)

    def _probe(self, request: SwapRequest) -> tuple[MediaInfo, MediaInfo]:
        limits = self.settings.limits
        with tempfile.TemporaryDirectory(prefix="swapzy-submit-") as tmp:
            target_path = Path(tmp) / "target"
            source_path = Path(tmp) / "source"
            target_path.write_bytes(request.target.data)
            source_path.write_bytes(request.source.data)
            # In a limited child process: hostile bytes never reach a decoder in this one.
            return probe_inputs(target_path, source_path, limits, self.settings.decode_sandbox)

    def _store_inputs(
        self,
        request: SwapRequest,
        keys: dict[AssetKind, str],
        target: MediaInfo,
        source: MediaInfo,
    ) -> None:
        self.storage.put_bytes(
            keys[AssetKind.TARGET], request.target.data, CONTENT_TYPES[target.kind]
        )
        self.storage.put_bytes(
            keys[AssetKind.SOURCE], request.source.data, CONTENT_TYPES[source.kind]
        )

    def _delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.storage.delete(key)
