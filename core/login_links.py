"""One-time, short-lived sign-in links for the web companion: a bot command makes one for the
user who asked; the web app redeems it once. Only the token's SHA-256 is stored, so a database
leak gives no working link. Lives in ``core`` so the bots and the web can both use it."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import update

from core.config import Settings
from core.db.models import utcnow
from core.db.session import Database
from core.db.web_models import LoginToken

TOKEN_BYTES = 24


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_login_link(settings: Settings, db: Database, user_id: str) -> str:
    """A link that signs this user in once, within ``settings.web_login_ttl_s``."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    async with db.sessions() as session, session.begin():
        session.add(
            LoginToken(
                token_hash=_hash(token),
                user_id=user_id,
                created_at=now,
                expires_at=now + timedelta(seconds=settings.web_login_ttl_s),
            )
        )
    return f"{settings.public_url.rstrip('/')}/login/{token}"


async def redeem_login_token(db: Database, token: str) -> str | None:
    """The user the token signs in, marking it used; None when unknown, used or expired.
    Atomic: of two concurrent redemptions exactly one wins."""
    if not token or len(token) > 100:
        return None
    now = utcnow()
    async with db.sessions() as session, session.begin():
        user_id = await session.scalar(
            update(LoginToken)
            .where(
                LoginToken.token_hash == _hash(token),
                LoginToken.used_at.is_(None),
                LoginToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(LoginToken.user_id)
        )
    return user_id
