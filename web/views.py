"""Server-rendered pages: one Jinja2 environment per app (autoescaped), the ``PageError`` a route
raises to answer with a friendly page, and the handlers that render errors as pages."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

NOT_FOUND_TITLE = "Nothing here"
NOT_FOUND_MESSAGE = (
    "There is nothing here: this clip never existed or was removed. Why not make your own?"
)


class PageError(Exception):
    """Answer with ``status`` and a page that says ``message`` (one human sentence)."""

    def __init__(
        self,
        status: int,
        title: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.headers = dict(headers or {})


class Views:
    """Renders templates with what every page needs (the CSRF token, the signed-in user)."""

    def __init__(self) -> None:
        self.templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

    def page(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        from web.security import csrf_token, signed_in_user

        full = {
            "csrf": lambda: csrf_token(request),
            "signed_in": signed_in_user(request) is not None,
            **(context or {}),
        }
        response = self.templates.TemplateResponse(
            request, name, full, status_code=status, headers=dict(headers or {})
        )
        response.headers.setdefault("cache-control", "no-store")
        return response

    def error(self, request: Request, err: PageError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": err.message}, status_code=err.status, headers=err.headers)
        context = {"title": err.title, "message": err.message}
        return self.page(request, "error.html", context, err.status, err.headers)


def get_views(request: Request) -> Views:
    views = request.app.state.views
    assert isinstance(views, Views)
    return views


def install_error_pages(app: FastAPI, views: Views) -> None:
    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return views.error(request, exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            err = PageError(404, NOT_FOUND_TITLE, NOT_FOUND_MESSAGE)
        else:
            err = PageError(exc.status_code, "Something is off", str(exc.detail))
        return views.error(request, err)

    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
