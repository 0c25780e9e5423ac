"""Per-server rules set by the server's admins (``/swapzy-settings``): the channels where swaps
are allowed and a daily cap, counted per UTC day."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bots.discord import texts
from core.db.discord_models import DiscordGuildSettings, DiscordGuildUsage
from core.db.models import utcnow
from core.db.session import Database


@dataclass(frozen=True)
class GuildRules:
    allowed_channels: tuple[str, ...] = ()  # empty: every channel
    daily_cap: int | None = None


def today() -> str:
    return utcnow().date().isoformat()


class Guilds:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def rules(self, guild_id: int) -> GuildRules:
        async with self.db.sessions() as session:
            row = await session.get(DiscordGuildSettings, str(guild_id))
        if row is None:
            return GuildRules()
        return GuildRules(tuple(row.allowed_channels), row.daily_cap)

    async def used_today(self, guild_id: int) -> int:
        async with self.db.sessions() as session:
            swaps = await session.scalar(
                select(DiscordGuildUsage.swaps).where(
                    DiscordGuildUsage.guild_id == str(guild_id), DiscordGuildUsage.day == today()
                )
            )
        return int(swaps or 0)

    async def refusal(self, guild_id: int | None, channel_id: int | None) -> str | None:
        """Why a swap may not start here (one sentence), or None."""
        if guild_id is None:
            return None
        rules = await self.rules(guild_id)
        if rules.allowed_channels and str(channel_id) not in rules.allowed_channels:
            channels = ", ".join(f"<#{c}>" for c in rules.allowed_channels)
            return texts.CHANNEL_NOT_ALLOWED.format(channels=channels)
        if rules.daily_cap is not None and await self.used_today(guild_id) >= rules.daily_cap:
            return texts.SERVER_CAP_REACHED.format(cap=rules.daily_cap)
        return None

    async def count_swap(self, guild_id: int) -> None:
        key = (str(guild_id), today())
        for _ in range(3):
            try:
                async with self.db.sessions() as session, session.begin():
                    result = await session.execute(
                        update(DiscordGuildUsage)
                        .where(
                            DiscordGuildUsage.guild_id == key[0], DiscordGuildUsage.day == key[1]
                        )
                        .values(swaps=DiscordGuildUsage.swaps + 1)
                    )
                    if not getattr(result, "rowcount", 0):
                        session.add(DiscordGuildUsage(guild_id=key[0], day=key[1], swaps=1))
                return
            except IntegrityError:
                continue  # a concurrent first swap of the day made the row: add to it

    async def change(
        self,
        guild_id: int,
        by: int,
        *,
        allowed_channels: list[str] | None = None,
        daily_cap: int | bool | None = False,  # False: leave as it is
    ) -> GuildRules:
        for _ in range(2):
            try:
                async with self.db.sessions() as session, session.begin():
                    row = await session.get(DiscordGuildSettings, str(guild_id))
                    if row is None:
                        row = DiscordGuildSettings(guild_id=str(guild_id), allowed_channels=[])
                        session.add(row)
                    if allowed_channels is not None:
                        row.allowed_channels = list(allowed_channels)
                    if daily_cap is not False:
                        row.daily_cap = None if daily_cap is None else int(daily_cap)
                    row.updated_by = str(by)
                break
            except IntegrityError:
                continue
        return await self.rules(guild_id)
