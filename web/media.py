"""``GET``/``HEAD /m/{key}?exp=&sig=``: media from ``LocalStorage`` behind HMAC-signed links.

The file is streamed by Starlette's ``FileResponse``, which also answers ``Range`` requests
(206 + ``Content-Range``; 416 + ``Content-Range: bytes */size`` when unsatisfiable; several
ranges as ``multipart/byteranges``). A malformed ``Range`` is ignored (200, whole file), as
RFC 9110 asks, instead of Starlette's 400.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from starlette.responses import MalformedRangeHeader

from core.errors import InvalidKey
from core.links import LinkSigner, LinkState
from core.storage import LocalStorage

CONTENT_TYPES = {
    "gif": "image/gif",
    "mp4": "video/mp4",
    "webp": "image/webp",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
}
EXPIRED_TEXT = "This link has expired."
INVALID_TEXT = "This link is not valid."
GONE_TEXT = "This file is no longer available."


def content_type_for(key: str) -> str:
    """The media type of ``key`` from its extension (``application/octet-stream`` if unknown)."""
    name = key.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return CONTENT_TYPES.get(ext, "application/octet-stream")


class _MediaFileResponse(FileResponse):
    """``FileResponse`` that ignores a malformed ``Range`` header (200) rather than 400."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            return []  # Starlette then sends the whole file


def _plain(status_code: int, text: str) -> Response:
    return PlainTextResponse(text, status_code=status_code, headers={"Cache-Control": "no-store"})


def _etag_matches(if_none_match: str, etag: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def media_router(storage: LocalStorage, signer: LinkSigner) -> APIRouter:
    """The route that serves ``storage``'s objects to holders of a link made by ``signer``."""
    router = APIRouter()

    @router.api_route("/m/{key:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def serve_media(key: str, request: Request) -> Response:
        now = time.time()
        exp = request.query_params.get("exp")
        state = signer.check(key, exp, request.query_params.get("sig"), now)
        if state is LinkState.EXPIRED:
            return _plain(403, EXPIRED_TEXT)
        if state is not LinkState.VALID or exp is None:
            return _plain(403, INVALID_TEXT)
        try:
            path = storage.path(key)
            info = await asyncio.to_thread(os.stat, path)
        except (InvalidKey, OSError):
            return _plain(404, GONE_TEXT)
        if not stat.S_ISREG(info.st_mode):
            return _plain(404, GONE_TEXT)

        headers = {
            "Cache-Control": f"private, max-age={max(0, int(exp) - int(now))}",
            "X-Content-Type-Options": "nosniff",
        }
        response = _MediaFileResponse(
            path, stat_result=info, media_type=content_type_for(key), headers=headers
        )
        if_none_match = request.headers.get("if-none-match")
        if if_none_match and _etag_matches(if_none_match, response.headers["etag"]):
            headers["ETag"] = response.headers["etag"]
            return Response(status_code=304, headers=headers)
        return response

    return router
