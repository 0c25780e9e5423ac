"""Admin pages: recent jobs with their figures and failures, users, reports to review (remove a
clip), and plan / credit grants. Admins are platform identities in ``settings.admins``
("telegram:123"); they sign in like everyone else. Anyone else gets 403."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from redis.exceptions import RedisError
from sqlalchemy import func, select
from starlette.datastructures import FormData

from billing.entitlements import grant, list_grants, revoke
from billing.notices import unsent
from core import audit
from core.audit import AuditKind
from core.db.models import ChannelIdentity, SwapJob, User, utcnow
from core.db.web_models import Report, ShareLink
from core.errors import InputError
from jobs.delivery import enqueue_notices
from web.pages import PageViews, Resources
from web.resources import WebResources, get_resources
from web.security import check_csrf, signed_in_user
from web.shares import remove_clip
from web.uploads import read_capped_form
from web.views import PageError

ADMIN_FORM_BYTES = 8 * 1024
ROWS = 100
FORBIDDEN = "This page is for Swapzy admins only."


async def admin_identity(res: WebResources, user_id: str | None) -> str | None:
    """The user's identity listed in ``settings.admins`` ("telegram:123"), if any."""
    if user_id is None or not res.settings.admins:
        return None
    async with res.db.sessions() as session:
        idents = await session.execute(
            select(ChannelIdentity.channel, ChannelIdentity.external_id).where(
                ChannelIdentity.user_id == user_id
            )
        )
        for channel, external_id in idents:
            name = f"{channel.value}:{external_id}"
            if name in res.settings.admins:
                return name
    return None


async def require_admin(
    request: Request, res: Annotated[WebResources, Depends(get_resources)]
) -> str:
    who = await admin_identity(res, signed_in_user(request))
    if who is None:
        raise PageError(403, "Admins only", FORBIDDEN)
    return who


Admin = Annotated[str, Depends(require_admin)]


async def _form(request: Request) -> FormData:
    form = await read_capped_form(request, ADMIN_FORM_BYTES)
    check_csrf(request, form.get("csrf"))
    return form


def admin_router() -> APIRouter:
    router = APIRouter(prefix="/admin", include_in_schema=False)
    _overview_routes(router)
    _report_routes(router)
    _entitlement_routes(router)
    return router


def _overview_routes(router: APIRouter) -> None:
    @router.get("", response_class=HTMLResponse)
    async def jobs(request: Request, res: Resources, views: PageViews, who: Admin) -> Response:
        async with res.db.sessions() as session:
            rows = list(
                await session.scalars(
                    select(SwapJob).order_by(SwapJob.created_at.desc()).limit(ROWS)
                )
            )
            counts = dict(
                (state.value, n)
                for state, n in await session.execute(
                    select(SwapJob.state, func.count()).group_by(SwapJob.state)
                )
            )
        context = {"jobs": rows, "counts": counts, "who": who, "tab": "jobs"}
        return views.page(request, "admin_jobs.html", context)

    @router.get("/users", response_class=HTMLResponse)
    async def users(request: Request, res: Resources, views: PageViews, who: Admin) -> Response:
        jobs = select(func.count()).where(SwapJob.user_id == User.id).scalar_subquery()
        async with res.db.sessions() as session:
            rows = (
                await session.execute(
                    select(User, jobs).order_by(User.created_at.desc()).limit(ROWS)
                )
            ).all()
            idents = await session.execute(
                select(
                    ChannelIdentity.user_id, ChannelIdentity.channel, ChannelIdentity.external_id
                )
            )
            names: dict[str, list[str]] = {}
            for user_id, channel, external_id in idents:
                names.setdefault(user_id, []).append(f"{channel.value}:{external_id}")
        context = {"users": rows, "names": names, "who": who, "tab": "users"}
        return views.page(request, "admin_users.html", context)


def _report_routes(router: APIRouter) -> None:
    @router.get("/reports", response_class=HTMLResponse)
    async def reports(request: Request, res: Resources, views: PageViews, who: Admin) -> Response:
        async with res.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Report, ShareLink)
                    .join(ShareLink, ShareLink.slug == Report.slug)
                    .order_by(Report.resolved_at.is_not(None), Report.created_at.desc())
                    .limit(ROWS)
                )
            ).all()
        context = {"reports": rows, "who": who, "tab": "reports"}
        return views.page(request, "admin_reports.html", context)

    @router.post("/reports/{report_id}")
    async def review(request: Request, report_id: int, res: Resources, who: Admin) -> Response:
        form = await _form(request)
        action = form.get("action")
        if action not in ("remove", "keep"):
            raise PageError(400, "Pick an action", "Choose to remove the clip or keep it.")
        async with res.db.sessions() as session:
            report = await session.get(Report, report_id)
        if report is None:
            raise PageError(404, "No such report", "That report does not exist.")
        if action == "remove":
            await remove_clip(res.db, res.storage, report.slug)
        async with res.db.sessions() as session, session.begin():
            for row in await session.scalars(
                select(Report).where(Report.slug == report.slug, Report.resolved_at.is_(None))
            ):
                row.resolved_at = utcnow()
                row.resolution = "removed" if action == "remove" else "kept"
            body = {"admin": who, "action": f"report.{action}", "report": report_id}
            await audit.record(session, AuditKind.ADMIN_ACTION, {**body, "slug": report.slug})
        return RedirectResponse("/admin/reports", status_code=303)


def _entitlement_routes(router: APIRouter) -> None:
    @router.get("/entitlements", response_class=HTMLResponse)
    async def entitlements(
        request: Request, res: Resources, views: PageViews, who: Admin
    ) -> Response:
        grants = await list_grants(res.db, admins=res.settings.admins, by=who)
        context = {"grants": grants, "who": who, "tab": "entitlements", "now": utcnow()}
        return views.page(request, "admin_entitlements.html", context)

    @router.post("/entitlements")
    async def change(request: Request, res: Resources, views: PageViews, who: Admin) -> Response:
        form = await _form(request)
        try:
            await _apply(res, who, form)
        except InputError as exc:
            raise PageError(400, "Not changed", exc.message) from None
        return RedirectResponse("/admin/entitlements", status_code=303)


def _number(form: FormData, name: str, what: str) -> int:
    text = str(form.get(name) or "").strip()
    if not text.isdigit():
        raise InputError(f"Give {what} as a whole number.")
    return int(text)


async def _apply(res: WebResources, who: str, form: FormData) -> None:
    admins, reason = res.settings.admins, str(form.get("reason") or "")
    if form.get("action") == "revoke":
        grant_id = _number(form, "grant_id", "the grant number")
        await revoke(res.db, admins=admins, by=who, grant_id=grant_id, reason=reason)
        return
    what = str(form.get("what") or "")
    if what not in ("pro", "credits"):
        raise InputError("You can grant 'pro' or 'credits'.")
    days = _number(form, "days", "the number of days")
    amount = _number(form, "amount", "the number of credits") if what == "credits" else 0
    user_id = str(form.get("user_id") or "").strip()
    await grant(
        res.db,
        admins=admins,
        by=who,
        user_id=user_id,
        what="pro" if what == "pro" else "credits",
        reason=reason,
        expires_at=utcnow() + timedelta(days=days),
        amount=amount,
    )
    # "You're Pro now" goes to the user's chat at once (the sweeper retries if Redis is down).
    async with res.db.sessions() as session:
        notices = await unsent(session, user_id)
    with contextlib.suppress(RedisError, OSError):
        await enqueue_notices(res.db, res.queue, notices)
