"""``jobs.submit`` against a real Redis and real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.db.models import JobState, Lane
from core.errors import UnsupportedMedia
from jobs.queues import ARQ_JOB, lane_queue
from jobs.status import job_status
from jobs.sweeper import Sweeper
from tests.conftest import SampleFiles
from tests.fixtures_redis import Valkey
from tests.jobs.helpers import count_jobs, job_row
from tests.jobs.service import client, request_for, service


def _stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_a_submission_is_recorded_stored_and_enqueued_with_its_id_only(
    tmp_path: Path, redis_url: str, database_url: str, sample_files: SampleFiles
) -> None:
    with service(tmp_path, redis_url, database_url) as svc:

        async def scenario() -> None:
            async with client(svc.settings, deliver=False) as c:
                sent = await c.submitter.submit(
                    request_for(sample_files.target, sample_files.source, lane=Lane.PRO)
                )
                assert sent.created and sent.state is JobState.QUEUED
                job = await job_row(c.db, sent.job_id)
                assert (job.lane, job.state, job.attempts, job.frames) == (
                    Lane.PRO,
                    JobState.QUEUED,
                    0,
                    24,
                )
                assert (
                    c.storage.get_bytes(f"jobs/{sent.job_id}/target.gif")
                    == sample_files.target.read_bytes()
                )
                assert c.storage.exists(f"jobs/{sent.job_id}/source.jpg")
                queued = await c.queue.queued_jobs(queue_name=lane_queue(Lane.PRO))
                assert [(j.job_id, j.function, j.args, j.kwargs) for j in queued] == [
                    (sent.job_id, "run_swap", (sent.job_id,), {})
                ]
                status = await job_status(c.db, c.queue, sent.job_id)
                assert status is not None and status.queue_position == 1

        asyncio.run(scenario())


def test_bad_media_is_refused_before_anything_is_stored_or_recorded(
    tmp_path: Path, redis_url: str, sqlite_url: str, sample_files: SampleFiles
) -> None:
    text = tmp_path / "notes.gif"
    text.write_text("not a gif at all")
    with service(tmp_path, redis_url, sqlite_url) as svc:

        async def scenario() -> None:
            async with client(svc.settings, deliver=False) as c:
                with pytest.raises(UnsupportedMedia, match="is a text file, not an animation"):
                    await c.submitter.submit(request_for(text, sample_files.source))
                with pytest.raises(UnsupportedMedia, match="must be a JPEG, PNG or WebP"):
                    await c.submitter.submit(request_for(sample_files.target, sample_files.target))
                assert await count_jobs(c.db) == 0
                assert _stored_files(c.settings.media_dir) == []
                assert await c.queue.zcard(lane_queue(Lane.FREE)) == 0

        asyncio.run(scenario())


def test_the_same_submission_sent_twice_at_once_makes_one_job(
    tmp_path: Path, redis_url: str, database_url: str, sample_files: SampleFiles
) -> None:
    with service(tmp_path, redis_url, database_url) as svc:

        async def scenario() -> None:
            async with client(svc.settings, deliver=False) as c:
                req = request_for(
                    sample_files.target, sample_files.source, dedup_key="telegram:42:1001"
                )
                results = await asyncio.gather(*(c.submitter.submit(req) for _ in range(4)))
                assert len({r.job_id for r in results}) == 1
                assert sorted(r.created for r in results) == [False, False, False, True]
                assert await count_jobs(c.db) == 1
                assert await c.queue.zcard(lane_queue(Lane.FREE)) == 1
                job_id = results[0].job_id
                assert [
                    p.relative_to(c.settings.media_dir) for p in _stored_files(c.settings.media_dir)
                ] == [Path(f"jobs/{job_id}/source.jpg"), Path(f"jobs/{job_id}/target.gif")]
                # Later repeats (a retried webhook) find it too.
                again = await c.submitter.submit(req)
                assert (again.job_id, again.created) == (job_id, False)

        asyncio.run(scenario())


def test_a_job_saved_while_redis_is_down_is_enqueued_by_the_sweeper(
    tmp_path: Path, valkey: Valkey, sqlite_url: str, sample_files: SampleFiles
) -> None:
    with service(tmp_path, valkey.url, sqlite_url) as svc:

        async def scenario() -> None:
            async with client(svc.settings, deliver=False) as c:
                valkey.kill()
                sent = await c.submitter.submit(
                    request_for(sample_files.target, sample_files.source)
                )
                assert sent.created  # the database took it: the job is safe
                valkey.start()
                assert not await c.queue.exists(ARQ_JOB + sent.job_id)
                report = await Sweeper(c.settings, c.db, c.queue, owner="test").sweep()
                assert report.requeued == [sent.job_id]
                assert await c.queue.exists(ARQ_JOB + sent.job_id)
                again = await Sweeper(c.settings, c.db, c.queue, owner="test").sweep()
                assert not again.changed

        asyncio.run(scenario())
