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


# Set one half of the pair and, if that completes it, take the pair away in the same step: when
# the GIF and the face arrive at once (updates run concurrently, on any replica), exactly one of
# them sees the complete pair.
_ADD = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local pair = redis.call('HGETALL', KEYS[1])
if redis.call('HEXISTS', KEYS[1], 'gif') == 1 and redis.call('HEXISTS', KEYS[1], 'face') == 1 then
  redis.call('DEL', KEYS[1])
  table.insert(pair, 'taken')
  table.insert(pair, '1')
end
return pair
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _from_hash(items: list[bytes | str]) -> tuple[Pending, bool]:
    fields = {_text(k): _text(v) for k, v in zip(items[::2], items[1::2], strict=True)}
    pending = Pending(
        gif=TgFile(**json.loads(fields["gif"])) if "gif" in fields else None,
        face=TgFile(**json.loads(fields["face"])) if "face" in fields else None,
    )
    return pending, "taken" in fields


class PendingStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(
        self, chat_id: int, user_id: int, role: str, file: TgFile
    ) -> tuple[Pending, bool]:
        """Record the GIF (``role="gif"``) or the face; returns the pair so far, and whether this
        call completed it (then it is taken out of the store: the caller owns it)."""
        items = await self.redis.eval(  # type: ignore[misc]
            _ADD, 1, _key(chat_id, user_id), role, json.dumps(asdict(file)), str(PENDING_TTL_S)
        )
        return _from_hash(items)

    async def put(self, chat_id: int, user_id: int, pending: Pending) -> None:
        key = _key(chat_id, user_id)
        fields = {
            role: json.dumps(asdict(file))
            for role, file in (("gif", pending.gif), ("face", pending.face))
            if file is not None
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if fields:
                pipe.hset(key, mapping=fields)
                pipe.expire(key, PENDING_TTL_S)
            await pipe.execute()

    async def take(self, chat_id: int, user_id: int) -> Pending:
        """The pair so far, removed from the store (one caller gets it)."""
        key = _key(chat_id, user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            pipe.delete(key)
            items, _ = await pipe.execute()
        flat: list[bytes | str] = [x for kv in items.items() for x in kv]
        return _from_hash(flat)[0]

    async def clear(self, chat_id: int, user_id: int) -> bool:
        return bool(await self.redis.delete(_key(chat_id, user_id)))

    async def remember_pair(self, job_id: str, pending: Pending) -> None:
        """Keep a finished pair's files, for the result's "another face / GIF" buttons."""
        await self.redis.set(_reuse_key(job_id), pending.to_json(), ex=REUSE_TTL_S)

    async def pair_of(self, job_id: str) -> Pending | None:
        raw = await self.redis.get(_reuse_key(job_id))
        return Pending.from_json(raw) if raw else None
