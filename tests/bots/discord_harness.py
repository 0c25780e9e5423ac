"""The Discord bot as ``swapzy bot discord`` runs it, in the test's event loop, connected to the
fake Discord; helpers that wait for what the user sees."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from bots.discord.app import RunningBot, running_bot
from bots.discord.tokens import TOKEN_LIFETIME_S
from core.config import Settings
from core.db.session import Database
from core.storage import build_storage
from jobs.connect import connect_queue
from tests.bots.discord_objects import Message
from tests.bots.fake_discord import FakeDiscord
from tests.jobs.service import Service, service


@contextlib.contextmanager
def service_for_discord(
    tmp_path: Path, redis_url: str, sqlite_url: str, fake: FakeDiscord, **values: Any
) -> Iterator[Service]:
    """A service (classic engine, database migrated) whose bot talks to the fake Discord."""
    with service(
        tmp_path,
        redis_url,
        sqlite_url,
        engine="classic",
        discord_token=fake.token,
        discord_api_url=fake.api_url,
        **values,
    ) as svc:
        yield svc


@contextlib.asynccontextmanager
async def discord_bot(
    settings: Settings, fake: FakeDiscord, *, token_lifetime_s: float = TOKEN_LIFETIME_S
) -> AsyncIterator[RunningBot]:
    db = Database.connect(settings.sqlalchemy_url)
    queue = await connect_queue(settings.redis_url)
    try:
        storage = build_storage(settings)
        async with running_bot(
            settings, db, storage, queue, token_lifetime_s=token_lifetime_s
        ) as running:
            await asyncio.to_thread(fake.wait_ready)
            yield running
    finally:
        await queue.aclose()
        await db.close()


async def answer(fake: FakeDiscord, iid: str, timeout: float = 30) -> Message:
    """The interaction's first answer (a message or a deferral), once it exists."""
    found = await asyncio.to_thread(
        fake.wait_until, lambda: fake.original(iid), timeout, f"an answer to {iid}"
    )
    assert isinstance(found, Message)
    return found


async def shows(fake: FakeDiscord, iid: str, text: str, timeout: float = 60) -> Message:
    """Wait until the interaction's answer shows ``text``."""

    def check() -> Message | None:
        original = fake.original(iid)
        return original if original is not None and text in original.content else None

    found = await asyncio.to_thread(fake.wait_until, check, timeout, f"{text!r} in {iid}")
    assert isinstance(found, Message)
    return found


async def followup(fake: FakeDiscord, iid: str, timeout: float = 90) -> Message:
    found = await asyncio.to_thread(
        fake.wait_until, lambda: fake.followups(iid), timeout, f"a followup of {iid}"
    )
    assert isinstance(found, list)
    first = found[0]
    assert isinstance(first, Message)
    return first
