"""The job contract every channel speaks: what goes in (``SwapRequest``), what comes back
(``Submitted``, ``JobStatus``) and how a result is handed back (``Deliverer``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

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


class Deliverer(Protocol):
    """A channel's way of handing a finished job back (a chat message, a web notification).

    ``link`` is the signed share link for a succeeded job, None otherwise. Raise to have the
    delivery retried with backoff."""

    async def deliver(self, job: SwapJob, link: str | None) -> None: ...
