"""The job contract every channel speaks: what goes in (``SwapRequest``), what comes back
(``Submitted``, ``JobStatus``) and how a result is handed back (``Deliverer``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Channel, JobState, Lane, SwapJob

OutputFormat = Literal["gif", "mp4", "webp"]


@dataclass(frozen=True)
class MediaInput:
    """One uploaded file as received. ``filename`` is only a hint; the bytes decide the type."""

    data: bytes
    filename: str = ""


@dataclass(frozen=True)
class SwapRequest:
    channel: Channel
    external_user_id: str  # the user's id on that channel
    target: MediaInput  # the GIF / video / still image
    source: MediaInput  # the face photo
    reply_to: dict[str, Any] = field(default_factory=dict)  # channel-owned reply address
    # Same chat message -> same key -> one job (e.g. "telegram:<chat>:<message>"). None: no dedup.
    dedup_key: str | None = None
    username: str = ""
    faces: str = "largest"  # largest | all | N
    output_format: OutputFormat = "gif"
    lane: Lane = Lane.FREE  # decided by the caller's entitlement check


@dataclass(frozen=True)
class Submitted:
    job_id: str
    created: bool  # False: this submission was a repeat of an earlier one
    state: JobState


@dataclass(frozen=True)
class JobStatus:
    """What a channel shows while a job waits or runs, and when it ends."""

    job_id: str
    state: JobState
    frames_done: int = 0
    frames_total: int = 0
    queue_position: int | None = None  # 1 = next; None when not waiting
    failure_reason: str | None = None
    failure_message: str | None = None
    output_key: str | None = None

    @property
    def finished(self) -> bool:
        return self.state.finished


class JobTerms(Protocol):
    """What the user's plan allows for one job; stored on the job row, applied by the worker."""

    @property
    def lane(self) -> Lane: ...
    @property
    def watermark(self) -> bool: ...
    @property
    def max_side(self) -> int | None: ...  # longest side of the output; None: as the input
    @property
    def formats(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class FixedTerms:
    lane: Lane = Lane.FREE
    watermark: bool = False
    max_side: int | None = None
    formats: tuple[str, ...] = ("gif", "mp4", "webp")


class Admission(Protocol):
    """The plan check ``submit`` runs inside the transaction that creates the job (billing's
    ``PlanAdmission`` implements it). It may lock the user's row and count the swap; it returns
    the job's terms or raises an ``InputError`` (code ``quota_reached``, ``too_many_frames`` ...)
    with a sentence fit for the user; raising rolls the whole job back.
    """

    async def admit(self, session: AsyncSession, *, user_id: str, frames: int) -> JobTerms: ...


@dataclass(frozen=True)
class Unmetered:
    """No plan check: the given lane, no watermark, no cap, no quota. For tools and tests; the
    bots, the web app and ``swapzy submit`` pass billing's admission."""

    lane: Lane = Lane.FREE

    async def admit(self, session: AsyncSession, *, user_id: str, frames: int) -> JobTerms:
        return FixedTerms(lane=self.lane)


class Deliverer(Protocol):
    """A channel's way of handing a finished job back (a chat message, a web notification).

    ``link`` is the signed share link for a succeeded job, None otherwise. Raise to have the
    delivery retried with backoff."""

    async def deliver(self, job: SwapJob, link: str | None) -> None: ...


class Notifier(Protocol):
    """A channel's way of telling a user about their plan (``kind``: pro_now, payment_failed,
    pro_ended) at their identity on that channel. Raise to have it retried."""

    async def notify(self, external_id: str, kind: str, link: str | None) -> None: ...
