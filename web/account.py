"""``/account``: my clips, my plan and what is left of it, the Pro upgrade link, and deleting
everything I uploaded or made. Signed-in users only (sign-in links come from the bots)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from billing.links import upgrade_url
from billing.quota import swaps_left
from core.db.models import JobState, SwapJob, User
from core.db.web_models import ShareLink
from jobs.accounts import delete_user_data
from web.pages import PageViews, Resources
from web.resources import WebResources
from web.security import check_csrf, signed_in_user
from web.shares import share_link_for
from web.uploads import read_capped_form
from web.views import PageError

ACCOUNT_FORM_BYTES = 4 * 1024
CLIPS_SHOWN = 50
CONFIRM_DELETE = "Tick the box to confirm you want everything deleted."


@dataclass(frozen=True)
class ClipRow:
    created_at: datetime
    state: str
    frames: int | None
    share_url: str | None
    failure: str | None


async def _clips(res: WebResources, user_id: str) -> list[ClipRow]:
    async with res.db.sessions() as session:
        rows = (
            await session.execute(
                select(SwapJob, ShareLink.slug, ShareLink.removed_at)
                .outerjoin(ShareLink, ShareLink.job_id == SwapJob.id)
                .where(SwapJob.user_id == user_id)
                .order_by(SwapJob.created_at.desc())
                .limit(CLIPS_SHOWN)
            )
        ).all()
    clips = []
    for job, slug, removed_at in rows:
        url = None
        if job.state is JobState.SUCCEEDED and removed_at is None:
            url = f"/c/{slug or (await share_link_for(res.db, job.id)).slug}"
        clips.append(ClipRow(job.created_at, job.state.value, job.frames, url, job.failure_message))
    return clips


def account_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/account", response_class=HTMLResponse)
    async def account(request: Request, res: Resources, views: PageViews) -> Response:
        user_id = signed_in_user(request)
        if user_id is None:
            return views.page(request, "signin.html", status=401)
        async with res.db.sessions() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise PageError(404, "No account", "This account no longer exists.")
            plan, left = await swaps_left(session, res.settings, user_id)
        context = {
            "user": user,
            "plan": plan,
            "left": left,
            "clips": await _clips(res, user_id),
            "upgrade_url": None if plan.name == "pro" else upgrade_url(res.settings, user_id),
            "deleted": request.query_params.get("deleted"),
        }
        return views.page(request, "account.html", context)

    @router.post("/account/delete")
    async def delete(request: Request, res: Resources) -> Response:
        user_id = signed_in_user(request)
        form = await read_capped_form(request, ACCOUNT_FORM_BYTES)
        check_csrf(request, form.get("csrf"))
        if user_id is None:
            raise PageError(401, "Sign in first", "Sign in to delete your data.")
        if form.get("confirm") != "yes":
            raise PageError(400, "Not deleted", CONFIRM_DELETE)
        deleted = await delete_user_data(res.db, res.storage, user_id)
        return RedirectResponse(f"/account?deleted={deleted.jobs}", status_code=303)

    return router
