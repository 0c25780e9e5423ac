"""Signing in without a password: a bot's ``/web`` command sends a one-time link
(``core.login_links``); opening it shows a "Sign in" button (chat apps fetch links to preview
them, so a plain GET never uses the token up); pressing it starts a signed-in session."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError

from core.db.models import Channel, ChannelIdentity
from core.login_links import redeem_login_token
from web.pages import Limiter, PageViews, Resources
from web.resources import WebResources
from web.security import check_csrf, session_of, start_session
from web.session import WebSession
from web.uploads import read_capped_form
from web.views import PageError

LOGIN_FORM_BYTES = 4 * 1024
LINK_USED = (
    "This sign-in link has expired or was already used. Send /web to the Swapzy bot for a new one."
)


async def link_web_identity(res: WebResources, user_id: str) -> None:
    """So clips made on the web while signed in belong to this user."""
    external_id = WebSession("", user_id).external_id
    try:
        async with res.db.sessions() as session, session.begin():
            session.add(
                ChannelIdentity(user_id=user_id, channel=Channel.WEB, external_id=external_id)
            )
    except IntegrityError:
        pass  # linked at an earlier sign-in


def login_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/login/{token}", response_class=HTMLResponse)
    async def login_page(request: Request, token: str, views: PageViews) -> Response:
        session_of(request)
        response = views.page(request, "login.html", {"token": token})
        response.headers["referrer-policy"] = "no-referrer"  # the token is in the URL
        return response

    @router.post("/login")
    async def login(request: Request, res: Resources, limiter: Limiter) -> Response:
        await limiter.check(request, "login", None)
        form = await read_capped_form(request, LOGIN_FORM_BYTES)
        check_csrf(request, form.get("csrf"))
        user_id = await redeem_login_token(res.db, str(form.get("token") or ""))
        if user_id is None:
            raise PageError(400, "Link expired", LINK_USED)
        await link_web_identity(res, user_id)
        start_session(request, user_id)
        return RedirectResponse("/account", status_code=303)

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        form = await read_capped_form(request, LOGIN_FORM_BYTES)
        check_csrf(request, form.get("csrf"))
        start_session(request, None)
        return RedirectResponse("/", status_code=303)

    return router
