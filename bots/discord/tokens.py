"""Interaction tokens, kept in Redis only while Discord still honours them.

A token lets the bot edit its answer and send followups for 15 minutes after the command. The
store keeps it for ``lifetime_s`` (a margin below that) counted from when the command arrived:
when it is gone, the result takes another path (a channel message or a DM).
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

TOKEN_LIFETIME_S = 14 * 60.0  # Discord's 15 minutes, less a margin for the last upload


def token_key(job_id: str) -> str:
    return f"swapzy:discord:token:{job_id}"


class InteractionTokens:
    def __init__(self, redis: Redis, lifetime_s: float = TOKEN_LIFETIME_S) -> None:
        self.redis = redis
        self.lifetime_s = lifetime_s

    def left_s(self, received_at: float) -> float:
        """Seconds the token of a command received at ``received_at`` (time.time()) has left."""
        return received_at + self.lifetime_s - time.time()

    async def keep(self, job_id: str, token: str, received_at: float) -> bool:
        """Keep the token for the rest of its life; False if it has none left."""
        left_ms = int(self.left_s(received_at) * 1000)
        if left_ms <= 0:
            return False
        await self.redis.set(token_key(job_id), token, px=left_ms)
        return True

    async def get(self, job_id: str) -> str | None:
        raw = await self.redis.get(token_key(job_id))
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def drop(self, job_id: str) -> None:
        await self.redis.delete(token_key(job_id))
