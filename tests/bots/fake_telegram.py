"""A local Bot API server that answers like Telegram, for end-to-end tests of the real bot.

    with FakeTelegram() as fake:                       # or the ``fake_telegram`` fixture
        app = (ApplicationBuilder().token(fake.token)
               .base_url(fake.api_base_url).base_file_url(fake.file_base_url).build())
        fake.send_animation(alice, None, gif_bytes)    # play the user
        fake.wait_for_call("sendAnimation")            # what the bot did
        fake.messages_in(alice.id)                     # the chat as the user sees it

PTB joins ``{base_url}{token}/{method}`` and ``{base_file_url}{token}/{file_path}``, so the
routes are ``/bot<token>/<method>`` and ``/file/bot<token>/<file_path>``. PTB sends plain calls as
form fields (every value JSON-encoded, strings raw) and uploads as multipart/form-data; JSON
bodies work too. Errors carry Telegram's texts, so PTB raises what it raises in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.bots.telegram_methods import BotApi
from tests.bots.telegram_objects import JSON, ApiError, Call
from tests.bots.telegram_wire import error_response, read_params
from tests.web.server import ServerThread

if TYPE_CHECKING:
    import telegram

TOKEN = "123456:TEST-token-abc"


class FakeTelegram(BotApi):
    """The fake Bot API on 127.0.0.1 (uvicorn in a thread with its own event loop)."""

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.max_poll_timeout_s = 3.0  # getUpdates' long-poll timeout is capped at this
        self.polls_waiting = 0  # getUpdates calls waiting for an update now
        self.downloads: list[str] = []  # file paths fetched from the file endpoint
        self._failures: dict[str, list[ApiError]] = {}
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poll_event = asyncio.Event()
        self._server: ServerThread | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        @contextlib.asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            self._loop = asyncio.get_running_loop()
            yield

        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._api, methods=["GET", "POST"]),
                Route("/file/bot{token}/{file_path:path}", self._download, methods=["GET"]),
                Route("/{path:path}", self._misrouted, methods=["GET", "POST"]),
            ],
            lifespan=lifespan,
        )
        self._server = ServerThread(app)
        self.url = self._server.start()
        return self

    def stop(self) -> None:
        self._closing = True
        self._updates_queued()  # long polls return at once, so uvicorn can stop
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def api_base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def file_base_url(self) -> str:
        return f"{self.url}/file/bot"

    def make_bot(self) -> telegram.Bot:
        import telegram

        return telegram.Bot(
            self.token, base_url=self.api_base_url, base_file_url=self.file_base_url
        )

    def fail_next(
        self, method: str, error_code: int, description: str, retry_after: int | None = None
    ) -> None:
        """Answer the next call to ``method`` with this error (429 + retry_after: RetryAfter)."""
        parameters = None if retry_after is None else {"retry_after": retry_after}
        with self._lock:
            failures = self._failures.setdefault(method.lower(), [])
            failures.append(ApiError(error_code, description, parameters))

    # -- webhook mode ---------------------------------------------------------------------------

    def post_update_to(
        self, url: str, update: JSON, secret_token: str | None = None, timeout: float = 10.0
    ) -> httpx.Response:
        """POST ``update`` like Telegram does (secret: the argument, else setWebhook's)."""
        headers = self._webhook_headers(secret_token)
        return httpx.post(url, json=update, headers=headers, timeout=timeout)

    async def apost_update_to(
        self, url: str, update: JSON, secret_token: str | None = None, timeout: float = 10.0
    ) -> httpx.Response:
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await client.post(url, json=update, headers=self._webhook_headers(secret_token))

    def _webhook_headers(self, secret_token: str | None) -> dict[str, str]:
        if secret_token is None and self.webhook:
            secret_token = self.webhook.get("secret_token")
        return {"X-Telegram-Bot-Api-Secret-Token": secret_token} if secret_token else {}

    # -- HTTP --------------------------------------------------------------------------------

    def _updates_queued(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake_pollers)

    def _wake_pollers(self) -> None:
        event, self._poll_event = self._poll_event, asyncio.Event()
        event.set()

    async def _api(self, request: Request) -> Response:
        name = request.path_params["method"]
        handler = self._methods.get(name.lower())
        is_poll = name.lower() == "getupdates"
        call = Call(method=name, params={})
        parameters: JSON | None = None
        try:
            await read_params(request, call)
            if request.path_params["token"] != self.token:  # Telegram: 404 if malformed
                well_formed = re.fullmatch(r"\d+:[\w-]+", request.path_params["token"])
                raise ApiError(401, "Unauthorized") if well_formed else ApiError(404, "Not Found")
            if handler is None and not is_poll:
                raise ApiError(404, "Not Found")
            with self._lock:
                failures = self._failures.get(name.lower())
                if failures:
                    raise failures.pop(0)
            if is_poll:
                call.result = await self._get_updates(call)
            elif handler is not None:
                with self._lock:
                    call.result = handler(call)
        except ApiError as error:
            call.status, call.description = error.error_code, error.description
            parameters = error.parameters
        except Exception as error:  # a bug of the fake: make it visible in .calls
            call.status, call.description = 500, f"Internal Server Error (fake: {error!r})"
        if is_poll and await request.is_disconnected():
            return Response(status_code=499)  # a long poll its client gave up: nobody sees it
        self._record(call)
        if not call.ok:
            return error_response(call.status, call.description or "", parameters)
        return JSONResponse({"ok": True, "result": call.result})

    async def _misrouted(self, request: Request) -> Response:
        """A URL no Bot API route matches (a wrong base_url): recorded, so a test can see it."""
        self._record(Call(method=f"<unrouted {request.url.path}>", params={}, status=404))
        return error_response(404, "Not Found")

    async def _download(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return error_response(401, "Unauthorized")
        file_path = request.path_params["file_path"]
        with self._lock:
            ref = self._files_by_path.get(file_path)
            if ref is None or ref.size > self.download_limit_bytes:
                return error_response(404, "Not Found")
            self.downloads.append(file_path)
        return Response(ref.data, media_type=ref.mime_type)

    # -- polling and webhooks ---------------------------------------------------------------------

    async def _get_updates(self, call: Call) -> list[JSON]:
        params = call.params
        with self._lock:
            if self.webhook is not None:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active;"
                    " use deleteWebhook to delete the webhook first",
                )
            offset = int(params.get("offset") or 0)
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
            if "allowed_updates" in params:
                self._allowed_updates = list(params["allowed_updates"]) or None
            self._poll_generation += 1
            generation = self._poll_generation
        self._wake_pollers()  # an older long poll ends with 409, as on Telegram
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), self.max_poll_timeout_s)
        deadline = time.monotonic() + timeout
        while True:
            event = self._poll_event  # taken before looking, so no wake-up is lost
            with self._lock:
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request;"
                        " make sure that only one bot instance is running",
                    )
                allowed = self._allowed_updates
                if allowed:
                    self._updates = [u for u in self._updates if set(u) & {*allowed}]
                batch = self._updates[:limit]
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or self._closing:
                return batch
            with self._changed:
                self.polls_waiting += 1
                self._changed.notify_all()  # wait_until(lambda: fake.polls_waiting) wakes up
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
            finally:
                with self._lock:
                    self.polls_waiting -= 1


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """A started fake Bot API server, stopped after the test."""
    with FakeTelegram() as fake:
        yield fake
