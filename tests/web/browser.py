"""Headless Chromium for browser tests: Debian's ``chromium`` (installed by
``.ci/ensure-chromium``) driven by Playwright through ``executable_path``; never a downloaded
browser. Screenshots go to ``out/web-screenshots/`` so a person can look at them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import SHARED_MEDIA

REPO = Path(__file__).parents[2]
SCREENSHOTS = REPO / "out" / "web-screenshots"
# Real media when ../shared is there: a talking man (30 frames) and a photo of another man.
SHARED_TARGET = SHARED_MEDIA / "animations" / "pyfeat_man_talking.gif"
SHARED_FACE = SHARED_MEDIA / "photos" / "cf_man_c_glasses.jpg"


def chromium_path() -> str:
    found = os.environ.get("SWAPZY_TEST_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None
    )
    if not found:
        raise AssertionError("no chromium on PATH: run .ci/ensure-chromium (make test does)")
    return found


def real_media(fallback_target: Path, fallback_face: Path) -> tuple[Path, Path]:
    """../shared/media's GIF and face when present, the built-in samples otherwise."""
    if SHARED_TARGET.is_file() and SHARED_FACE.is_file():
        return SHARED_TARGET, SHARED_FACE
    return fallback_target, fallback_face


@contextmanager
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            # Root in a container has no user namespaces for the sandbox.
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path
