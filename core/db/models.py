"""The database: the source of truth for users and jobs (Redis is only the transport).

Portable SQLAlchemy 2 types only, so the same models and migrations run on SQLite (embedded
default) and PostgreSQL (production). Times are timezone-aware UTC.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A random, URL-safe id (32 hex characters); job ids double as arq job ids."""
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both databases (SQLite stores naive text, so it is re-attached)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)  # PostgreSQL answers in the session's time zone


# Stable constraint names, so migrations can refer to them on both databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class Channel(enum.StrEnum):
    TELEGRAM = "telegram"
    DISCORD = "discord"
    WEB = "web"
    CLI = "cli"


class Lane(enum.StrEnum):
    PRO = "pro"
    FREE = "free"


class AssetKind(enum.StrEnum):
    TARGET = "target"  # the GIF / video sent in
    SOURCE = "source"  # the face photo
    OUTPUT = "output"  # the swapped clip


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings (no native ENUM type): adding a state later is a code change only.
    return Enum(cls, name=name, native_enum=False, length=16, values_callable=_values)


def _values(cls: type[enum.Enum]) -> list[str]:
    return [str(m.value) for m in cls]


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    plan: Mapped[str] = mapped_column(String(16), default="free")
    # When the user confirmed they have the right to use the faces they send (asked once).
    face_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UserEvent(Base):
    """Something a user did that must be provable later (consent, deletion ...)."""

    __tablename__ = "user_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChannelIdentity(Base):
    """Who a user is on one channel (a Telegram user id, a Discord user id, a web session)."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    external_id: Mapped[str] = mapped_column(String(200))
    username: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MediaAsset(Base):
    """One stored file: an input the user sent or an output we made."""

    __tablename__ = "media_assets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[AssetKind] = mapped_column(_enum(AssetKind, "asset_kind"))
    storage_key: Mapped[str] = mapped_column(String(500), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    frames: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SwapJob(Base):
    """One swap. ``id`` is also the arq job id, so Redis can never hold two copies of a job."""

    __tablename__ = "swap_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    # Where the result goes back to (chat id, message id, interaction token ...); channel-owned.
    reply_to: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Same chat message -> same key -> one job. NULL: no dedup (e.g. the CLI).
    dedup_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    lane: Mapped[Lane] = mapped_column(_enum(Lane, "lane"), default=Lane.FREE)
    state: Mapped[JobState] = mapped_column(
        _enum(JobState, "job_state"), default=JobState.QUEUED, index=True
    )
    failure_reason: Mapped[str | None] = mapped_column(String(64))  # an error ``code``
    failure_message: Mapped[str | None] = mapped_column(Text)  # fit to show the user
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # runs started
    worker_id: Mapped[str | None] = mapped_column(String(100))  # who runs it now
    faces: Mapped[str] = mapped_column(String(16), default="largest")  # largest | all | N
    output_format: Mapped[str] = mapped_column(String(8), default="gif")  # gif | mp4 | webp
    # The plan's terms for this clip (issue 6), set by submit's admission; the worker applies them.
    watermark: Mapped[bool] = mapped_column(Boolean, default=False)
    max_side: Mapped[int | None] = mapped_column(Integer)  # longest output side; None: as is
    engine: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(100))
    target_asset_id: Mapped[str] = mapped_column(ForeignKey("media_assets.id"))
    source_asset_id: Mapped[str] = mapped_column(ForeignKey("media_assets.id"))
    output_asset_id: Mapped[str | None] = mapped_column(ForeignKey("media_assets.id"))
    frames: Mapped[int | None] = mapped_column(Integer)
    frames_done: Mapped[int] = mapped_column(Integer, default=0)
    engine_seconds: Mapped[float | None] = mapped_column(Float)
    total_seconds: Mapped[float | None] = mapped_column(Float)  # decode + swap + encode + store
    quality: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # figures per job
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
