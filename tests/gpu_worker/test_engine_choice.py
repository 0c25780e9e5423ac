"""Engine choice per job and the fallback to ``classic``, with real engines: ``facefusion`` on
its ONNX stand-ins, ``comfyui`` against the local fake server, ``classic`` on mediapipe.

The clip is the built-in sample (a real face, which ``classic`` finds) with a bright 44-px
square in a corner, which the stand-in detector at 640 px takes for an 88-px face. What each
test checks is what the job records: which engine really ran, and why the fallback took over."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from core.config import Settings
from core.db.models import JobState, Lane
from core.errors import SwapzyError
from gpu_worker.engines.choice import JobEngine, Policy
from gpu_worker.engines.classic.engine import ClassicEngine
from gpu_worker.engines.comfyui.engine import ComfyUIEngine, Workflow
from gpu_worker.engines.facefusion.engine import FaceFusionEngine
from gpu_worker.engines.registry import LicenceRefused, ModelMissing, ModelRegistry
from gpu_worker.media import samples
from gpu_worker.pool import EnginePool
from tests.gpu_worker.fake_comfyui import FakeComfyUI, RunningServer
from tests.gpu_worker.onnx_standins import FACE_PX, build_cache, build_pinned_cache
from tests.jobs.helpers import job_row
from tests.jobs.service import Client, client, request_for, service, wait_for
from tests.media_files import write_pillow_gif

U8 = NDArray[np.uint8]
OPEN = Policy(fallback=True, allow_noncommercial=False, min_identity=-1.0)


@pytest.fixture(scope="module")
def facefusion(tmp_path_factory: pytest.TempPathFactory) -> FaceFusionEngine:
    folder = tmp_path_factory.mktemp("models")
    return FaceFusionEngine(ModelRegistry(folder, build_cache(folder), offline=True))


@pytest.fixture(scope="module")
def classic() -> Iterator[ClassicEngine]:
    engine = ClassicEngine()
    yield engine
    engine.close()


def with_square(image: U8) -> U8:
    out = image.copy()
    side = FACE_PX * max(image.shape[:2]) // 640
    out[4 : 4 + side, -side - 4 : -4] = 235
    return out


@pytest.fixture(scope="module")
def clip() -> list[U8]:
    return [with_square(f) for f in samples.sample_clip(frames=8).frames]


@pytest.fixture(scope="module")
def photo() -> U8:
    return with_square(samples.sample_face())


def run(engine: JobEngine, photo: U8, clip: list[U8]) -> list[int]:
    handed: list[int] = []
    out = engine.swap(photo, clip, on_frame=lambda i, f: handed.append(i))
    assert out.frames_swapped > 0
    return handed


def test_free_job_runs_the_gpu_engine(
    facefusion: FaceFusionEngine, classic: ClassicEngine, photo: U8, clip: list[U8]
) -> None:
    job = JobEngine(facefusion, classic, OPEN, commercial=False, primary_name="facefusion")
    assert run(job, photo, clip) == list(range(len(clip)))
    assert job.used is not None and job.used.name == "facefusion"
    assert job.used.model == "yoloface_8n,arcface_w600k_r50,inswapper_128"
    assert job.fallback_reason is None
    assert job.identity is not None and -1.0 <= job.identity <= 1.0


def test_paid_job_on_noncommercial_models_falls_back_to_classic(
    facefusion: FaceFusionEngine, classic: ClassicEngine, photo: U8, clip: list[U8]
) -> None:
    job = JobEngine(facefusion, classic, OPEN, commercial=True, primary_name="facefusion")
    assert run(job, photo, clip) == list(range(len(clip)))  # every frame once, from classic
    assert job.used is not None and job.used.name == "classic"
    assert job.fallback_reason is not None
    assert "inswapper_128 (InsightFace model licence: non-commercial" in job.fallback_reason


def test_operator_may_allow_noncommercial_models_for_paid_jobs(
    facefusion: FaceFusionEngine, classic: ClassicEngine, photo: U8, clip: list[U8]
) -> None:
    policy = Policy(fallback=True, allow_noncommercial=True, min_identity=-1.0)
    job = JobEngine(facefusion, classic, policy, commercial=True, primary_name="facefusion")
    run(job, photo, clip)
    assert job.used is not None and job.used.name == "facefusion"


def test_without_fallback_a_paid_job_is_refused(
    facefusion: FaceFusionEngine, photo: U8, clip: list[U8]
) -> None:
    policy = Policy(fallback=False)
    job = JobEngine(facefusion, None, policy, commercial=True, primary_name="facefusion")
    with pytest.raises(LicenceRefused, match="Paid jobs may not run models"):
        job.swap(photo, clip)


def test_failed_identity_check_falls_back(
    facefusion: FaceFusionEngine, classic: ClassicEngine, photo: U8, clip: list[U8]
) -> None:
    strict = Policy(fallback=True, min_identity=0.9999)
    job = JobEngine(facefusion, classic, strict, commercial=False, primary_name="facefusion")
    run(job, photo, clip)
    assert job.used is not None and job.used.name == "classic"
    assert job.identity is not None and job.identity < 0.9999
    assert job.fallback_reason == (
        f"The facefusion engine failed its identity check on sample frames "
        f"({job.identity:.2f} < 1.00)."
    )


def test_engine_not_loaded_at_warm_start_falls_back(
    classic: ClassicEngine, photo: U8, clip: list[U8]
) -> None:
    why = "Model 'inswapper_128' is not in /models; fetch it with `swapzy models fetch ...`."
    job = JobEngine(
        None, classic, OPEN, commercial=False, primary_name="facefusion", primary_error=why
    )
    run(job, photo, clip)
    assert job.used is not None and job.used.name == "classic"
    assert job.fallback_reason == why


def test_comfyui_gone_falls_back_before_any_frame(
    classic: ClassicEngine, photo: U8, clip: list[U8]
) -> None:
    server = RunningServer(FakeComfyUI())
    fake = server.__enter__()
    comfy = ComfyUIEngine(fake.url, Workflow.load("stylized_swap"))  # warm start: it is there
    server.__exit__(None, None, None)  # ... and then it goes away
    job = JobEngine(comfy, classic, OPEN, commercial=False, primary_name="comfyui")
    assert run(job, photo, clip) == list(range(len(clip)))
    assert job.used is not None and job.used.name == "classic"
    assert (
        job.fallback_reason == f"The ComfyUI server at {fake.url} cannot be reached (ConnectError)."
    )


def test_pool_warm_start_without_models_runs_on_classic(
    tmp_path: Path, photo: U8, clip: list[U8]
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        engine="facefusion",
        data_dir=tmp_path,
        models_offline=True,
    )
    pool = EnginePool.build(settings)
    try:
        assert pool.info.name == "classic"  # what the worker really runs now

        async def one_job() -> JobEngine:
            async with pool.engine(commercial=False) as job:
                run(job, photo, clip)
                return job

        job = asyncio.run(one_job())
        assert job.used is not None and job.used.name == "classic"
        assert job.encoder is not None and job.encoder.pid is not None  # the slot's encoder
        assert job.fallback_reason is not None
        assert "`swapzy models fetch yoloface_8n`" in job.fallback_reason
    finally:
        pool.close()


def test_pool_without_fallback_fails_its_warm_start(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        engine="facefusion",
        engine_fallback="none",
        data_dir=tmp_path,
        models_offline=True,
    )
    with pytest.raises(ModelMissing, match="`swapzy models fetch yoloface_8n`"):
        EnginePool.build(settings)


def test_unknown_engine_is_refused() -> None:
    from gpu_worker.engines import build_engine

    with pytest.raises(SwapzyError, match="Unknown engine 'dalle'"):
        build_engine("dalle", Settings(_env_file=None))  # type: ignore[call-arg]


def test_the_worker_records_which_engine_ran_each_job(
    tmp_path: Path, redis_url: str, sqlite_url: str
) -> None:
    """A real ``swapzy worker`` process with ``SWAPZY_ENGINE=facefusion`` on the stand-ins:
    a free job runs on facefusion; a Pro job goes to classic (non-commercial models)."""
    models = tmp_path / "models"
    build_pinned_cache(models, ["yoloface_8n", "arcface_w600k_r50", "inswapper_128"])
    frames = [with_square(f) for f in samples.sample_clip(frames=6).frames]
    target = write_pillow_gif(tmp_path / "clip.gif", frames, [80] * len(frames))
    source = tmp_path / "face.png"
    Image.fromarray(with_square(samples.sample_face())).save(source)
    overrides = {"models_dir": str(models), "models_offline": True, "engine_min_identity": -1.0}
    with service(tmp_path, redis_url, sqlite_url, engine="facefusion", **overrides) as svc:
        svc.start_worker()

        async def scenario() -> None:
            async with client(svc.settings) as c:
                free = await c.submitter.submit(request_for(target, source))
                pro = await c.submitter.submit(request_for(target, source, lane=Lane.PRO))
                for job_id in (free.job_id, pro.job_id):
                    await wait_for(_finished(c, job_id), f"job {job_id} finished", 120)
                job = await job_row(c.db, free.job_id)
                assert job.state is JobState.SUCCEEDED, job.failure_message
                assert job.engine == "facefusion"
                assert job.model == "yoloface_8n,arcface_w600k_r50,inswapper_128"
                assert "engine_fallback" not in job.quality and "identity" in job.quality
                job = await job_row(c.db, pro.job_id)
                assert job.state is JobState.SUCCEEDED, job.failure_message
                assert job.engine == "classic"
                assert job.quality["engine_fallback"].startswith(
                    "Paid jobs may not run models whose licence forbids commercial use"
                )

        asyncio.run(scenario())


def _finished(c: Client, job_id: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        job = await job_row(c.db, job_id)
        return job.state in (JobState.SUCCEEDED, JobState.FAILED)

    return check
