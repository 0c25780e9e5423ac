"""``run_swap(job_id)``: one clip, from the job row to a stored output and a queued delivery.

Each run is an *attempt* (``SwapJob.attempts``). Only the attempt that is still current may
finish the job, so a worker that was presumed dead (and whose job the sweeper handed to another
worker) cannot overwrite the result or deliver twice. The output key is deterministic, so a
re-run overwrites rather than duplicates.

Failures: bad media (``InputError``) fails the job once with its reason; anything else is
retried with exponential backoff until ``worker.max_attempts`` runs, then fails as "internal".
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from arq import Retry
from arq.connections import ArqRedis
from sqlalchemy import ColumnElement, select, update

from core.audit import AuditKind, record
from core.config import Settings
from core.db.models import AssetKind, JobState, Lane, MediaAsset, SwapJob, utcnow
from core.db.session import Database
from core.errors import InputError
from core.storage import Storage
from gpu_worker.engines.base import FaceSelection
from gpu_worker.engines.choice import JOB_FAILURES, EngineInfo
from gpu_worker.plan_terms import ClipTerms
from gpu_worker.pool import EnginePool
from gpu_worker.swap import SwapReport, swap_files
from jobs.delivery import enqueue_delivery
from jobs.queues import output_key
from jobs.status import publish_progress

log = logging.getLogger(__name__)

CTX_KEY = "swapzy_worker"
CONTENT_TYPES = {"gif": "image/gif", "mp4": "video/mp4", "webp": "image/webp"}
INTERNAL_MESSAGE = "Something went wrong on our side while swapping this clip. Please try again."
PROGRESS_EVERY_S = 0.25


@dataclass(frozen=True)
class WorkerResources:
    """Everything a run needs, built once per worker process (``on_startup`` equivalent)."""

    settings: Settings
    db: Database
    storage: Storage
    queue: ArqRedis
    engines: EnginePool
    worker_id: str


class Superseded(Exception):
    """This attempt is no longer the job's current one (the sweeper gave the job away)."""


def resources(ctx: dict[str, object]) -> WorkerResources:
    res = ctx[CTX_KEY]
    assert isinstance(res, WorkerResources)
    return res


async def run_swap(ctx: dict[str, object], job_id: str) -> str:
    """The arq job function."""
    return await SwapRun(resources(ctx), job_id).run()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_faces(value: str) -> FaceSelection:
    if value == "all":
        return "all"
    return int(value) if value.isdigit() else "largest"


class SwapRun:
    def __init__(self, res: WorkerResources, job_id: str) -> None:
        self.res = res
        self.job_id = job_id
        self.attempt = 0
        self.progress = (0, 0, "decode")  # frames done, total, stage (written from the thread)
        self._output_bytes = 0
        self._output_sha256 = ""
        self._engine_used: EngineInfo | None = None  # what really ran (GPU engine or fallback)
        self._engine_notes: dict[str, object] = {}

    async def run(self) -> str:
        job = await self._claim()
        if job is None:
            return "nothing to do"
        try:
            report = await self._swap(job)
        except InputError as exc:
            await self._finish_failed(exc.code, exc.message)
            return f"failed: {exc.code}"
        except JOB_FAILURES as exc:  # GPU engines: licence, ComfyUI, quality gate (issue 9)
            await self._finish_failed(exc.code, exc.message)
            return f"failed: {exc.code}"
        except asyncio.CancelledError:
            await asyncio.shield(self._requeue())  # worker shutting down; arq re-queues it
            raise
        except Superseded:
            return "superseded"
        except Exception as exc:
            return await self._retry_or_fail(exc)
        await self._finish_succeeded(job, report)
        return "succeeded"

    async def _claim(self) -> SwapJob | None:
        settings = self.res.settings.worker
        async with self.res.db.sessions() as session, session.begin():
            job = await session.get(SwapJob, self.job_id, with_for_update=True)
            if job is None or job.state.finished:
                return None
            if job.attempts >= settings.max_attempts:
                job.state = JobState.FAILED
                job.failure_reason = "internal"
                job.failure_message = INTERNAL_MESSAGE
                job.finished_at = utcnow()
                failed = True
            else:
                now = utcnow()
                job.state = JobState.RUNNING
                job.attempts += 1
                job.worker_id = self.res.worker_id
                job.started_at = now
                job.heartbeat_at = now
                job.frames_done = 0
                failed = False
            self.attempt = job.attempts
            channel = job.channel
            if failed:
                await record(
                    session,
                    AuditKind.JOB_FINISHED,
                    {
                        "job": self.job_id,
                        "state": "failed",
                        "reason": "internal",
                        "attempt": self.attempt,
                    },
                )
        if failed:
            log.error("job %s failed: it crashed its worker %d times", self.job_id, self.attempt)
            await enqueue_delivery(self.res.queue, self.job_id, channel)
            return None
        await publish_progress(
            self.res.queue, self.job_id, state="running", frames_done=0, frames_total=job.frames
        )
        return job

    async def _swap(self, job: SwapJob) -> SwapReport:
        async with self.res.db.sessions() as session:
            keys = dict(
                (
                    await session.execute(
                        select(MediaAsset.kind, MediaAsset.storage_key).where(
                            MediaAsset.id.in_([job.target_asset_id, job.source_asset_id])
                        )
                    )
                ).all()
            )
        heartbeat = asyncio.create_task(self._heartbeat(job.frames or 0))
        try:
            with tempfile.TemporaryDirectory(prefix="swapzy-job-") as tmp:
                folder = Path(tmp)
                target = folder / Path(keys[AssetKind.TARGET]).name
                source = folder / Path(keys[AssetKind.SOURCE]).name
                out = folder / f"swapzy.{job.output_format}"
                await asyncio.to_thread(self.res.storage.download, keys[AssetKind.TARGET], target)
                await asyncio.to_thread(self.res.storage.download, keys[AssetKind.SOURCE], source)
                async with self.res.engines.engine(
                    commercial=job.lane == Lane.PRO, requested=job.engine
                ) as engine:
                    report = await asyncio.to_thread(
                        swap_files,
                        target,
                        source,
                        out,
                        engine=engine,
                        limits=self.res.settings.limits,
                        faces=parse_faces(job.faces),
                        on_progress=self._on_progress,
                        terms=ClipTerms(watermark=job.watermark, max_side=job.max_side),
                        sandbox=self.res.settings.decode_sandbox,
                        encoder=engine.encoder,
                    )
                    self._engine_used = engine.used
                    self._engine_notes = {
                        k: v
                        for k, v in (
                            ("engine_fallback", engine.fallback_reason),
                            ("identity", engine.identity),
                        )
                        if v is not None
                    }
                key = output_key(job.id, job.output_format)
                await asyncio.to_thread(
                    self.res.storage.put_file, key, out, CONTENT_TYPES[job.output_format]
                )
                self._output_bytes = out.stat().st_size
                self._output_sha256 = await asyncio.to_thread(_sha256, out)
        finally:
            heartbeat.cancel()
        return report

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        if stage == "swap":
            self.progress = (done, total, stage)
        else:
            self.progress = (self.progress[0], self.progress[1], stage)

    async def _heartbeat(self, frames_total: int) -> None:
        """Publish progress while the engine runs; touch the row so the sweeper knows we live.
        A failed beat is logged and the next one tried: the clip itself goes on."""
        last_published: tuple[int, str] | None = None
        last_beat = time.monotonic()
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            done, total, stage = self.progress
            try:
                if (done, stage) != last_published:
                    await publish_progress(
                        self.res.queue,
                        self.job_id,
                        state="running",
                        stage=stage,
                        frames_done=done,
                        frames_total=total or frames_total,
                    )
                    last_published = (done, stage)
                if time.monotonic() - last_beat >= self.res.settings.worker.heartbeat_s:
                    await self._beat(done)
                    last_beat = time.monotonic()
            except Exception as exc:
                log.warning("job %s: progress/heartbeat not recorded (%s)", self.job_id, exc)

    async def _beat(self, frames_done: int) -> None:
        async with self.res.db.sessions() as session, session.begin():
            await session.execute(
                update(SwapJob)
                .where(SwapJob.id == self.job_id, SwapJob.attempts == self.attempt)
                .values(heartbeat_at=utcnow(), frames_done=frames_done)
            )

    def _current(self) -> list[ColumnElement[bool]]:
        return [
            SwapJob.id == self.job_id,
            SwapJob.attempts == self.attempt,
            SwapJob.state == JobState.RUNNING,
        ]

    async def _finish_succeeded(self, job: SwapJob, report: SwapReport) -> None:
        key = output_key(job.id, job.output_format)
        figures = {
            "frames_swapped": report.frames_swapped,
            "swapped_ratio": round(report.frames_swapped / max(report.frames, 1), 4),
            "people_in_clip": report.people_in_clip,
            "source_faces_found": report.source_faces_found,
            "decode_s": round(report.decode_s, 4),
            "engine_s": round(report.engine_s, 4),
            "encode_s": round(report.encode_s, 4),
            "engine_fps": round(report.frames / report.engine_s, 2) if report.engine_s else None,
        }
        engine = self._engine_used or self.res.engines.info
        async with self.res.db.sessions() as session, session.begin():
            current = await session.scalar(
                select(SwapJob).where(*self._current()).with_for_update()
            )
            if current is None:
                raise_superseded = True
            else:
                raise_superseded = False
                asset = await session.scalar(
                    select(MediaAsset).where(MediaAsset.storage_key == key)
                )
                if asset is None:
                    asset = MediaAsset(user_id=job.user_id, kind=AssetKind.OUTPUT, storage_key=key)
                    session.add(asset)
                asset.content_type = CONTENT_TYPES[job.output_format]
                asset.bytes = self._output_bytes
                asset.sha256 = self._output_sha256
                asset.width, asset.height = report.size
                asset.frames = report.frames
                await session.flush()
                current.state = JobState.SUCCEEDED
                current.output_asset_id = asset.id
                current.frames = report.frames
                current.frames_done = report.frames
                current.engine = engine.name
                current.model = engine.model
                current.engine_seconds = report.engine_s
                current.total_seconds = report.decode_s + report.engine_s + report.encode_s
                current.quality = {**figures, **self._engine_notes}
                current.finished_at = utcnow()
                await record(
                    session,
                    AuditKind.JOB_FINISHED,
                    {
                        "job": job.id,
                        "state": "succeeded",
                        "attempt": self.attempt,
                        "output_sha256": self._output_sha256,
                        "engine": engine.name,
                        "model": engine.model,
                    },
                )
        if raise_superseded:
            log.warning("job %s attempt %d finished after being superseded", job.id, self.attempt)
            return
        await publish_progress(
            self.res.queue,
            self.job_id,
            state="succeeded",
            frames_done=report.frames,
            frames_total=report.frames,
        )
        await enqueue_delivery(self.res.queue, self.job_id, job.channel)

    async def _finish_failed(self, reason: str, message: str) -> None:
        async with self.res.db.sessions() as session, session.begin():
            result = await session.execute(
                update(SwapJob)
                .where(*self._current())
                .values(
                    state=JobState.FAILED,
                    failure_reason=reason,
                    failure_message=message,
                    finished_at=utcnow(),
                )
                .returning(SwapJob.channel)
            )
            channel = result.scalar_one_or_none()
            if channel is not None:
                await record(
                    session,
                    AuditKind.JOB_FINISHED,
                    {
                        "job": self.job_id,
                        "state": "failed",
                        "reason": reason,
                        "attempt": self.attempt,
                    },
                )
        if channel is None:
            return
        await publish_progress(self.res.queue, self.job_id, state="failed", reason=reason)
        await enqueue_delivery(self.res.queue, self.job_id, channel)

    async def _requeue(self) -> None:
        async with self.res.db.sessions() as session, session.begin():
            await session.execute(
                update(SwapJob)
                .where(*self._current())
                .values(state=JobState.QUEUED, worker_id=None)
            )

    async def _retry_or_fail(self, exc: Exception) -> str:
        settings = self.res.settings.worker
        if self.attempt >= settings.max_attempts:
            log.exception("job %s failed after %d attempts", self.job_id, self.attempt)
            await self._finish_failed("internal", INTERNAL_MESSAGE)
            return "failed: internal"
        defer = settings.retry_backoff_s * 2 ** (self.attempt - 1)
        log.warning(
            "job %s attempt %d failed (%s: %s); retrying in %.1f s",
            self.job_id,
            self.attempt,
            type(exc).__name__,
            exc,
            defer,
        )
        await self._requeue()
        raise Retry(defer=defer) from exc
