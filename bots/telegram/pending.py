"""What a user has sent so far (a GIF waiting for its face, or a face waiting for its GIF),
kept in Redis with a TTL, keyed by chat and user: bot replicas share it and a restart keeps it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

PENDING_TTL_S = 30 * 60
REUSE_TTL_S = 7 * 24 * 3600  # "Another face for this GIF" works this long after a clip


@dataclass(frozen=True)
class TgFile:
    """A file as Telegram knows it: fetched only when the pair is complete."""

    file_id: str
    unique_id: str
    size: int
    message_id: int  # the message that carried it


@dataclass
class Pending:
    gif: TgFile | None = None
    face: TgFile | None = None

    @property
    def complete(self) -> bool:
        return self.gif is not None and self.face is not None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Pending:
        data = json.loads(raw)
        return cls(
            gif=TgFile(**data["gif"]) if data.get("gif") else None,
            face=TgFile(**data["face"]) if data.get("face") else None,
        )


def _key(chat_id: int, user_id: int) -> str:
    return f"swapzy:tg:pending:{chat_id}:{user_id}"


def _reuse_key(job_id: str) -> str:
    return f"swapzy:tg:reuse:{job_id}"


class PendingStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, chat_id: int, user_id: int) -> Pending:
        raw = await self.redis.get(_key(chat_id, user_id))
        return Pending.from_json(raw) if raw else Pending()

    async def put(self, chat_id: int, user_id: int, pending: Pending) -> None:
        await self.redis.set(_key(chat_id, user_id), pending.to_json(), ex=PENDING_TTL_S)

    async def clear(self, chat_id: int, user_id: int) -> bool:
        return bool(await self.redis.delete(_key(chat_id, user_id)))

    async def remember_pair(self, job_id: str, pending: Pending) -> None:
        """Keep a finished pair's files, for the result's "another face / GIF" buttons."""
        await self.redis.set(_reuse_key(job_id), pending.to_json(), ex=REUSE_TTL_S)

    async def pair_of(self, job_id: str) -> Pending | None:
        raw = await self.redis.get(_reuse_key(job_id))
        return Pending.from_json(raw) if raw else None
