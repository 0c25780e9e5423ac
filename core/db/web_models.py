"""Tables of the web companion (issue 5): share slugs, reports, login links.

Same rules as ``core.db.models``: portable types, UTC times, stable constraint names.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base, UTCDateTime, utcnow

__all__ = ["Base", "LoginToken", "Report", "ShareLink"]


class ShareLink(Base):
    """The public page of one finished job, ``/c/{slug}``, and the renditions made for it
    (MP4, GIF, thumbnail; made on first view from the worker's output)."""

    __tablename__ = "share_links"

    slug: Mapped[str] = mapped_column(String(16), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("swap_jobs.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    gif_key: Mapped[str | None] = mapped_column(String(500))
    mp4_key: Mapped[str | None] = mapped_column(String(500))
    thumb_key: Mapped[str | None] = mapped_column(String(500))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    # Set when an admin removed the clip after a report: the page answers 404 from then on.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Report(Base):
    """Someone pressed "Report" on a share page; an admin reviews it."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(
        ForeignKey("share_links.slug", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(500), default="")
    reporter: Mapped[str] = mapped_column(String(64), default="")  # a hash, never the raw IP
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(String(32))  # removed | kept


class LoginToken(Base):
    """A one-time, short-lived sign-in link; only the token's SHA-256 is stored."""

    __tablename__ = "login_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
