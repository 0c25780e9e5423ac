"""A local Discord: the REST API (v10) and the gateway (a websocket), for end-to-end tests of
the real discord.py client.

    with FakeDiscord() as fake:                   # or the ``fake_discord`` fixture
        discord.http.Route.BASE = fake.api_url    # the bot does this from SWAPZY_DISCORD_API_URL
        ... start the bot (AutoShardedClient asks /gateway/bot for the websocket address) ...
        fake.wait_ready()
        iid = fake.dispatch(slash_command(...))   # a real INTERACTION_CREATE over the gateway
        fake.wait_until(lambda: fake.original(iid) is not None)

The gateway speaks opcodes HELLO, IDENTIFY -> READY, HEARTBEAT -> ACK, then DISPATCH; with
``compress=zlib-stream`` (what discord.py asks for without zstandard) frames are one zlib stream
flushed per message, as Discord sends them. Attachment URLs point at the fake's CDN.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.bots.discord_objects import (
    APP_ID,
    BOT_USER,
    JSON,
    ApiError,
    Call,
    Interaction,
    Message,
    SentFile,
    snowflake,
)
from tests.bots.discord_rest import DiscordState
from tests.web.server import base_url, bind_free_socket

TOKEN = "fake-discord-bot-token"
HEARTBEAT_MS = 41250


class _Gateway:
    """One websocket session: sequence numbers and the zlib stream."""

    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self.seq = 0
        self.deflate = zlib.compressobj() if compress else None

    async def send(self, op: int, data: Any, event: str | None = None) -> None:
        frame: JSON = {"op": op, "d": data, "s": None, "t": event}
        if op == 0:
            self.seq += 1
            frame["s"] = self.seq
        text = json.dumps(frame)
        if self.deflate is None:
            await self.ws.send_str(text)
        else:
            raw = self.deflate.compress(text.encode()) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
            await self.ws.send_bytes(raw)


class FakeDiscord(DiscordState):
    """The fake on 127.0.0.1 (aiohttp in a thread with its own event loop)."""

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__(token)
        self.identified: list[JSON] = []  # IDENTIFY payloads received
        self.heartbeats = 0
        self.gateway_queries: list[dict[str, str]] = []  # ?v=10&encoding=json&compress=...
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: _Gateway | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeDiscord:
        sock = bind_free_socket()
        self.url = base_url(sock)
        started = threading.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/cdn/{aid}/{filename}", self._cdn)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)

        async def serve() -> None:
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            await web.SockSite(self._runner, sock).start()
            started.set()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not started.wait(15):
            raise RuntimeError("the fake Discord did not start within 15 s")
        return self

    def stop(self) -> None:
        loop, runner = self._loop, self._runner
        if loop is None or runner is None:
            return
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(15)

    def __enter__(self) -> FakeDiscord:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v10"

    # -- what tests do ---------------------------------------------------------------------------

    def wait_until(self, check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
        """Wait (on the state's condition, bounded) until ``check()`` is truthy; returns it."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                value = check()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
                self.changed.wait(min(left, 0.1))

    def wait_ready(self, timeout: float = 30.0) -> None:
        self.wait_until(lambda: self._session is not None, timeout, "the bot's IDENTIFY")

    def upload(self, filename: str, data: bytes, content_type: str | None) -> JSON:
        """A file a user attaches: stored on the CDN; returns the attachment object."""
        attachment = SentFile(filename, data, content_type or "")
        with self.lock:
            self.attachments[attachment.id] = attachment
        out = attachment.to_json() | {
            "url": f"{self.url}/cdn/{attachment.id}/{filename}",
            "proxy_url": f"{self.url}/cdn/{attachment.id}/{filename}",
        }
        if content_type is None:
            del out["content_type"]
        return out

    def dispatch(self, payload: JSON) -> str:
        """Send an INTERACTION_CREATE (``payload`` without id/token: they are added here)."""
        interaction = Interaction(id=snowflake(), token=f"itoken-{snowflake()}", payload=payload)
        payload |= {"id": interaction.id, "token": interaction.token}
        payload.setdefault("application_id", str(APP_ID))
        with self.changed:
            session = self._session
            if session is None:
                raise AssertionError("no bot is connected to the gateway")
            interaction.sent_at = time.monotonic()
            self.interactions[interaction.id] = interaction
            if payload.get("context") == 1:  # the bot's DM with this user
                user = (payload.get("user") or {}).get("id")
                self.dm_channels.setdefault(str(user), str(payload["channel_id"]))
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(
            session.send(0, payload, "INTERACTION_CREATE"), self._loop
        )
        future.result(10)
        return interaction.id

    def interaction(self, iid: str) -> Interaction:
        with self.lock:
            return self.interactions[iid]

    def original(self, iid: str) -> Message | None:
        with self.lock:
            return self.interactions[iid].original

    def followups(self, iid: str) -> list[Message]:
        with self.lock:
            return list(self.interactions[iid].followups)

    def channel_messages(self, channel_id: int | str) -> list[Message]:
        with self.lock:
            return [
                m
                for m in self.messages.values()
                if m.channel_id == str(channel_id) and m.interaction_id is None and not m.deleted
            ]

    def calls_to(self, method: str, path_part: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method and path_part in c.path]

    def expire_token(self, iid: str) -> None:
        with self.changed:
            self.interactions[iid].expired = True

    # -- HTTP ------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body, files = await _read_body(request)
        call_status, error, code, result = 200, "", 0, None
        try:
            if (
                self.needs_auth(path)
                and request.headers.get("Authorization") != f"Bot {self.token}"
            ):
                raise ApiError(401, "401: Unauthorized", 0)
            if path == "/gateway/bot":
                result = self._gateway_info()
            else:
                handler, params = self._match(request.method, path)
                with self.changed:
                    result = handler(params, body, files)
        except ApiError as exc:
            call_status, error, code = exc.status, exc.message, exc.code
        except Exception as exc:  # a bug of the fake: make it visible in .calls
            call_status, error = 500, f"fake error: {exc!r}"
        self.record(Call(request.method, path, _as_json(body), tuple(files), call_status, error))
        if call_status >= 400:
            return web.Response(
                body=json.dumps({"message": error, "code": code}),
                status=call_status,
                headers={"Content-Type": "application/json"},
            )
        if result is None:
            return web.Response(status=204)
        # discord.py reads JSON only when the type is exactly "application/json", as Discord sends.
        return web.Response(body=json.dumps(result), headers={"Content-Type": "application/json"})

    def _match(self, method: str, path: str) -> tuple[Callable[..., Any], JSON]:
        parts = path.strip("/").split("/")
        for route_method, pattern, handler in self.routes():
            want = pattern.strip("/").split("/")
            if route_method != method or len(want) != len(parts):
                continue
            params: JSON = {}
            for w, p in zip(want, parts, strict=True):
                if w.startswith("{"):
                    params[w.strip("{}")] = p
                elif w != p:
                    break
            else:
                return handler, params
        raise ApiError(404, "404: Not Found", 0)

    def _gateway_info(self) -> JSON:
        return {
            "url": self.url.replace("http://", "ws://") + "/gateway",
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            found = self.attachments.get(request.match_info["aid"])
        if found is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=found.data, content_type=found.content_type or None)

    # -- gateway ---------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        with self.changed:
            self.gateway_queries.append(dict(request.query))
        session = _Gateway(ws, request.query.get("compress") == "zlib-stream")
        await session.send(10, {"heartbeat_interval": HEARTBEAT_MS})
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            op, data = frame.get("op"), frame.get("d")
            if op == 1:
                with self.changed:
                    self.heartbeats += 1
                await session.send(11, None)
            elif op == 2:
                await self._identify(session, data)
        with self.changed:
            if self._session is session:
                self._session = None
        return ws

    async def _identify(self, session: _Gateway, data: JSON) -> None:
        if data.get("token") != self.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = data.get("shard") or [0, 1]
        ready = {
            "v": 10,
            "user": BOT_USER,
            "guilds": [],
            "session_id": snowflake(),
            "resume_gateway_url": self.url.replace("http://", "ws://") + "/gateway",
            "shard": shard,
            "application": {"id": str(APP_ID), "flags": 0},
        }
        await session.send(0, ready, "READY")
        with self.changed:
            self.identified.append(data)
            self._session = session
            self.changed.notify_all()


async def _read_body(request: web.Request) -> tuple[Any, list[SentFile]]:
    """JSON, or discord.py's multipart: ``payload_json`` plus ``files[n]``."""
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        body = json.loads(str(form.get("payload_json") or "{}"))
        files = []
        for name, value in form.items():
            if name.startswith("files[") and isinstance(value, web.FileField):
                ctype = value.content_type or "application/octet-stream"
                files.append(SentFile(value.filename, value.file.read(), ctype))
        return body, files
    raw = await request.read()
    return (json.loads(raw) if raw else {}), []


def _as_json(body: Any) -> JSON:
    return body if isinstance(body, dict) else {"items": body}


@pytest.fixture(name="fake_discord")
def fake_discord_fixture() -> Iterator[FakeDiscord]:
    """A started fake Discord, stopped after the test."""
    with FakeDiscord() as fake:
        yield fake
