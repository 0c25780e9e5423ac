"""Reading upload forms with a cap enforced while the body streams in: a request that announces
or sends more than the cap is refused as soon as it passes it (413), before the rest is read.
Each file is then held to the pipeline's per-file limit; the media checks themselves are the
pipeline's own (``jobs.submit`` probes every upload before anything is stored)."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.types import Message

from web.views import PageError

MAX_FORM_FILES = 2
MAX_FORM_FIELDS = 10


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def too_large(limit: int) -> PageError:
    return PageError(413, "Too big", f"That upload is too big: the limit is {_size(limit)} in all.")


async def read_capped_form(request: Request, max_bytes: int) -> FormData:
    """The request's form, refusing it (413) once more than ``max_bytes`` of body arrived."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large(max_bytes)
    received = 0
    receive = request.receive

    async def counting_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise too_large(max_bytes)
        return message

    capped = Request(request.scope, counting_receive)
    return await capped.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS)


async def file_bytes(form: FormData, field: str, max_bytes: int, what: str) -> bytes | None:
    """The uploaded file in ``field`` (None when no file was chosen); 413 over ``max_bytes``."""
    value = form.get(field)
    if not isinstance(value, UploadFile) or not value.filename:
        return None
    if value.size is not None and value.size > max_bytes:
        raise PageError(413, "Too big", f"The {what} is too big: the limit is {_size(max_bytes)}.")
    data = await value.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PageError(413, "Too big", f"The {what} is too big: the limit is {_size(max_bytes)}.")
    return data or None
