"""The other commands, and the template gallery end to end: autocomplete, ``/swap-template``,
the result's "Another face" modal, ``/help``, ``/pro``, ``/usage``, ``/delete-my-data`` and the
server admins' ``/swapzy-settings``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bots.discord import texts
from core.db.models import Channel
from core.db.session import Database
from core.login_links import redeem_login_token
from jobs.accounts import user_for
from tests.bots.discord_harness import answer, discord_bot, followup, service_for_discord, shows
from tests.bots.discord_objects import FakeUser, Message, Place
from tests.bots.discord_payloads import button_click, modal_submit, slash_command
from tests.bots.fake_discord import FakeDiscord
from tests.conftest import SampleFiles
from tests.jobs.service import Service

CARA = FakeUser(id=303000000000000003, username="cara")
ADMIN = FakeUser(id=304000000000000004, username="boss")
SERVER = Place.guild(channel_id=404000000000000001, guild_id=504000000000000001)
OTHER_CHANNEL = Place.guild(channel_id=404000000000000002, guild_id=504000000000000001)
AS_ADMIN = Place.guild(channel_id=404000000000000001, guild_id=504000000000000001, admin=True)
DM = Place("dm", channel_id=405000000000000001)


@pytest.fixture
def svc(
    tmp_path: Path, redis_url: str, sqlite_url: str, fake_discord: FakeDiscord
) -> Iterator[Service]:
    links = {"pro": "https://buy.stripe.test/pro"}
    with service_for_discord(
        tmp_path, redis_url, sqlite_url, fake_discord, stripe_payment_links=links
    ) as running:
        yield running


async def _consent(fake: FakeDiscord, iid: str, user: FakeUser, place: Place) -> str:
    consent = await answer(fake, iid)
    assert consent.content == texts.CONSENT
    return fake.dispatch(button_click(consent, consent.custom_ids()[0], user, place))


async def _say(fake: FakeDiscord, payload: dict[str, object]) -> Message:
    return await answer(fake, fake.dispatch(payload))


def test_templates_autocomplete_swap_and_another_face_in_a_dm(
    svc: Service, fake_discord: FakeDiscord, sample_files: SampleFiles
) -> None:
    fake = fake_discord
    svc.start_worker()

    async def scenario() -> None:
        async with discord_bot(svc.settings, fake):
            typing = fake.dispatch(
                slash_command("swap-template", CARA, DM, {"template": "astro"}, focused="template")
            )
            choices = await asyncio.to_thread(
                fake.wait_until, lambda: fake.interaction(typing).choices, 30, "choices"
            )
            assert choices == [
                {"name": "Astronaut pan", "value": "astronaut-pan"},
                {"name": "Astronaut zoom", "value": "astronaut-zoom"},
            ]
            face = fake.upload("me.png", sample_files.source.read_bytes(), "image/png")
            unknown = await _say(
                fake, slash_command("swap-template", CARA, DM, {"template": "cat", "face": face})
            )
            assert unknown.ephemeral
            assert unknown.content.startswith("There is no template called “cat”; the templates")

            first = fake.dispatch(
                slash_command("swap-template", CARA, DM, {"template": "hopper-sway", "face": face})
            )
            click = await _consent(fake, first, CARA, DM)
            result = await followup(fake, click)
            assert [f.filename for f in result.files] == ["swapzy.gif"]

            # "Another face": a modal takes a new photo; the same GIF is swapped again.
            again = fake.dispatch(button_click(result, result.custom_ids()[0], CARA, DM))
            modal = await asyncio.to_thread(
                fake.wait_until, lambda: fake.interaction(again).modal, 30, "the modal"
            )
            assert modal["title"] == texts.ANOTHER_FACE_TITLE
            photo = fake.upload("friend.jpg", sample_files.source.read_bytes(), "image/jpeg")
            upload = {"type": 19, "custom_id": "face", "values": [photo["id"]]}
            submitted = fake.dispatch(
                modal_submit(
                    modal["custom_id"],
                    [{"type": 18, "component": upload}],
                    CARA,
                    DM,
                    attachments=[photo],
                )
            )
            second = await followup(fake, submitted)
            assert [f.filename for f in second.files] == ["swapzy.gif"]
            assert second.content.startswith("Here you go! Share it: http")

    asyncio.run(scenario())


def test_help_pro_usage_and_delete_my_data(
    svc: Service, fake_discord: FakeDiscord, sample_files: SampleFiles
) -> None:
    fake = fake_discord

    async def scenario() -> None:
        async with discord_bot(svc.settings, fake):
            shown = await _say(fake, slash_command("help", CARA, SERVER))
            assert shown.ephemeral and shown.content == texts.HELP
            shown = await _say(fake, slash_command("pro", CARA, DM))
            assert shown.ephemeral
            assert shown.content.startswith(
                "Get Swapzy Pro (longer GIFs, HD, a priority lane): "
                "https://buy.stripe.test/pro?client_reference_id="
            )
            shown = await _say(fake, slash_command("usage", CARA, SERVER))
            assert shown.content == (
                "**Plan:** Free\n**Swaps left:** 5\n**Swaps in the last 24 hours:** 0\n"
                + texts.USAGE_NONE
            )
            shown = await _say(fake, slash_command("web", CARA, SERVER))
            assert shown.ephemeral  # the link signs in whoever opens it: only Cara sees it
            assert shown.content.startswith("Your sign-in link for the Swapzy website.")
            link = shown.content.split("\n")[-1]
            base = svc.settings.public_url.rstrip("/")
            assert link.startswith(f"{base}/login/")
            db = Database.connect(svc.settings.sqlalchemy_url)
            try:
                cara = await user_for(db, Channel.DISCORD, str(CARA.id))
                assert await redeem_login_token(db, link.rsplit("/", 1)[-1]) == cara
                assert await redeem_login_token(db, link.rsplit("/", 1)[-1]) is None  # once
            finally:
                await db.close()

            gif = fake.upload("dance.gif", sample_files.target.read_bytes(), "image/gif")
            face = fake.upload("me.jpg", sample_files.source.read_bytes(), "image/jpeg")
            first = fake.dispatch(slash_command("swap", CARA, SERVER, {"gif": gif, "face": face}))
            click = await _consent(fake, first, CARA, SERVER)
            await shows(fake, click, texts.QUEUED_NEXT)  # no worker: it waits
            shown = await _say(fake, slash_command("usage", CARA, SERVER))
            assert (
                "**Swaps left:** 4\n**Swaps in the last 24 hours:** 1\n**Recent clips:**\n• <t:"
                in (shown.content)
            )
            assert shown.content.endswith(":R>: queued")

            ask = await _say(fake, slash_command("delete-my-data", CARA, SERVER))
            assert ask.ephemeral and ask.content == texts.DELETE_CONFIRM
            assert ask.buttons == [texts.DELETE_YES, texts.DELETE_NO]
            fake.dispatch(button_click(ask, ask.custom_ids()[1], CARA, SERVER))
            await asyncio.to_thread(
                fake.wait_until, lambda: ask.content == texts.DELETE_KEPT, 30, "kept"
            )
            ask = await _say(fake, slash_command("delete-my-data", CARA, SERVER))
            fake.dispatch(button_click(ask, ask.custom_ids()[0], CARA, SERVER))
            done = "Deleted 2 file(s) and 1 clip(s). Your data is gone."
            await asyncio.to_thread(fake.wait_until, lambda: ask.content == done, 30, "deleted")
            assert ask.components == []
            await shows(fake, click, texts.CANCELLED)  # the waiting swap went with the data

    asyncio.run(scenario())
    engine = create_engine(svc.settings.sqlalchemy_url)
    with engine.connect() as conn:
        kinds = [row[0] for row in conn.execute(text("SELECT kind FROM user_events ORDER BY id"))]
    engine.dispose()
    assert kinds == ["face_consent", "data_deleted"]


def test_server_admins_choose_channels_and_a_daily_cap(
    svc: Service, fake_discord: FakeDiscord, sample_files: SampleFiles
) -> None:
    fake = fake_discord

    async def scenario() -> None:
        async with discord_bot(svc.settings, fake):
            refused = await _say(fake, slash_command("swapzy-settings", CARA, SERVER, sub=["show"]))
            assert refused.ephemeral and refused.content == texts.SETTINGS_ADMINS_ONLY
            shown = await _say(
                fake,
                slash_command(
                    "swapzy-settings",
                    ADMIN,
                    AS_ADMIN,
                    {"channel": f"<#{SERVER.channel_id}>"},
                    sub=["allow-channel"],
                ),
            )
            assert (
                shown.content
                == f"**Swaps allowed in:** <#{SERVER.channel_id}>\n**Daily cap:** none"
            )
            shown = await _say(
                fake,
                slash_command("swapzy-settings", ADMIN, AS_ADMIN, {"swaps": 1}, sub=["daily-cap"]),
            )
            assert shown.content.endswith("**Daily cap:** 1")

            gif = fake.upload("dance.gif", sample_files.target.read_bytes(), "image/gif")
            face = fake.upload("me.jpg", sample_files.source.read_bytes(), "image/jpeg")
            options = {"gif": gif, "face": face}
            elsewhere = await _say(fake, slash_command("swap", CARA, OTHER_CHANNEL, options))
            assert elsewhere.ephemeral
            assert (
                elsewhere.content
                == f"Swaps aren't enabled in this channel. Try <#{SERVER.channel_id}>."
            )
            first = fake.dispatch(slash_command("swap", CARA, SERVER, options))
            click = await _consent(fake, first, CARA, SERVER)
            await shows(fake, click, texts.QUEUED_NEXT)
            capped = await _say(fake, slash_command("swap", CARA, SERVER, options))
            assert capped.ephemeral
            assert capped.content == texts.SERVER_CAP_REACHED.format(cap=1)

            shown = await _say(
                fake,
                slash_command(
                    "swapzy-settings",
                    ADMIN,
                    AS_ADMIN,
                    {"channel": f"<#{SERVER.channel_id}>"},
                    sub=["remove-channel"],
                ),
            )
            assert shown.content == "**Swaps allowed in:** every channel\n**Daily cap:** 1"

    asyncio.run(scenario())
