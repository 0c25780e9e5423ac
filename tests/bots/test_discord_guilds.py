"""Per-server rules and daily counts on SQLite and PostgreSQL (the ``database_url`` fixture)."""

from __future__ import annotations

import asyncio

from bots.discord import texts
from bots.discord.guilds import Guilds
from core.db.migrate import upgrade
from core.db.session import Database

GUILD, ADMIN = 601000000000000001, 602000000000000002
SWAPS, CHAT = 603000000000000001, 603000000000000002


def test_rules_caps_and_counts(database_url: str) -> None:
    upgrade(database_url)

    async def scenario() -> None:
        db = Database.connect(database_url)
        try:
            guilds = Guilds(db)
            assert await guilds.refusal(GUILD, CHAT) is None  # no rules: swaps everywhere
            assert await guilds.refusal(None, CHAT) is None  # a DM has no server rules
            await guilds.change(GUILD, ADMIN, allowed_channels=[str(SWAPS)])
            rules = await guilds.change(GUILD, ADMIN, daily_cap=3)
            assert (rules.allowed_channels, rules.daily_cap) == ((str(SWAPS),), 3)
            assert await guilds.refusal(GUILD, CHAT) == texts.CHANNEL_NOT_ALLOWED.format(
                channels=f"<#{SWAPS}>"
            )
            assert await guilds.refusal(GUILD, SWAPS) is None
            # The first swaps of the day arrive at once: each one is counted.
            await asyncio.gather(*(guilds.count_swap(GUILD) for _ in range(3)))
            assert await guilds.used_today(GUILD) == 3
            assert await guilds.refusal(GUILD, SWAPS) == texts.SERVER_CAP_REACHED.format(cap=3)
            rules = await guilds.change(GUILD, ADMIN, daily_cap=None, allowed_channels=[])
            assert rules == type(rules)()
            assert await guilds.refusal(GUILD, CHAT) is None
        finally:
            await db.close()

    asyncio.run(scenario())
