"""The landing page, uploads and the job page's live status, through the real app (ASGI), with
a real worker, real Redis, and SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import select

from core.db.models import Channel, ChannelIdentity, JobState, SwapJob, User, UserEvent
from tests.conftest import SampleFiles
from tests.jobs.service import Service
from tests.web.pages_client import (
    open_app,
    parse,
    path_of,
    site_service,
    text_of,
    wait_for_state,
)


async def landing(http: httpx.AsyncClient) -> tuple[str, list[str]]:
    page = await http.get("/")
    assert page.status_code == 200
    html = page.text
    names = [
        line.split('value="')[1].split('"')[0]
        for line in html.splitlines()
        if 'name="template"' in line
    ]
    return parse(html).inputs["csrf"], names


def files(sample: SampleFiles, *, gif: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"face": ("face.jpg", sample.source.read_bytes(), "image/jpeg")}
    if gif:
        out["gif"] = ("mine.gif", sample.target.read_bytes(), "image/gif")
    return out


def test_landing_shows_the_gallery_and_a_consent_box(
    tmp_path: Path, redis_url: str, sqlite_url: str
) -> None:
    with site_service(tmp_path, redis_url, sqlite_url) as svc:

        async def scenario() -> None:
            async with open_app(svc.settings) as (_, http):
                page = await http.get("/")
                assert page.status_code == 200
                words = text_of(page.text)
                assert "Put a face in a GIF" in words
                assert "I have the right to use this face." in words
                _, names = await landing(http)
                assert names == ["astronaut-pan", "astronaut-zoom", "hopper-sway"]
                # Template previews are signed media links that serve real GIFs.
                srcs = [v["src"] for v in parse(page.text).ids.values() if "src" in v]
                img = [s for s in page.text.split('src="')[1:] if "/m/templates/" in s]
                assert len(img) == 3, srcs
                url = img[0].split('"')[0].replace("&amp;", "&")
                gif = await http.get(url.removeprefix(svc.settings.public_url))
                assert gif.status_code == 200 and gif.headers["content-type"] == "image/gif"
                assert Image.open(io.BytesIO(gif.content)).format == "GIF"
                assert "swapzy_session=" in page.headers["set-cookie"]

        asyncio.run(scenario())


def test_a_template_and_a_face_become_a_job_whose_progress_the_page_reads(
    tmp_path: Path, redis_url: str, database_url: str, sample_files: SampleFiles
) -> None:
    with site_service(tmp_path, redis_url, database_url) as svc:
        asyncio.run(_template_to_clip(svc, sample_files))


async def _template_to_clip(svc: Service, sample: SampleFiles) -> None:
    async with open_app(svc.settings) as (app, http):
        csrf, names = await landing(http)
        form = {"csrf": csrf, "template": names[0], "consent": "yes"}
        made = await http.post("/make", data=form, files=files(sample))
        assert made.status_code == 303, made.text
        job_url = made.headers["location"]
        job_id = job_url.removeprefix("/j/")
        page = await http.get(job_url)
        assert page.status_code == 200
        assert "Making your clip" in text_of(page.text)
        # No worker yet: the job waits, first in the queue.
        status = (await http.get(f"/api/jobs/{job_id}")).json()
        assert status == {
            "state": "queued",
            "queue_position": 1,
            "frames_done": 0,
            "frames_total": 20,
            "percent": 0,
            "message": None,
        }
        # Another browser cannot read it.
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=str(http.base_url)
        ) as other:
            assert (await other.get(f"/api/jobs/{job_id}")).status_code == 404
            assert (await other.get(job_url)).status_code == 404
        await asyncio.to_thread(svc.start_worker, noop_frame_delay_ms=50)
        done = await wait_for_state(http, f"/api/jobs/{job_id}", {"succeeded", "failed"})
        assert done["state"] == "succeeded", done
        assert done["percent"] == 100 and done["frames_done"] == 20
        assert done["share_url"].startswith("/c/")
        clip = await http.get(path_of(done["clip_url"]))
        assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
        poster = await http.get(path_of(done["poster_url"]))
        assert poster.headers["content-type"] == "image/jpeg"
        share = await http.get(done["share_url"])
        assert share.status_code == 200
        db = app.state.resources.db
        async with db.sessions() as s:
            job = await s.get(SwapJob, job_id)
            assert job is not None and job.channel is Channel.WEB
            assert job.state is JobState.SUCCEEDED
            user = await s.get(User, job.user_id)
            assert user is not None and user.face_consent_at is not None
            kinds = list(
                await s.scalars(select(UserEvent.kind).where(UserEvent.user_id == user.id))
            )
            assert kinds == ["face_consent"]
            ident = await s.scalar(
                select(ChannelIdentity).where(ChannelIdentity.user_id == user.id)
            )
            assert ident is not None and ident.external_id.startswith("anon:")


def test_an_uploaded_gif_is_used_and_bad_input_gets_one_clear_sentence(
    tmp_path: Path, redis_url: str, sqlite_url: str, sample_files: SampleFiles
) -> None:
    with site_service(tmp_path, redis_url, sqlite_url) as svc:

        async def scenario() -> None:
            async with open_app(svc.settings) as (app, http):
                csrf, _ = await landing(http)
                base = {"csrf": csrf, "consent": "yes"}
                made = await http.post("/make", data=base, files=files(sample_files, gif=True))
                assert made.status_code == 303
                job_id = made.headers["location"].removeprefix("/j/")
                async with app.state.resources.db.sessions() as s:
                    job = await s.get(SwapJob, job_id)
                    assert job is not None and job.frames == 24  # the upload, not a template

                no_consent = await http.post(
                    "/make", data={"csrf": csrf}, files=files(sample_files, gif=True)
                )
                assert no_consent.status_code == 400
                assert "Please tick the box to confirm you have the right to use this face." in (
                    text_of(no_consent.text)
                )
                not_a_gif = {"gif": ("x.gif", b"hello, not a gif", "image/gif")}
                bad = await http.post(
                    "/make", data=base, files={**files(sample_files), **not_a_gif}
                )
                assert bad.status_code == 400
                alert = text_of(bad.text.split('role="alert">')[1].split("</p>")[0])
                assert alert.endswith(".") and "Traceback" not in bad.text, alert
                no_face = await http.post(
                    "/make", data={**base, "template": "hopper-sway"}, files={}
                )
                assert no_face.status_code == 400
                assert "Add a photo of the face to use." in text_of(no_face.text)

        asyncio.run(scenario())
