"""The swap worker as a real process (``swapzy worker``) on a real Redis and database: a clip
from submission to delivery, bad media, transient failures, lanes, and a worker killed mid-clip.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from core.db.models import JobState, Lane, MediaAsset
from gpu_worker.media import load_clip
from jobs.status import job_status, read_progress
from jobs.sweeper import Sweeper
from tests.conftest import SampleFiles
from tests.jobs.helpers import deliveries, job_row
from tests.jobs.service import client, request_for, service, wait_for
from tests.media_files import distinct_frames, write_pillow_gif


def test_a_clip_goes_from_submission_to_delivery_with_the_classic_engine(
    tmp_path: Path, redis_url: str, sqlite_url: str, sample_files: SampleFiles
) -> None:
    faceless = write_pillow_gif(tmp_path / "faceless.gif", distinct_frames(4), [100] * 4)
    with service(tmp_path, redis_url, sqlite_url, engine="classic") as svc:
        svc.start_worker()

        async def scenario() -> None:
            async with client(svc.settings) as c:
                good = await c.submitter.submit(
                    request_for(sample_files.target, sample_files.source)
                )
                bad = await c.submitter.submit(request_for(faceless, sample_files.source))
                for job_id in (good.job_id, bad.job_id):
                    await wait_for(_delivered(c.queue, job_id), f"delivery of {job_id}")

                job = await job_row(c.db, good.job_id)
                assert job.state is JobState.SUCCEEDED
                assert job.attempts == 1 and job.delivered_at is not None
                assert job.engine == "classic" and job.model
                assert job.frames == 24 and job.engine_seconds and job.engine_seconds > 0
                assert job.quality["frames_swapped"] >= 20
                [message] = await deliveries(c.queue, good.job_id)
                assert message["state"] == "succeeded"
                assert f"/m/jobs/{good.job_id}/swapzy.gif?exp=" in message["link"]
                out = tmp_path / "out.gif"
                c.storage.download(f"jobs/{good.job_id}/swapzy.gif", out)
                async with c.db.sessions() as session:
                    asset = await session.get(MediaAsset, job.output_asset_id)
                assert asset is not None and asset.bytes == out.stat().st_size
                assert asset.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
                result, original = (
                    load_clip(out, c.settings.limits),
                    load_clip(sample_files.target, c.settings.limits),
                )
                assert len(result) == len(original) and result.size == original.size
                assert result.durations_ms == original.durations_ms

                job = await job_row(c.db, bad.job_id)
                assert job.state is JobState.FAILED and job.attempts == 1
                assert job.failure_reason == "no_face_in_target"
                [message] = await deliveries(c.queue, bad.job_id)
                assert message["failure_message"] == "No face found in any frame of the GIF/video."

        asyncio.run(scenario())


def test_transient_failures_are_retried_with_backoff_then_fail_with_a_human_message(
    tmp_path: Path, redis_url: str, sqlite_url: str, sample_files: SampleFiles
) -> None:
    with service(tmp_path, redis_url, sqlite_url) as svc:

        async def scenario() -> None:
            async with client(svc.settings) as c:
                sent = await c.submitter.submit(
                    request_for(sample_files.target, sample_files.source)
                )
                c.storage.delete(f"jobs/{sent.job_id}/target.gif")  # storage loses the input
                svc.start_worker()
                await wait_for(lambda: deliveries(c.queue, sent.job_id), "the failure delivery")
                job = await job_row(c.db, sent.job_id)
                assert job.state is JobState.FAILED
                assert job.attempts == c.settings.worker.max_attempts == 3
                assert job.failure_reason == "internal"
                [message] = await deliveries(c.queue, sent.job_id)
                assert message["failure_message"].startswith("Something went wrong on our side")

        asyncio.run(scenario())


def test_pro_jobs_run_before_free_jobs_that_waited_longer(
    tmp_path: Path, redis_url: str, sqlite_url: str, sample_files: SampleFiles
) -> None:
    with service(tmp_path, redis_url, sqlite_url, worker={"noop_frame_delay_ms": 20}) as svc:
        svc.start_worker()

        async def scenario() -> None:
            async with client(svc.settings) as c:

                def req(lane: Lane) -> object:
                    return request_for(sample_files.target, sample_files.source, lane=lane)

                first = await c.submitter.submit(req(Lane.FREE))  # type: ignore[arg-type]
                await wait_for(
                    lambda: _state_is(c, first.job_id, JobState.RUNNING), "the first job to run"
                )
                free2 = await c.submitter.submit(req(Lane.FREE))  # type: ignore[arg-type]
                free3 = await c.submitter.submit(req(Lane.FREE))  # type: ignore[arg-type]
                pro = await c.submitter.submit(req(Lane.PRO))  # type: ignore[arg-type]
                positions = [
                    (await job_status(c.db, c.queue, j.job_id)).queue_position  # type: ignore[union-attr]
                    for j in (pro, free2, free3)
                ]
                assert positions == [1, 2, 3]
                for sent in (first, free2, free3, pro):
                    await wait_for(_delivered(c.queue, sent.job_id), "all deliveries")
                started = {
                    name: (await job_row(c.db, sent.job_id)).started_at
                    for name, sent in (("pro", pro), ("free2", free2), ("free3", free3))
                }
                assert started["pro"] < started["free2"] < started["free3"]  # type: ignore[operator]

        asyncio.run(scenario())


def _delivered(queue: Any, job_id: str) -> Callable[[], Awaitable[list[dict[str, Any]]]]:
    return lambda: deliveries(queue, job_id)


async def _state_is(c: object, job_id: str, state: JobState) -> bool:
    return (await job_row(c.db, job_id)).state is state  # type: ignore[attr-defined]


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_worker_killed_mid_clip_loses_nothing_and_delivers_once(
    tmp_path: Path,
    redis_url: str,
    database: str,
    request: pytest.FixtureRequest,
    sample_files: SampleFiles,
) -> None:
    database_url = request.getfixturevalue(f"{database}_url")
    with service(tmp_path, redis_url, database_url, worker={"noop_frame_delay_ms": 60}) as svc:
        workers = {w.pid: w for w in (svc.start_worker(), svc.start_worker())}

        async def scenario() -> None:
            async with client(svc.settings) as c:
                sent = await c.submitter.submit(
                    request_for(sample_files.target, sample_files.source)
                )
                progress = await wait_for(
                    lambda: _mid_clip(c, sent.job_id), "the clip to be a few frames in"
                )
                assert progress["frames_total"] == 24
                running = await job_row(c.db, sent.job_id)
                victim = int(str(running.worker_id).split(":")[1])
                assert victim in workers
                os.kill(victim, signal.SIGKILL)

                await wait_for(lambda: deliveries(c.queue, sent.job_id), "the delivery", 60)
                job = await job_row(c.db, sent.job_id)
                assert job.state is JobState.SUCCEEDED
                assert job.attempts == 2
                survivor = int(str(job.worker_id).split(":")[1])
                assert survivor != victim and survivor in workers
                # Nothing is left to redo, and nothing is delivered twice.
                report = await Sweeper(c.settings, c.db, c.queue, owner="test").sweep()
                assert not report.changed
                assert len(await deliveries(c.queue, sent.job_id)) == 1
                assert c.storage.exists(f"jobs/{sent.job_id}/swapzy.gif")

        asyncio.run(scenario())


async def _mid_clip(c: object, job_id: str) -> dict[str, object] | None:
    progress = await read_progress(c.queue, job_id)  # type: ignore[attr-defined]
    done = int(str(progress.get("frames_done", 0)))
    return progress if 3 <= done < 20 else None
