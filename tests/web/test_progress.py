"""The job page's live status over Server-Sent Events, from the real web process (uvicorn) while
a real worker runs the job, and a failed job's one human sentence."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import httpx
from PIL import Image

from tests.conftest import SampleFiles
from tests.jobs.service import service
from tests.web.pages_client import parse, text_of, wait_for_state
from tests.web.server import base_url, bind_free_socket, serve
from web.main import build_app


async def submit(http: httpx.AsyncClient, target: bytes, face: bytes) -> str:
    csrf = parse((await http.get("/")).text).inputs["csrf"]
    made = await http.post(
        "/make",
        data={"csrf": csrf, "consent": "yes"},
        files={"gif": ("t.gif", target, "image/gif"), "face": ("f.jpg", face, "image/jpeg")},
    )
    assert made.status_code == 303, text_of(made.text)
    return made.headers["location"].removeprefix("/j/")


async def events(http: httpx.AsyncClient, job_id: str) -> list[dict[str, object]]:
    """Every event of the job's stream, until the server ends it."""
    seen = []
    async with http.stream("GET", f"/api/jobs/{job_id}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line.removeprefix("data: ")))
    return seen


def test_the_event_stream_follows_the_job_to_its_share_page(
    tmp_path: Path, redis_url: str, sqlite_url: str, sample_files: SampleFiles
) -> None:
    sock = bind_free_socket()
    with (
        service(tmp_path, redis_url, sqlite_url, public_url=base_url(sock)) as svc,
        serve(build_app(svc.settings), sock) as base,
    ):

        async def scenario() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                job_id = await submit(
                    http, sample_files.target.read_bytes(), sample_files.source.read_bytes()
                )
                stream = asyncio.create_task(events(http, job_id))
                # The stream shows the job waiting before any worker exists.
                await asyncio.to_thread(svc.start_worker, noop_frame_delay_ms=60)
                seen = await asyncio.wait_for(stream, 120)
            states = [str(e["state"]) for e in seen]
            assert states[0] == "queued" and seen[0]["queue_position"] == 1
            assert states[-1] == "succeeded" and seen[-1]["percent"] == 100
            assert str(seen[-1]["share_url"]).startswith("/c/")
            running = [int(str(e["percent"])) for e in seen if e["state"] == "running"]
            assert any(0 < p < 100 for p in running), seen
            assert running == sorted(running)
            assert states == sorted(states, key=["queued", "running", "succeeded"].index)

        asyncio.run(scenario())


def test_a_failed_job_says_why_in_one_sentence(
    tmp_path: Path, redis_url: str, sqlite_url: str, sample_files: SampleFiles
) -> None:
    blank = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 160, 200)).save(blank, format="JPEG")
    sock = bind_free_socket()
    with (
        service(
            tmp_path, redis_url, sqlite_url, public_url=base_url(sock), engine="classic"
        ) as svc,
        serve(build_app(svc.settings), sock) as base,
    ):
        svc.start_worker()

        async def scenario() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                job_id = await submit(http, sample_files.target.read_bytes(), blank.getvalue())
                done = await wait_for_state(http, f"/api/jobs/{job_id}", {"succeeded", "failed"})
            assert done["state"] == "failed"
            message = str(done["message"])
            assert message.endswith(".") and "\n" not in message and "Traceback" not in message
            assert "face" in message.lower(), message
            assert "share_url" not in done

        asyncio.run(scenario())
