"""How the fake Telegram reads requests and checks what it is sent (see ``fake_telegram.py``).

PTB sends plain calls as url-encoded form fields (every value JSON-encoded, strings raw) and uploads
as multipart/form-data; JSON bodies and query strings work too, as on Telegram. Inline keyboards and
HTML texts are checked the way Telegram checks them, with its error texts.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse

from tests.bots.telegram_objects import JSON, ApiError, Call

# Form values PTB sends raw even when they look like JSON (all others are JSON-decoded).
STRING_PARAMS = frozenset((
    "text", "caption", "parse_mode", "callback_query_id", "file_id", "url", "secret_token",
    "action", "inline_message_id", "animation", "video", "document", "photo", "thumbnail",
    "cover", "business_connection_id", "ip_address",
))  # fmt: skip
HTML_TAGS = frozenset((
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "code", "pre", "blockquote", "tg-emoji",
))  # fmt: skip
BUTTON_ACTIONS = frozenset((
    "callback_data", "url", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
))  # fmt: skip


def error_response(
    error_code: int, description: str, parameters: JSON | None = None
) -> JSONResponse:
    body: JSON = {"ok": False, "error_code": error_code, "description": description}
    body |= {"parameters": parameters} if parameters else {}
    return JSONResponse(body, status_code=error_code)


async def read_params(request: Request, call: Call) -> None:
    """Query string, then a JSON, url-encoded or multipart body, into ``call``."""
    fields: dict[str, str] = dict(request.query_params)
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json") and body:
        try:
            decoded = json.loads(body)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON object") from None
        call.params.update(decoded if isinstance(decoded, dict) else {})
    elif content_type.startswith("application/x-www-form-urlencoded"):
        fields.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif content_type.startswith("multipart/form-data"):
        boundary = content_type.partition("boundary=")[2].split(";")[0].strip().strip('"')
        for part in (b"\r\n" + body).split(b"\r\n--" + boundary.encode())[1:]:
            if part.startswith(b"--"):
                break
            head, _, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
            headers = dict(
                (key.strip().lower(), value.strip())
                for key, _, value in (
                    line.partition(":") for line in head.decode("utf-8", "replace").split("\r\n")
                )
            )
            disposition = dict(
                re.findall(r'(\w+)="([^"]*)"', headers.get("content-disposition", ""))
            )
            if "name" not in disposition:
                continue
            if "filename" in disposition:
                name = disposition["name"]
                call.files[name] = content
                call.file_names[name] = disposition["filename"].replace("%22", '"')
                call.file_types[name] = headers.get("content-type", "application/octet-stream")
            else:
                fields[disposition["name"]] = content.decode("utf-8", "replace")
    for key, value in fields.items():
        if key in STRING_PARAMS:
            call.params[key] = value
        else:
            try:
                call.params[key] = json.loads(value)
            except ValueError:
                call.params[key] = value
    if isinstance(call.params.get("reply_markup"), str):
        try:
            call.params["reply_markup"] = json.loads(call.params["reply_markup"])
        except ValueError:
            raise ApiError(
                400, "Bad Request: can't parse reply keyboard markup JSON object"
            ) from None


def inline_markup(markup: Any) -> JSON | None:
    """The inline keyboard Telegram echoes in the Message (validated like Telegram)."""
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None  # reply keyboards and their removal are not part of the Message
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(
            400, "Bad Request: can't parse inline keyboard button: field is not an Array"
        )
    for button in (button for row in rows for button in row):
        if not isinstance(button, dict) or not button.get("text"):
            raise ApiError(400, "Bad Request: can't parse inline keyboard button: Text is empty")
        if not BUTTON_ACTIONS & set(button):
            raise ApiError(
                400,
                "Bad Request: can't parse inline keyboard button:"
                " Text buttons are unallowed in the inline keyboard",
            )
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= 64:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        url = button.get("url")
        if url is not None:
            parts = urlsplit(str(url))
            if parts.scheme not in ("http", "https", "tg") or parts.hostname in (None, "localhost"):
                raise ApiError(
                    400,
                    f"Bad Request: inline keyboard button URL '{url}' is invalid: Wrong HTTP URL",
                )
    return {"inline_keyboard": rows}


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            raise ApiError(
                400, f'Bad Request: can\'t parse entities: Unsupported start tag "{tag}"'
            )
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            raise ApiError(400, f'Bad Request: can\'t parse entities: Unexpected end tag "{tag}"')

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def render(value: Any, parse_mode: Any) -> str:
    """The text the user sees: HTML tags checked like Telegram and stripped; other modes raw."""
    text = "" if value is None else str(value)
    if str(parse_mode).lower() != "html":
        return text
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    if parser.open:
        raise ApiError(
            400,
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag"
            f' "{parser.open[-1]}"',
        )
    return "".join(parser.parts)
