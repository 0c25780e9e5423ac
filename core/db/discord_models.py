"""Tables of the Discord bot (issue 7): per-server settings and per-server daily swap counts.

Same rules as ``core.db.models``: portable types, UTC times, stable constraint names.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base, UTCDateTime, utcnow


class DiscordGuildSettings(Base):
    """What a server's admins chose with ``/swapzy-settings``."""

    __tablename__ = "discord_guild_settings"

    guild_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Channel ids (strings) where swaps are allowed; empty: every channel.
    allowed_channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    daily_cap: Mapped[int | None] = mapped_column(Integer)  # swaps a day; None: no cap
    updated_by: Mapped[str] = mapped_column(String(32), default="")  # Discord user id
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class DiscordGuildUsage(Base):
    """Swaps started in a server on one UTC day (the daily cap counts these). No user ids: a
    user deleting their data does not give the server its swaps back."""

    __tablename__ = "discord_guild_usage"

    guild_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # "2026-11-28"
    swaps: Mapped[int] = mapped_column(Integer, default=0)
