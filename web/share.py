"""``/c/{slug}``: the public page of a clip, with OpenGraph / Twitter tags so the link previews
(inline video in Discord and Telegram), GIF and MP4 downloads, and a way to report it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from core.db.web_models import Report, ShareLink
from web.pages import Limiter, PageViews, Resources
from web.security import check_csrf, client_ip, hashed, session_of
from web.shares import Shared, load_shared, signed_url
from web.uploads import read_capped_form
from web.views import NOT_FOUND_MESSAGE, NOT_FOUND_TITLE, PageError

SLUG_MAX = 16
REPORT_FORM_BYTES = 16 * 1024
REASONS = {
    "not-consented": "My face is used without my consent",
    "sexual": "Sexual or nude content",
    "minor": "It shows a minor",
    "hateful": "Hateful, harassing or violent",
    "other": "Something else",
}


def _missing() -> PageError:
    return PageError(404, NOT_FOUND_TITLE, NOT_FOUND_MESSAGE)


async def _shared(res: Resources, slug: str) -> Shared:
    shared = await load_shared(res.db, res.storage, slug) if len(slug) <= SLUG_MAX else None
    if shared is None:
        raise _missing()
    return shared


def share_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.api_route("/c/{slug}", methods=["GET", "HEAD"], response_class=HTMLResponse)
    async def share_page(request: Request, slug: str, res: Resources, views: PageViews) -> Response:
        shared = await _shared(res, slug)
        ttl = res.settings.storage.link_ttl_s
        base = res.settings.public_url.rstrip("/")
        context = {
            "clip": shared,
            "page_url": f"{base}/c/{shared.slug}",
            "mp4_url": signed_url(res.storage, shared.mp4_key, ttl),
            "gif_url": signed_url(res.storage, shared.gif_key, ttl),
            "thumb_url": signed_url(res.storage, shared.thumb_key, ttl),
        }
        response = views.page(request, "share.html", context)
        response.headers["cache-control"] = "public, max-age=60"
        response.headers["vary"] = "Cookie"  # the header bar differs when signed in
        return response

    @router.get("/c/{slug}/report", response_class=HTMLResponse)
    async def report_form(
        request: Request, slug: str, res: Resources, views: PageViews
    ) -> Response:
        shared = await _shared(res, slug)
        session_of(request)
        return views.page(request, "report.html", {"clip": shared, "reasons": REASONS})

    @router.post("/c/{slug}/report", response_class=HTMLResponse)
    async def report(
        request: Request, slug: str, res: Resources, views: PageViews, limiter: Limiter
    ) -> Response:
        await limiter.check(request, "report", session_of(request).user_id)
        form = await read_capped_form(request, REPORT_FORM_BYTES)
        check_csrf(request, form.get("csrf"))
        reason = str(form.get("reason") or "")
        if reason not in REASONS:
            raise PageError(400, "Pick a reason", "Please pick why you are reporting this clip.")
        async with res.db.sessions() as session, session.begin():
            link = await session.scalar(select(ShareLink).where(ShareLink.slug == slug))
            if link is None or link.removed_at is not None:
                raise _missing()
            details = str(form.get("details") or "")[:400]
            session.add(
                Report(
                    slug=slug,
                    reason=f"{reason}: {details}" if details else reason,
                    reporter=hashed(client_ip(request)),
                )
            )
        return views.page(request, "reported.html", {"slug": slug})

    return router
