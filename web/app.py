"""The web app, built in code by ``create_app`` (no import-time singleton).

Run it with ``uvicorn.Server(uvicorn.Config(create_app(...)))`` or ``uvicorn --factory``.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import Lifespan

from core.config import Settings
from core.storage import LocalStorage, Storage
from web.media import media_router
from web.security import SecurityMiddleware
from web.views import STATIC_DIR, Views, install_error_pages


def create_app(
    settings: Settings,
    *,
    storage: Storage,
    extra_routers: Sequence[APIRouter] = (),
    lifespan: Lifespan[FastAPI] | None = None,
) -> FastAPI:
    """Swapzy's web app. ``/m/{key}`` (signed media) is mounted when media is stored locally;
    with S3 the links point at S3 or CloudFront instead. ``extra_routers`` are included as given;
    ``lifespan`` (optional) builds and closes per-process resources.
    """
    docs = settings.env != "production"
    app = FastAPI(
        title="Swapzy",
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.storage = storage
    # Pages: security headers, session cookie and error pages everywhere; /static for CSS/JS.
    app.add_middleware(SecurityMiddleware, settings=settings)
    app.state.views = Views()
    install_error_pages(app, app.state.views)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if isinstance(storage, LocalStorage):
        app.include_router(media_router(storage, storage.links))
    for router in extra_routers:
        app.include_router(router)
    return app
