"""The real flow in headless Chromium: upload a GIF (made from a public-domain photo) and a
real face, watch the progress that a real worker (classic engine) reports, land on the share
page, play the clip, check the OpenGraph tags, and see a non-admin refused the admin pages.
Each page is saved as a screenshot."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import av
import httpx
from playwright.sync_api import Page

from core.config import Settings
from core.db.models import Channel
from core.db.session import Database
from core.login_links import issue_login_link
from gpu_worker.media import save_clip
from gpu_worker.media.samples import sample_clip
from jobs.accounts import user_for
from tests.conftest import SampleFiles
from tests.jobs.service import service
from tests.web.browser import browser, real_media, screenshot
from tests.web.server import base_url, bind_free_socket, serve
from web.main import build_app

PROGRESS_TIMEOUT_MS = 240_000

RECORD_PROGRESS = """() => {
  window.seenProgress = [];
  const box = document.getElementById("job");
  const note = () => window.seenProgress.push(
    [box.dataset.state || "", document.getElementById("job-percent").textContent,
     document.getElementById("job-line").textContent]);
  note();
  new MutationObserver(note).observe(box, {subtree: true, childList: true, attributes: true});
}"""


def upload(page: Page, base: str, target: Path, face: Path, *, shots: bool = True) -> None:
    page.goto(base + "/")
    assert page.title() == "Swapzy"
    assert page.locator(".tile").count() == 3
    page.set_input_files("#gif-input", str(target))
    page.set_input_files("#face-input", str(face))
    page.wait_for_function("() => !document.getElementById('face-preview').hidden")
    if shots:
        screenshot(page, "1-landing")
    assert page.locator("input[name=template]:checked").count() == 0  # the upload wins
    page.check("#consent")
    page.click("#go")
    page.wait_for_url(f"{base}/j/*")


def watch_progress(page: Page) -> list[list[str]]:
    page.evaluate(RECORD_PROGRESS)
    page.wait_for_function(  # mid-clip, for the screenshot (or already done on a fast machine)
        "() => { const s = document.getElementById('job').dataset.state;"
        " return s === 'succeeded' || (s === 'running'"
        " && +document.getElementById('job-percent').textContent > 0); }",
        timeout=PROGRESS_TIMEOUT_MS,
    )
    screenshot(page, "2-job-progress")
    page.wait_for_selector("#job-result:not([hidden])", timeout=PROGRESS_TIMEOUT_MS)
    page.wait_for_function("() => document.getElementById('job-video').readyState >= 2")
    screenshot(page, "3-job-done")
    seen: list[list[str]] = page.evaluate("() => window.seenProgress")
    return seen


def check_share_page(page: Page, base: str) -> None:
    """From the job page to the share page: the clip plays, the OpenGraph tags point at it."""
    page.click("#share-link")
    page.wait_for_url(f"{base}/c/*")
    # The clip plays: the video advances by itself (autoplay, muted, looped).
    page.wait_for_function(
        "() => { const v = document.getElementById('clip');"
        " return v.readyState >= 2 && v.currentTime > 0.3 && !v.paused; }",
        timeout=30_000,
    )
    size = page.evaluate(
        "() => { const v = document.getElementById('clip'); return [v.videoWidth, v.videoHeight]; }"
    )
    screenshot(page, "4-share")
    og = {
        name: page.locator(f'meta[property="{name}"]').get_attribute("content")
        for name in (
            "og:video",
            "og:video:type",
            "og:video:width",
            "og:video:height",
            "og:image",
            "og:url",
        )
    }
    assert og["og:url"] == page.url
    assert og["og:video:type"] == "video/mp4"
    assert [int(og["og:video:width"] or 0), int(og["og:video:height"] or 0)] == size
    mp4 = httpx.get(str(og["og:video"]), timeout=10)
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(mp4.content), mode="r") as container:
        assert container.streams.video[0].codec_context.name == "h264"
    thumb = httpx.get(str(og["og:image"]), timeout=10)
    assert thumb.headers["content-type"] == "image/jpeg"


def long_clip(folder: Path) -> Path:
    """A clip whose swap outlasts a few progress reports: the free plan's longest and widest,
    100 frames at 480×360 (~0.55 s of swapping here; the worker reports every 0.25 s, and the
    24-frame sample, or the 30-frame real clip, can be done before the first report)."""
    path = folder / "long.gif"
    save_clip(sample_clip(100, (480, 360)), path)
    return path


def test_make_a_clip_in_the_browser_and_share_it(
    tmp_path: Path, redis_url: str, sqlite_url: str, sample_files: SampleFiles
) -> None:
    _, face = real_media(sample_files.target, sample_files.source)
    target = long_clip(tmp_path)
    sock = bind_free_socket()
    with (
        service(
            tmp_path, redis_url, sqlite_url, public_url=base_url(sock), engine="classic"
        ) as svc,
        serve(build_app(svc.settings), sock) as base,
        browser() as chromium,
    ):
        svc.start_worker()
        page = chromium.new_page(viewport={"width": 1000, "height": 800})
        upload(page, base, target, face)
        seen = watch_progress(page)
        assert page.locator("#job-title").text_content() == "Your clip is ready"
        assert page.locator("#job-percent").text_content() == "100"
        running = [s for s in seen if s[0] == "running"]
        assert running and all(line.startswith("Swapping faces: ") for _, _, line in running)
        percents = [int(p) for _, p, _ in seen]
        assert percents == sorted(percents), percents  # progress only moves forward
        assert any(0 < p < 100 for p in percents), seen

        check_share_page(page, base)

        page.click("#make-own")
        page.wait_for_url(f"{base}/")

        missing = page.goto(f"{base}/c/not-a-clip")
        assert missing is not None and missing.status == 404
        assert "never existed or was removed" in page.locator("main").inner_text()
        screenshot(page, "5-not-found")

        admin = page.goto(f"{base}/admin")
        assert admin is not None and admin.status == 403
        screenshot(page, "6-admin-refused")

        # On a phone the face input offers the front camera.
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{base}/")
        assert page.get_attribute("#face-input", "capture") == "user"
        assert (
            page.evaluate("() => document.documentElement.scrollWidth") <= 390
        )  # no sideways scroll
        screenshot(page, "0-landing-phone")


def signed_in_link(settings: Settings, identity: str) -> str:
    """A sign-in link as the bot's /web command makes it (for a Telegram identity)."""

    async def make() -> str:
        db = Database.connect(settings.sqlalchemy_url)
        try:
            user = await user_for(db, Channel.TELEGRAM, identity.split(":")[1])
            return await issue_login_link(settings, db, user)
        finally:
            await db.close()

    return asyncio.run(make())


def test_an_admin_signs_in_and_reviews_in_the_browser(
    tmp_path: Path, redis_url: str, sqlite_url: str, sample_files: SampleFiles
) -> None:
    target, face = real_media(sample_files.target, sample_files.source)
    sock = bind_free_socket()
    with service(tmp_path, redis_url, sqlite_url, public_url=base_url(sock)) as svc:
        settings = svc.settings.model_copy(update={"admins": ("telegram:42",)})
        link = signed_in_link(settings, "telegram:42")  # before Playwright's loop runs here
        with serve(build_app(settings), sock) as base, browser() as chromium:
            svc.start_worker()
            page = chromium.new_page(viewport={"width": 1000, "height": 800})
            page.goto(link)
            screenshot(page, "7-sign-in")
            page.click("#sign-in")
            page.wait_for_url(f"{base}/account")
            assert "Plan: Free" in page.locator("#plan").inner_text()
            upload(page, base, target, face, shots=False)
            page.wait_for_selector("#job-result:not([hidden])", timeout=PROGRESS_TIMEOUT_MS)
            page.click("#share-link")
            page.wait_for_url(f"{base}/c/*")
            page.click("#report")
            page.check("input[value=not-consented]")
            screenshot(page, "8-report")
            page.click("button[type=submit]")
            assert "Thanks for telling us" in page.locator("main").inner_text()
            page.goto(f"{base}/account")
            assert page.locator("#clips a").count() == 1
            screenshot(page, "9-account")
            for name, path in (
                ("10-admin-jobs", "/admin"),
                ("11-admin-users", "/admin/users"),
                ("12-admin-reports", "/admin/reports"),
                ("13-admin-entitlements", "/admin/entitlements"),
            ):
                response = page.goto(base + path)
                assert response is not None and response.status == 200, path
                screenshot(page, name)
            page.goto(f"{base}/admin/reports")
            page.click("button[value=remove]")
            page.wait_for_url(f"{base}/admin/reports")
            assert "(removed)" in page.locator("#reports").inner_text()
