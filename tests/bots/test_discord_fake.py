"""The fake Discord keeps Discord's rules, so the bot tests mean something: a late or second
answer is refused, an expired token and an oversized upload fail, the gateway speaks zlib-stream.
Driven by the real bot (``/help``) and discord.py's own webhook client."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import discord
import pytest

from bots.discord import texts
from tests.bots.discord_harness import discord_bot
from tests.bots.discord_objects import FakeUser, Place
from tests.bots.discord_payloads import slash_command
from tests.bots.fake_discord import FakeDiscord
from tests.jobs.service import Service, service

ERIN = FakeUser(id=307000000000000007, username="erin")
DM = Place("dm", channel_id=407000000000000001)


@pytest.fixture
def svc(
    tmp_path: Path, redis_url: str, sqlite_url: str, fake_discord: FakeDiscord
) -> Iterator[Service]:
    with service(
        tmp_path,
        redis_url,
        sqlite_url,
        discord_token=fake_discord.token,
        discord_api_url=fake_discord.api_url,
    ) as running:
        yield running


def test_discord_rules_are_kept(svc: Service, fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def scenario() -> None:
        async with discord_bot(svc.settings, fake) as running:
            assert fake.gateway_queries[0] == {
                "v": "10",
                "encoding": "json",
                "compress": "zlib-stream",
            }
            quick = fake.dispatch(slash_command("help", ERIN, DM))
            await asyncio.to_thread(fake.wait_until, lambda: fake.original(quick), 30, "answer")
            answered = fake.interaction(quick).answered_after_s
            assert answered is not None and answered < 3.0

            fake.ack_deadline_s = 0.0  # every answer is now too late
            late = fake.dispatch(slash_command("help", ERIN, DM))
            refused = await asyncio.to_thread(
                fake.wait_until,
                lambda: [c for c in fake.calls_to("POST", late) if c.status == 404],
                30,
                "the late answer refused",
            )
            assert refused[0].error == "Unknown interaction"
            assert fake.original(late) is None
            fake.ack_deadline_s = 3.0

            webhook = discord.Webhook.from_state(
                {
                    "id": str(running.bot.application_id),
                    "type": 3,
                    "token": fake.interaction(quick).token,
                },
                running.bot._connection,
            )
            fake.upload_limit = 1000
            with pytest.raises(discord.HTTPException) as too_big:
                await webhook.send("big", file=discord.File(io.BytesIO(bytes(2000)), "a.bin"))
            assert too_big.value.status == 413
            fake.expire_token(quick)
            with pytest.raises(discord.HTTPException) as expired:
                await webhook.send("late")
            assert (expired.value.status, expired.value.code) == (401, 50027)

            again = fake.dispatch(slash_command("help", ERIN, DM))
            await asyncio.to_thread(fake.wait_until, lambda: fake.original(again), 30, "answer")
            route = discord.http.Route(
                "POST",
                "/interactions/{iid}/{token}/callback",
                iid=again,
                token=fake.interaction(again).token,
            )
            with pytest.raises(discord.HTTPException) as twice:  # a second answer
                await running.bot.http.request(route, json={"type": 4, "data": {"content": "2"}})
            assert (twice.value.status, twice.value.code) == (400, 40060)
            original = fake.original(again)
            assert original is not None and original.content == texts.HELP

    asyncio.run(scenario())
