"""Finding and connecting to the queue (Redis / Valkey)."""

from __future__ import annotations

import json

from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from core.config import Settings
from core.errors import ServiceUnavailable

SERVICES_FILE = "services.json"  # written by `swapzy up` into settings.run_dir


def redis_url(settings: Settings) -> str:
    """The configured Redis URL, else the one a running `swapzy up` left in the run folder."""
    if settings.redis_url:
        return settings.redis_url
    path = settings.run_dir / SERVICES_FILE
    try:
        return str(json.loads(path.read_text())["redis_url"])
    except (OSError, ValueError, KeyError):
        raise ServiceUnavailable(
            "No Swapzy service is running here: start one with `swapzy up` "
            "(or set SWAPZY_REDIS_URL to your Redis)."
        ) from None


async def connect_queue(url: str) -> ArqRedis:
    """A connection pool to the queue; raises ``ServiceUnavailable`` when it cannot be reached."""
    settings = RedisSettings.from_dsn(url)
    settings.conn_retries = 1
    settings.conn_retry_delay = 0
    # A restarted Redis leaves every pooled connection dead: retry a command on a fresh one
    # instead of failing it (the retry re-connects; a Redis that stays down still fails fast).
    settings.retry_on_error = [RedisConnectionError]
    settings.retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=3)
    try:
        return await create_pool(settings)
    except (OSError, RedisError) as exc:
        raise ServiceUnavailable(f"Cannot reach the queue at {url}: {exc}") from None
