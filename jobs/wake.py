"""Doorbells: whoever enqueues a job rings its queue's bell (Redis pub/sub), so an idle worker
picks it up at once instead of at its next poll. Best effort: a lost ring (no listener yet, a
dropped connection) only means the job waits for the poll, as it would without a bell."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from types import TracebackType

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def bell_channel(queue_name: str) -> str:
    return f"swapzy:wake:{queue_name}"


async def ring(redis: Redis, queue_name: str) -> None:
    """Tell the queue's workers a job is there; a failure is harmless (they poll anyway)."""
    try:
        await redis.publish(bell_channel(queue_name), "1")
    except RedisError as exc:
        log.debug("could not ring %s: %s", queue_name, exc)


class Doorbell:
    """One subscription per process for the queues it serves. ``clear`` before polling a
    queue, then ``wait`` (a ring during the poll is not lost: the event stays set)."""

    def __init__(self, redis: Redis, queue_names: Sequence[str]) -> None:
        self._redis = redis
        self._events = {bell_channel(q): asyncio.Event() for q in queue_names}
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Doorbell:
        try:
            self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            await self._pubsub.subscribe(*self._events)
            self._listener = asyncio.create_task(self._listen(self._pubsub))
        except (RedisError, OSError) as exc:
            log.warning("no doorbell (%s); polling only", exc)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await self._listener
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _listen(self, pubsub: PubSub) -> None:
        try:
            async for message in pubsub.listen():
                channel = message.get("channel")
                name = channel.decode() if isinstance(channel, bytes) else str(channel)
                event = self._events.get(name)
                if event is not None:
                    event.set()
        except (RedisError, OSError) as exc:
            log.warning("doorbell lost its connection (%s); polling only", exc)

    def clear(self, queue_name: str) -> None:
        self._events[bell_channel(queue_name)].clear()

    async def wait(self, queue_name: str, timeout_s: float) -> None:
        """Until the queue's bell rings or ``timeout_s`` passes (the poll interval)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._events[bell_channel(queue_name)].wait(), timeout_s)
