"""The landing page (pick or upload a GIF, add a face, consent, go), the job page with live
progress, and the JSON status it polls."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from billing.quota import PlanAdmission
from core.db.models import Channel, ChannelIdentity, JobState, SwapJob
from core.errors import InputError
from jobs.accounts import has_consented, record_consent, user_for
from jobs.contract import MediaInput, SwapRequest
from jobs.status import job_status
from jobs.submit import Submitter
from jobs.templates import TemplateGallery
from web.resources import WebResources, get_resources
from web.security import RateLimiter, check_csrf, session_of
from web.session import WebSession
from web.shares import load_shared, share_link_for, signed_url
from web.uploads import file_bytes, read_capped_form
from web.views import PageError, Views, get_views

Resources = Annotated[WebResources, Depends(get_resources)]
PageViews = Annotated[Views, Depends(get_views)]

CONSENT_MISSING = "Please tick the box to confirm you have the right to use this face."
NO_GIF = "Pick a GIF from the gallery or upload one."
NO_FACE = "Add a photo of the face to use."


async def session_user(res: WebResources, session: WebSession) -> str | None:
    """The user behind this browser on the web channel (None before its first upload)."""
    if session.user_id:
        return session.user_id
    async with res.db.sessions() as s:
        return await s.scalar(
            select(ChannelIdentity.user_id).where(
                ChannelIdentity.channel == Channel.WEB,
                ChannelIdentity.external_id == session.external_id,
            )
        )


async def owned_job(res: WebResources, request: Request, job_id: str) -> SwapJob:
    """The job, if this browser's user made it (else a 404: job ids are not shown to others)."""
    user = await session_user(res, session_of(request))
    async with res.db.sessions() as s:
        job = await s.get(SwapJob, job_id) if len(job_id) <= 32 else None
    if job is None or user is None or job.user_id != user:
        raise PageError(404, "Nothing here", "This job does not exist, or it is not yours.")
    return job


def _gallery(res: WebResources) -> list[dict[str, Any]]:
    gallery = TemplateGallery(res.settings, res.storage)
    return [
        {"name": t.name, "title": t.title, "url": gallery.url(t.name), "frames": t.frames}
        for t in gallery.list()
    ]


def pages_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def landing(request: Request, res: Resources, views: PageViews) -> Response:
        templates = await asyncio.to_thread(_gallery, res)
        return views.page(request, "index.html", {"templates": templates})

    @router.post("/make")
    async def make(
        request: Request, res: Resources, views: PageViews, limiter: Limiter
    ) -> Response:
        session = session_of(request)
        await limiter.check(request, "make", session.user_id)
        form = await read_capped_form(request, res.settings.web_max_request_bytes)
        check_csrf(request, form.get("csrf"))
        try:
            job_id = await _submit(res, session, form)
        except InputError as exc:
            templates = await asyncio.to_thread(_gallery, res)
            context = {"templates": templates, "error": exc.message}
            return views.page(request, "index.html", context, status=400)
        return RedirectResponse(f"/j/{job_id}", status_code=303)

    @router.get("/j/{job_id}", response_class=HTMLResponse)
    async def job_page(request: Request, job_id: str, res: Resources, views: PageViews) -> Response:
        job = await owned_job(res, request, job_id)
        return views.page(request, "job.html", {"job": job})

    @router.get("/api/jobs/{job_id}")
    async def job_api(request: Request, job_id: str, res: Resources) -> JSONResponse:
        job = await owned_job(res, request, job_id)
        return JSONResponse(await status_json(res, job), headers={"Cache-Control": "no-store"})

    return router


def get_limiter(res: Resources) -> RateLimiter:
    return RateLimiter(res.queue, res.settings)


Limiter = Annotated[RateLimiter, Depends(get_limiter)]


async def _submit(res: WebResources, session: WebSession, form: FormData) -> str:
    limits = res.settings.limits
    if form.get("consent") != "yes":
        raise InputError(CONSENT_MISSING)
    target = await file_bytes(form, "gif", limits.max_file_bytes, "GIF")
    template = str(form.get("template") or "")
    if target is None and template:
        gallery = TemplateGallery(res.settings, res.storage)
        target = await asyncio.to_thread(gallery.data, template)
    if target is None:
        raise InputError(NO_GIF)
    face = await file_bytes(form, "face", limits.max_file_bytes, "face photo")
    if face is None:
        raise InputError(NO_FACE)
    user_id = await user_for(res.db, Channel.WEB, session.external_id)
    if not await has_consented(res.db, user_id):
        await record_consent(res.db, user_id, Channel.WEB)
    request = SwapRequest(
        channel=Channel.WEB,
        external_user_id=session.external_id,
        target=MediaInput(target, template or "upload.gif"),
        source=MediaInput(face, "face"),
    )
    # The plan decides the lane, limits and quota (billing's admission, as the bots use).
    admission = PlanAdmission(res.settings)
    submitter = Submitter(res.settings, res.db, res.storage, res.queue, admission)
    return (await submitter.submit(request)).job_id


async def status_json(res: WebResources, job: SwapJob) -> dict[str, Any]:
    status = await job_status(res.db, res.queue, job.id)
    assert status is not None
    total = status.frames_total
    percent = 100 if status.state is JobState.SUCCEEDED else 0
    if status.state is JobState.RUNNING and total:
        percent = min(99, round(100 * status.frames_done / total))
    body: dict[str, Any] = {
        "state": status.state.value,
        "queue_position": status.queue_position,
        "frames_done": status.frames_done,
        "frames_total": total,
        "percent": percent,
        "message": status.failure_message,
    }
    if status.state is JobState.SUCCEEDED:
        link = await share_link_for(res.db, job.id)
        shared = await load_shared(res.db, res.storage, link.slug)  # renditions made once
        if shared is not None:
            ttl = res.settings.storage.link_ttl_s
            body["share_url"] = f"/c/{link.slug}"
            body["clip_url"] = signed_url(res.storage, shared.mp4_key, ttl)
            body["poster_url"] = signed_url(res.storage, shared.thumb_key, ttl)
    return body
