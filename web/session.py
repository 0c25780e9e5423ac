"""The browser session: a signed cookie (HttpOnly, SameSite=Lax, Secure on https) holding a
random session id and, once signed in, the user id. CSRF tokens are derived from the session id.

No server-side session store: the cookie is ``base64url(json).base64url(hmac)``; a tampered or
expired cookie is simply a fresh anonymous session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from core.config import Settings

COOKIE = "swapzy_session"
_CONTEXT = b"swapzy-web-session-v1\x00"


def session_secret(settings: Settings) -> bytes:
    """The configured secret, or one derived from the link secret (domain-separated)."""
    own = settings.web_session_secret.get_secret_value()
    if own:
        return own.encode()
    link = settings.storage.link_secret.get_secret_value().encode()
    return hmac.new(link, b"swapzy-web-session-key", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class WebSession:
    sid: str  # random, per browser; the anonymous identity and the CSRF binding
    user_id: str | None = None  # set by a sign-in link
    issued_at: int = 0

    @property
    def external_id(self) -> str:
        """Who submits on the web channel: the signed-in user, or this browser."""
        return f"user:{self.user_id}" if self.user_id else f"anon:{self.sid}"


class SessionCodec:
    """Signs and reads session cookies and CSRF tokens with one secret."""

    def __init__(self, settings: Settings) -> None:
        self._secret = session_secret(settings)
        self.ttl_s = settings.web_session_ttl_s
        self.secure = settings.public_url.startswith("https://")

    def _mac(self, purpose: bytes, data: bytes) -> bytes:
        return hmac.new(self._secret, _CONTEXT + purpose + b"\x00" + data, hashlib.sha256).digest()

    def encode(self, session: WebSession) -> str:
        body = json.dumps(
            {"sid": session.sid, "uid": session.user_id, "iat": session.issued_at},
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{_b64(self._mac(b'cookie', body))}"

    def decode(self, value: str | None, now: float) -> WebSession | None:
        if not value or value.count(".") != 1:
            return None
        body_text, mac_text = value.split(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
            if not hmac.compare_digest(mac, self._mac(b"cookie", body)):
                return None
            data = json.loads(body)
            session = WebSession(str(data["sid"]), data.get("uid"), int(data["iat"]))
        except (ValueError, KeyError, TypeError):
            return None
        if now - session.issued_at > self.ttl_s:
            return None
        return session

    def csrf_token(self, session: WebSession) -> str:
        return _b64(self._mac(b"csrf", session.sid.encode()))

    def csrf_ok(self, session: WebSession, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session))

    def new(self, user_id: str | None = None) -> WebSession:
        return WebSession(secrets.token_hex(16), user_id, int(time.time()))

    def signed_in(self, user_id: str | None) -> WebSession:
        """A fresh session id on every sign-in or sign-out (no session fixation)."""
        return self.new(user_id)
