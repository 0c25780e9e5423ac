"""Security for every page: response headers (CSP, nosniff, frame-ancestors), the session
cookie, CSRF checks on form posts, and per-IP / per-user rate limits kept in Redis.

``SecurityMiddleware`` is plain ASGI (no per-request task or body buffering): it reads the
session cookie into ``scope["state"]``, and on the way out adds the headers and, when a route
made or changed the session, its ``Set-Cookie``.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from fastapi import Request
from redis.asyncio import Redis
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.config import Settings
from web.session import COOKIE, SessionCodec, WebSession
from web.views import PageError

STATE_KEY = "swapzy_session"
RATE_PREFIX = "swapzy:rate:"


def media_origins(settings: Settings) -> str:
    """Where clip bytes come from, for the CSP: this site, or S3 / CloudFront."""
    if settings.storage.backend == "local":
        return ""
    if settings.storage.cloudfront_domain:
        return f" https://{settings.storage.cloudfront_domain}"
    return " https:"


def content_security_policy(settings: Settings) -> str:
    media = media_origins(settings)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data: blob:{media}; media-src 'self' blob:{media}; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


@dataclass
class SessionSlot:
    """The request's session: read from the cookie; ``dirty`` when the response must set it."""

    codec: SessionCodec
    session: WebSession | None
    dirty: bool = False


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.codec = SessionCodec(settings)
        self.headers = [
            ("content-security-policy", content_security_policy(settings)),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "strict-origin-when-cross-origin"),
            ("permissions-policy", "camera=(self), microphone=(), geolocation=()"),
            ("cross-origin-opener-policy", "same-origin"),
        ]
        if settings.public_url.startswith("https://"):
            self.headers.append(("strict-transport-security", "max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        slot = SessionSlot(self.codec, self.codec.decode(_cookie(scope), time.time()))
        scope.setdefault("state", {})[STATE_KEY] = slot

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    if name not in headers:
                        headers[name] = value
                if slot.dirty and slot.session is not None:
                    headers.append("set-cookie", _set_cookie(self.codec, slot.session))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _cookie(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                return None
            morsel = jar.get(COOKIE)
            return morsel.value if morsel else None
    return None


def _set_cookie(codec: SessionCodec, session: WebSession) -> str:
    parts = [
        f"{COOKIE}={codec.encode(session)}",
        f"Max-Age={codec.ttl_s}",
        "Path=/",
        "HttpOnly",
        "SameSite=Lax",
    ]
    if codec.secure:
        parts.append("Secure")
    return "; ".join(parts)


def _slot(request: Request) -> SessionSlot:
    slot = request.scope.get("state", {}).get(STATE_KEY)
    assert isinstance(slot, SessionSlot), "SecurityMiddleware is not installed"
    return slot


def session_of(request: Request) -> WebSession:
    """This browser's session, started (and set on the response) on first need."""
    slot = _slot(request)
    if slot.session is None:
        slot.session = slot.codec.new()
        slot.dirty = True
    return slot.session


def signed_in_user(request: Request) -> str | None:
    slot = _slot(request)
    return slot.session.user_id if slot.session else None


def start_session(request: Request, user_id: str | None) -> WebSession:
    """A new session id for this browser, signed in as ``user_id`` (None: signed out)."""
    slot = _slot(request)
    slot.session = slot.codec.signed_in(user_id)
    slot.dirty = True
    return slot.session


def csrf_token(request: Request) -> str:
    return _slot(request).codec.csrf_token(session_of(request))


CSRF_MESSAGE = "This form has expired or came from another site. Reload the page and try again."


def check_csrf(request: Request, token: object) -> None:
    """Refuse a form post whose token does not match this browser's session, or whose
    ``Origin`` is another site."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        own = f"{request.url.scheme}://{request.url.netloc}"
        if origin.rstrip("/") != own and not _same_origin(origin, request):
            raise PageError(403, "Form refused", CSRF_MESSAGE)
    slot = _slot(request)
    if slot.session is None or not slot.codec.csrf_ok(slot.session, str(token or "")):
        raise PageError(403, "Form refused", CSRF_MESSAGE)


def _same_origin(origin: str, request: Request) -> bool:
    settings: Settings = request.app.state.settings
    public = urlsplit(settings.public_url)
    return origin.rstrip("/") == f"{public.scheme}://{public.netloc}"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def hashed(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class RateLimiter:
    """Fixed-window counters in Redis, shared by every web process."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.window_s = settings.web_rate_window_s
        self.per_ip = settings.web_rate_per_ip
        self.per_user = settings.web_rate_per_user

    async def _hit(self, key: str, limit: int) -> int | None:
        window = int(time.time() // self.window_s)
        full = f"{RATE_PREFIX}{key}:{window}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(full)
            pipe.expire(full, self.window_s * 2)
            count, _ = await pipe.execute()
        if int(count) > limit:
            return self.window_s - int(time.time()) % self.window_s
        return None

    async def check(self, request: Request, action: str, user: str | None) -> None:
        """Count one ``action`` for this IP (and user); ``PageError(429)`` over the limit."""
        wait = await self._hit(f"{action}:ip:{hashed(client_ip(request))}", self.per_ip)
        if wait is None and user:
            wait = await self._hit(f"{action}:user:{user}", self.per_user)
        if wait is not None:
            raise PageError(
                429,
                "Slow down",
                f"Too many tries from here. Please wait {wait} seconds and try again.",
                headers={"Retry-After": str(wait)},
            )
