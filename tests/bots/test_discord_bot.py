"""The Discord bot end to end: the real discord.py client on the fake Discord's gateway and REST
API, the real pipeline (Redis, SQLite, storage) and a real ``swapzy worker`` with the classic
engine. Assertions are on what the user sees."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bots.discord import texts
from core.config import MediaLimits
from gpu_worker.media import load_clip
from tests.bots.discord_harness import answer, discord_bot, followup, service_for_discord, shows
from tests.bots.discord_objects import FakeUser, Place
from tests.bots.discord_payloads import button_click, slash_command
from tests.bots.fake_discord import FakeDiscord
from tests.conftest import SampleFiles
from tests.jobs.service import Service

ALICE = FakeUser(id=301000000000000001, username="alice")
SERVER = Place.guild(channel_id=401000000000000001, guild_id=501000000000000001)


@pytest.fixture
def media(tmp_path: Path, sample_files: SampleFiles) -> dict[str, bytes]:
    blank = tmp_path / "blank.jpg"
    ramp = np.tile(np.linspace(40, 200, 256, dtype=np.uint8), (256, 1))
    Image.fromarray(np.dstack([ramp, ramp, ramp])).save(blank, quality=90)
    return {
        "gif": sample_files.target.read_bytes(),
        "face": sample_files.source.read_bytes(),
        "blank": blank.read_bytes(),
    }


@pytest.fixture
def discord_service(
    tmp_path: Path, redis_url: str, sqlite_url: str, fake_discord: FakeDiscord
) -> Iterator[Service]:
    with service_for_discord(tmp_path, redis_url, sqlite_url, fake_discord) as svc:
        svc.start_worker()
        yield svc


def test_swap_in_a_server_channel_gives_the_clip_with_progress_and_buttons(
    discord_service: Service, fake_discord: FakeDiscord, media: dict[str, bytes], tmp_path: Path
) -> None:
    fake = fake_discord

    async def scenario() -> None:
        async with discord_bot(discord_service.settings, fake):
            gif = fake.upload("dance.gif", media["gif"], "image/gif")
            face = fake.upload("me.jpg", media["face"], "image/jpeg")
            first = fake.dispatch(slash_command("swap", ALICE, SERVER, {"gif": gif, "face": face}))
            consent = await answer(fake, first)
            assert consent.ephemeral and consent.content == texts.CONSENT
            assert consent.buttons == [texts.CONSENT_YES]
            click = fake.dispatch(button_click(consent, consent.custom_ids()[0], ALICE, SERVER))
            status = await answer(fake, click)
            assert not status.ephemeral  # the swap happens in the open
            result = await followup(fake, click)
            assert result.content.startswith("Here you go! Share it: http://127.0.0.1:9/m/jobs/")
            assert result.buttons == [texts.BUTTON_ANOTHER_FACE, texts.BUTTON_PRO]
            [clip] = result.files
            assert clip.filename == "swapzy.gif"
            out = tmp_path / "received.gif"
            out.write_bytes(clip.data)
            received = load_clip(out, MediaLimits())
            assert len(received) == 24 and received.size == (320, 240)
            await shows(fake, click, texts.DONE_STATUS)
            seen = fake.original(click).history  # type: ignore[union-attr]
            assert seen[1] == texts.FETCHING
            assert any(t.startswith(("Queued", "Swapping faces…")) for t in seen)
            assert seen[-2:] == [texts.SENDING, texts.DONE_STATUS]
            assert all(a != b for a, b in itertools.pairwise(seen))  # no idle edits
            await shows(fake, first, texts.CONSENT_THANKS)

            # "Get Pro" on the result: only the one who pressed it sees the answer.
            pro = fake.dispatch(button_click(result, result.custom_ids()[1], ALICE, SERVER))
            offer = await answer(fake, pro)
            assert offer.ephemeral and offer.content == texts.PRO_SOON

            # The second swap asks nothing more: straight to the deferral.
            again = fake.dispatch(slash_command("swap", ALICE, SERVER, {"gif": gif, "face": face}))
            assert (await answer(fake, again)).loading or fake.interaction(again).response_type == 5
            second = await followup(fake, again)
            assert [f.filename for f in second.files] == ["swapzy.gif"]
            for iid in (first, click, pro, again):
                took = fake.interaction(iid).answered_after_s
                assert took is not None and took < 3.0  # the fake refuses later answers anyway

    asyncio.run(scenario())


def test_bad_input_is_answered_at_once_and_only_to_the_user(
    discord_service: Service, fake_discord: FakeDiscord, media: dict[str, bytes]
) -> None:
    fake = fake_discord

    async def scenario() -> None:
        async with discord_bot(discord_service.settings, fake):
            face = fake.upload("me.jpg", media["face"], "image/jpeg")
            pdf = fake.upload("cat.pdf", b"%PDF-1.7\n" + b"0" * 500, "application/pdf")
            wrong = fake.dispatch(slash_command("swap", ALICE, SERVER, {"gif": pdf, "face": face}))
            told = await answer(fake, wrong)
            assert told.ephemeral and fake.interaction(wrong).response_type == 4
            assert told.content == texts.WRONG_GIF_TYPE.format(
                name="cat.pdf", kind="`application/pdf`"
            )

            huge = fake.upload("long.gif", b"GIF89a" + bytes(21 * 2**20), "image/gif")
            big = fake.dispatch(slash_command("swap", ALICE, SERVER, {"gif": huge, "face": face}))
            told = await answer(fake, big)
            assert told.ephemeral
            assert (
                told.content
                == "**long.gif** is 21.0 MB; I can take files up to 20 MB. Try a smaller one."
            )
            assert not any(huge["id"] in c.path for c in fake.calls)  # never downloaded

            gif = fake.upload("dance.gif", media["gif"], "image/gif")
            odd = fake.dispatch(
                slash_command("swap", ALICE, SERVER, {"gif": gif, "face": face, "faces": "left"})
            )
            assert (await answer(fake, odd)).content == texts.BAD_FACES

            blank = fake.upload("wall.jpg", media["blank"], "image/jpeg")
            noface = fake.dispatch(
                slash_command("swap", ALICE, SERVER, {"gif": gif, "face": blank})
            )
            consent = await answer(fake, noface)
            click = fake.dispatch(button_click(consent, consent.custom_ids()[0], ALICE, SERVER))
            sorry = await followup(fake, click)
            assert sorry.ephemeral
            assert sorry.content == texts.FAILURES["no_face_in_source"]
            status = fake.original(click)
            assert status is not None  # the public "thinking" answer goes away:
            await asyncio.to_thread(fake.wait_until, lambda: status.deleted, 10, "deletion")

    asyncio.run(scenario())


def test_a_clip_over_the_upload_limit_comes_as_a_link_that_unfurls(
    discord_service: Service, fake_discord: FakeDiscord, media: dict[str, bytes]
) -> None:
    fake = fake_discord
    fake.upload_limit = 64 * 1024  # what this interaction's attachment_size_limit says too

    async def scenario() -> None:
        async with discord_bot(discord_service.settings, fake):
            gif = fake.upload("dance.gif", media["gif"], "image/gif")
            face = fake.upload("me.jpg", media["face"], "image/jpeg")
            options = {"gif": gif, "face": face}
            first = fake.dispatch(
                slash_command("swap", ALICE, SERVER, options, size_limit=fake.upload_limit)
            )
            consent = await answer(fake, first)
            click = fake.dispatch(
                button_click(consent, consent.custom_ids()[0], ALICE, SERVER, fake.upload_limit)
            )
            result = await followup(fake, click)
            assert result.files == []
            assert result.content.startswith(
                "Your clip is ready, but it's bigger than Discord lets me upload here (0.0625 MB). "
                "Watch and share it: http://127.0.0.1:9/m/jobs/"
            )
            assert result.buttons == [texts.BUTTON_ANOTHER_FACE, texts.BUTTON_PRO]
            assert not [c for c in fake.calls if c.status == 413]  # it never tried to upload

    asyncio.run(scenario())
