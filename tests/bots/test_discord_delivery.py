"""Results that outlive the interaction token (15 minutes on Discord): the answer says where the
clip will come, and it comes there: the channel when the bot may post in it, else a DM."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bots.discord import texts
from bots.discord.delivery import DiscordNotifier
from tests.bots.discord_harness import answer, discord_bot, service_for_discord, shows
from tests.bots.discord_objects import FakeUser, Message, Place
from tests.bots.discord_payloads import button_click, slash_command
from tests.bots.fake_discord import FakeDiscord
from tests.conftest import SampleFiles
from tests.jobs.service import Service

BOB = FakeUser(id=302000000000000002, username="bob")
CARL = FakeUser(id=302000000000000003, username="carl")
SERVER = Place.guild(channel_id=402000000000000001, guild_id=502000000000000001)
ELSEWHERE = Place.guild(
    channel_id=403000000000000001, guild_id=503000000000000001, bot_installed=False
)


@pytest.fixture
def svc(
    tmp_path: Path, redis_url: str, sqlite_url: str, fake_discord: FakeDiscord
) -> Iterator[Service]:
    with service_for_discord(tmp_path, redis_url, sqlite_url, fake_discord) as running:
        yield running


async def _swap(fake: FakeDiscord, files: SampleFiles, place: Place) -> str:
    """``/swap`` (plus the consent click the first time); returns the id of the interaction that
    runs the swap."""
    gif = fake.upload("dance.gif", files.target.read_bytes(), "image/gif")
    face = fake.upload("me.jpg", files.source.read_bytes(), "image/jpeg")
    first = fake.dispatch(slash_command("swap", BOB, place, {"gif": gif, "face": face}))
    consent = await answer(fake, first)
    if consent.content != texts.CONSENT:
        return first  # asked once only
    return fake.dispatch(button_click(consent, consent.custom_ids()[0], BOB, place))


async def _posted(fake: FakeDiscord, channel_id: int | str) -> Message:
    found = await asyncio.to_thread(
        fake.wait_until, lambda: fake.channel_messages(channel_id), 90, "a channel message"
    )
    assert isinstance(found, list)
    first = found[0]
    assert isinstance(first, Message)
    return first


def test_a_job_outliving_the_token_is_posted_in_the_channel_or_sent_by_dm(
    svc: Service, fake_discord: FakeDiscord, sample_files: SampleFiles
) -> None:
    fake = fake_discord
    fake.postable_channels.add(str(SERVER.channel_id))
    svc.start_worker()

    async def scenario() -> None:
        # A token with no time left: every result takes the other path.
        async with discord_bot(svc.settings, fake, token_lifetime_s=0):
            click = await _swap(fake, sample_files, SERVER)
            await shows(fake, click, texts.LATE_NOTICE_CHANNEL)
            posted = await _posted(fake, SERVER.channel_id)
            assert posted.content.startswith(f"<@{BOB.id}> your clip is ready! Share it: http")
            assert [f.filename for f in posted.files] == ["swapzy.gif"]
            assert posted.buttons == [texts.BUTTON_ANOTHER_FACE, texts.BUTTON_PRO]
            assert fake.followups(click) == []

            # Installed only by the user: the bot may not post in that server: a DM.
            click = await _swap(fake, sample_files, ELSEWHERE)
            await shows(fake, click, texts.LATE_NOTICE_DM)
            dm = await asyncio.to_thread(
                fake.wait_until, lambda: fake.dm_channels.get(str(BOB.id)), 90, "a DM channel"
            )
            sent = await _posted(fake, dm)
            assert sent.content.startswith("Your clip is ready! Share it: http")
            assert [f.filename for f in sent.files] == ["swapzy.gif"]
            assert not fake.channel_messages(ELSEWHERE.channel_id)

    asyncio.run(scenario())


def test_a_token_that_expires_while_the_job_waits_falls_back_to_the_channel(
    svc: Service, fake_discord: FakeDiscord, sample_files: SampleFiles
) -> None:
    fake = fake_discord
    fake.postable_channels.add(str(SERVER.channel_id))

    async def scenario() -> None:
        async with discord_bot(svc.settings, fake):
            click = await _swap(fake, sample_files, SERVER)
            await shows(fake, click, texts.QUEUED_NEXT)  # no worker yet: it waits
            fake.expire_token(click)
            await asyncio.to_thread(svc.start_worker)
            posted = await _posted(fake, SERVER.channel_id)
            assert posted.content.startswith(f"<@{BOB.id}> your clip is ready!")
            assert [f.filename for f in posted.files] == ["swapzy.gif"]
            refused = [c for c in fake.calls if c.error == "Invalid Webhook Token"]
            assert refused  # it tried the token first, then took the other path

    asyncio.run(scenario())


def test_plan_notices_come_by_dm(svc: Service, fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def scenario() -> None:
        async with discord_bot(svc.settings, fake) as running:
            notifier = DiscordNotifier(running.bot)
            await notifier.notify(str(BOB.id), "payment_failed", "https://billing.test/portal")
            dm = fake.dm_channels[str(BOB.id)]
            [notice] = fake.channel_messages(dm)
            assert notice.content == (
                "Your Swapzy Pro payment failed. Fix it here: https://billing.test/portal"
            )
            fake.closed_dms.add(str(CARL.id))
            await notifier.notify(str(CARL.id), "pro_now", None)  # DMs closed: no error
            refused = fake.calls_to("POST", "/channels/")[-1]
            assert (refused.status, refused.error) == (403, "Cannot send messages to this user")

    asyncio.run(scenario())
