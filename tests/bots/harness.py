"""The bot as ``swapzy bot telegram`` runs it, in the test's event loop, polling the fake fast."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bots.telegram.app import TelegramBot, running_bot
from core.config import Settings
from core.db.session import Database
from core.storage import build_storage
from jobs.connect import connect_queue


@contextlib.asynccontextmanager
async def polling_bot(settings: Settings) -> AsyncIterator[TelegramBot]:
    db = Database.connect(settings.sqlalchemy_url)
    queue = await connect_queue(settings.redis_url)
    try:
        async with running_bot(settings, db, build_storage(settings), queue) as bot:
            updater = bot.application.updater
            assert updater is not None
            await updater.start_polling(poll_interval=0.0, timeout=1)
            try:
                yield bot
            finally:
                await updater.stop()
    finally:
        await queue.aclose()
        await db.close()
