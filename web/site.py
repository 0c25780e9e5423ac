"""The web companion's pages, as routers for ``build_app``."""

from __future__ import annotations

from fastapi import APIRouter

from web.account import account_router
from web.admin import admin_router
from web.login import login_router
from web.pages import pages_router
from web.progress import progress_router
from web.share import share_router


def site_routers() -> list[APIRouter]:
    return [
        pages_router(),
        progress_router(),
        share_router(),
        login_router(),
        account_router(),
        admin_router(),
    ]
