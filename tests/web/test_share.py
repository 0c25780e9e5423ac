"""The share page: the clip, downloads, OpenGraph / Twitter tags pointing at signed links that
serve real media, a friendly 404, and reports."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import av
from PIL import Image
from sqlalchemy import select

from core.db.web_models import Report, ShareLink
from tests.conftest import SampleFiles
from tests.web.pages_client import BASE, make_clip, open_app, parse, path_of, site_service, text_of
from web.views import NOT_FOUND_MESSAGE


def test_the_share_page_previews_in_chats_and_serves_the_clip(
    tmp_path: Path, redis_url: str, database_url: str, sample_files: SampleFiles
) -> None:
    with site_service(tmp_path, redis_url, database_url) as svc:

        async def scenario() -> None:
            async with open_app(svc.settings) as (_, http):
                _, share = await make_clip(svc, http, sample_files.target, sample_files.source)
                page = await http.get(share)
                assert page.status_code == 200
                assert page.headers["content-type"].startswith("text/html")
                # Link previewers may ask with HEAD first.
                head = await http.head(share)
                assert head.status_code == 200 and head.content == b""
                assert head.headers["content-type"] == page.headers["content-type"]
                meta = parse(page.text).meta
                assert meta["og:url"] == f"{BASE}{share}"
                assert meta["og:type"] == "video.other"
                assert meta["og:video:type"] == "video/mp4"
                assert (meta["og:video:width"], meta["og:video:height"]) == ("320", "240")
                assert meta["twitter:card"] == "player"
                assert meta["twitter:player:stream"] == meta["og:video"]
                # og:video is the MP4 itself, behind a signed link.
                mp4 = await http.get(path_of(meta["og:video"]))
                assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
                with av.open(io.BytesIO(mp4.content), mode="r") as container:
                    stream = container.streams.video[0]
                    assert stream.codec_context.name == "h264"
                    assert (stream.width, stream.height) == (320, 240)
                    assert stream.codec_context.pix_fmt == "yuv420p"
                    assert len(list(container.decode(stream))) == 24
                thumb = await http.get(path_of(meta["og:image"]))
                assert thumb.headers["content-type"] == "image/jpeg"
                assert Image.open(io.BytesIO(thumb.content)).size == (320, 240)
                ids = parse(page.text).ids
                gif = await http.get(path_of(ids["download-gif"]["href"]))
                assert gif.headers["content-type"] == "image/gif"
                assert getattr(Image.open(io.BytesIO(gif.content)), "n_frames", 1) == 24
                assert ids["download-mp4"]["href"] == meta["og:video"]
                assert ids["make-own"]["href"] == "/"
                assert ids["clip"]["src"] == meta["og:video"]
                # Tampered links are refused.
                forged = meta["og:video"].replace("share.mp4", "source.jpg")
                assert (await http.get(path_of(forged))).status_code == 403
                # A second view serves the same renditions (made once).
                again = parse((await http.get(share)).text).meta
                assert again["og:video"] == meta["og:video"]

        asyncio.run(scenario())


def test_an_unknown_slug_is_a_friendly_404(tmp_path: Path, redis_url: str, sqlite_url: str) -> None:
    with site_service(tmp_path, redis_url, sqlite_url) as svc:

        async def scenario() -> None:
            async with open_app(svc.settings) as (_, http):
                for path in ("/c/nosuchslug", "/c/" + "x" * 300, "/no/such/page"):
                    page = await http.get(path)
                    assert page.status_code == 404
                    assert page.headers["content-type"].startswith("text/html")
                    assert NOT_FOUND_MESSAGE in text_of(page.text)
                    assert parse(page.text).ids["make-own"]["href"] == "/"

        asyncio.run(scenario())


def test_a_report_is_recorded_for_review(
    tmp_path: Path, redis_url: str, sqlite_url: str, sample_files: SampleFiles
) -> None:
    with site_service(tmp_path, redis_url, sqlite_url) as svc:

        async def scenario() -> None:
            async with open_app(svc.settings) as (app, http):
                _, share = await make_clip(svc, http, sample_files.target, sample_files.source)
                form_page = await http.get(f"{share}/report")
                assert form_page.status_code == 200
                csrf = parse(form_page.text).inputs["csrf"]
                sent = await http.post(
                    f"{share}/report",
                    data={"csrf": csrf, "reason": "not-consented", "details": "that is me"},
                )
                assert sent.status_code == 200
                assert "Thanks for telling us" in text_of(sent.text)
                no_reason = await http.post(f"{share}/report", data={"csrf": csrf})
                assert no_reason.status_code == 400
                assert "Please pick why you are reporting this clip." in text_of(no_reason.text)
                async with app.state.resources.db.sessions() as s:
                    reports = list(await s.scalars(select(Report)))
                    link = await s.get(ShareLink, share.removeprefix("/c/"))
                assert [(r.slug, r.reason) for r in reports] == [
                    (share.removeprefix("/c/"), "not-consented: that is me")
                ]
                assert link is not None and link.removed_at is None

        asyncio.run(scenario())
