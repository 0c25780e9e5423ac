"""The ``comfyui`` engine against a local server speaking ComfyUI's HTTP + websocket API
(``fake_comfyui``): uploads, queued prompts with the template's named parameters, progress over
the websocket, outputs from history + /view, and every failure as one clear sentence."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from numpy.typing import NDArray

from core.db.models import JobState
from gpu_worker.engines.comfyui.client import ComfyClient, ComfyFailed, ComfyUnavailable
from gpu_worker.engines.comfyui.engine import WORKFLOWS, ComfyUIEngine, Workflow
from tests.conftest import SampleFiles
from tests.gpu_worker.fake_comfyui import FakeComfyUI, RunningServer
from tests.jobs.helpers import job_row
from tests.jobs.service import Client, client, request_for, service, wait_for

U8 = NDArray[np.uint8]


class RecordingTransport(httpx.HTTPTransport):
    """An injected transport: real HTTP, and a list of what was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(f"{request.method} {request.url.path}")
        return super().handle_request(request)


@pytest.fixture
def comfy() -> Iterator[FakeComfyUI]:
    with RunningServer(FakeComfyUI()) as fake:
        yield fake


def frames(n: int = 3) -> list[U8]:
    out = []
    for i in range(n):
        f = np.zeros((60, 80, 3), np.uint8)
        f[:, :, 0] = 40 * i
        f[10:20, 10:20] = 255
        out.append(f)
    return out


def face() -> U8:
    return np.full((50, 50, 3), (200, 100, 50), np.uint8)


def engine(url: str, **kwargs: object) -> ComfyUIEngine:
    return ComfyUIEngine(url, Workflow.load("stylized_swap"), **kwargs)  # type: ignore[arg-type]


def test_stylized_swap_end_to_end(comfy: FakeComfyUI) -> None:
    transport = RecordingTransport()
    eng = engine(comfy.url, transport=transport)
    clip = frames()
    handed: list[int] = []
    progress: list[tuple[int, int]] = []

    out = eng.swap(
        face(),
        clip,
        on_frame=lambda i, f: handed.append(i),
        on_progress=lambda d, t: progress.append((d, t)),
    )

    assert handed == [0, 1, 2] and progress == [(1, 3), (2, 3), (3, 3)]
    assert len(comfy.prompts) == 3
    first = comfy.prompts[0]
    assert first["4"]["inputs"]["text"].startswith("cel-shaded")  # a default parameter
    assert first["7"]["inputs"]["denoise"] == 0.45
    assert first["1"]["inputs"]["image"].endswith("target-0000.png")
    assert {p["2"]["inputs"]["image"] for p in comfy.prompts} == {first["2"]["inputs"]["image"]}
    for before, after in zip(clip, out.frames, strict=True):
        assert after.shape == before.shape
        assert tuple(after[30, 40]) == (200, 100, 50)  # the source went in
        expected = np.clip(before[0, 0].astype(np.float32) * 0.5 + (0, 40, 90), 0, 255)
        assert np.abs(after[0, 0].astype(int) - expected.astype(int)).max() <= 1  # this target
    assert out.notes == ["Stylized by the ComfyUI workflow 'stylized_swap'."]
    uploads = [p for p in transport.paths if p == "POST /upload/image"]
    assert transport.paths[0] == "GET /system_stats" and len(uploads) == 4  # source once
    assert transport.paths.count("POST /prompt") == 3
    assert {m.name: m.commercial_use for m in eng.models} == {
        "sd_xl_base_1.0": True,
        "inswapper_128": False,
    }


def test_outputs_of_another_size_are_fitted_to_the_frame(comfy: FakeComfyUI) -> None:
    comfy.faults.half_size_output = True
    out = engine(comfy.url).swap(face(), frames(1))
    assert out.frames[0].shape == (60, 80, 3)


def test_face_number_becomes_the_workflow_parameter(comfy: FakeComfyUI) -> None:
    engine(comfy.url).swap(face(), frames(1), faces=2)
    assert comfy.prompts[0]["10"]["inputs"]["input_faces_index"] == "1"


def test_invalid_prompt_is_a_clear_failure(comfy: FakeComfyUI, tmp_path: Path) -> None:
    data = json.loads((WORKFLOWS / "stylized_swap.json").read_text())
    data["prompt"]["3"]["class_type"] = "CheckpointLoaderTurbo"
    (tmp_path / "broken.json").write_text(json.dumps(data))
    eng = ComfyUIEngine(comfy.url, Workflow.load("broken", tmp_path))
    with pytest.raises(ComfyFailed) as err:
        eng.swap(face(), frames(1))
    assert err.value.message == (
        "ComfyUI refused the workflow (invalid_prompt): Cannot execute because node "
        "CheckpointLoaderTurbo does not exist: Node ID '#3'."
    )


def test_node_validation_errors_name_the_node(comfy: FakeComfyUI) -> None:
    client = ComfyClient(comfy.url)
    prompt = Workflow.load("stylized_swap").fill(
        {"target_image": "nope.png", "source_image": "x.png"}
    )
    with pytest.raises(ComfyFailed) as err:
        client.queue(prompt)
    assert err.value.message == (
        "ComfyUI refused the workflow (prompt_outputs_failed_validation): Prompt outputs failed "
        "validation; node 1 (LoadImage): Invalid image file (image - nope.png); "
        "node 2 (LoadImage): Invalid image file (image - x.png)."
    )


def test_execution_error_is_a_clear_failure(comfy: FakeComfyUI) -> None:
    comfy.faults.error_in_node = "10"
    with pytest.raises(ComfyFailed) as err:
        engine(comfy.url).swap(face(), frames(2))
    assert err.value.message == (
        "The ComfyUI workflow failed in node 10 (ReActorFaceSwap): CUDA out of memory. "
        "Tried to allocate 2.00 GiB"
    )


def test_a_workflow_that_never_finishes_times_out(comfy: FakeComfyUI) -> None:
    comfy.faults.hang = True
    with pytest.raises(ComfyFailed, match=r"^The ComfyUI workflow did not finish within 1 s\.$"):
        engine(comfy.url, timeout_s=1.0).swap(face(), frames(1))


def test_server_errors_are_clear_failures(comfy: FakeComfyUI) -> None:
    comfy.faults.prompt_status = 500
    with pytest.raises(ComfyFailed, match=r"^The ComfyUI server answered HTTP 500 on /prompt\.$"):
        engine(comfy.url).swap(face(), frames(1))


def test_unreachable_server_is_unavailable_at_warm_start() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(ComfyUnavailable) as err:
        engine(f"http://127.0.0.1:{port}")
    assert err.value.message == (
        f"The ComfyUI server at http://127.0.0.1:{port} cannot be reached (ConnectError)."
    )


def test_workflow_templates_are_checked() -> None:
    with pytest.raises(
        Exception, match=r"No ComfyUI workflow called 'nope'; there are: stylized_swap\."
    ):
        Workflow.load("nope")
    flow = Workflow.load("stylized_swap")
    with pytest.raises(Exception, match="has no parameter 'colour'"):
        flow.fill({"colour": 1})
    with pytest.raises(Exception, match="needs a value for 'source_image'"):
        flow.fill({"target_image": "t.png"})


def test_the_worker_runs_comfyui_jobs_and_fails_them_clearly(
    tmp_path: Path, redis_url: str, sqlite_url: str, sample_files: SampleFiles
) -> None:
    """A real ``swapzy worker`` with ``SWAPZY_ENGINE=comfyui`` against the fake server: a clip
    comes back stylized; a workflow that fails on the server fails the job with its reason."""
    with (
        RunningServer(FakeComfyUI()) as fake,
        service(tmp_path, redis_url, sqlite_url, engine="comfyui", comfyui_url=fake.url) as svc,
    ):
        svc.start_worker()

        async def scenario() -> None:
            async with client(svc.settings) as c:
                good = await c.submitter.submit(
                    request_for(sample_files.target, sample_files.source)
                )
                await wait_for(_finished(c, good.job_id), "the stylized job", 120)
                job = await job_row(c.db, good.job_id)
                assert job.state is JobState.SUCCEEDED, job.failure_message
                assert job.engine == "comfyui" and job.model == "sd_xl_base_1.0,inswapper_128"
                assert len(fake.prompts) == job.frames == 24

                fake.faults.error_in_node = "10"
                bad = await c.submitter.submit(
                    request_for(sample_files.target, sample_files.source, user="u2")
                )
                await wait_for(_finished(c, bad.job_id), "the failing job", 120)
                job = await job_row(c.db, bad.job_id)
                assert job.state is JobState.FAILED and job.attempts == 1
                assert job.failure_reason == "engine_failed"
                assert job.failure_message == (
                    "The ComfyUI workflow failed in node 10 (ReActorFaceSwap): "
                    "CUDA out of memory. Tried to allocate 2.00 GiB"
                )

        asyncio.run(scenario())


def _finished(c: Client, job_id: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        job = await job_row(c.db, job_id)
        return job.state in (JobState.SUCCEEDED, JobState.FAILED)

    return check
