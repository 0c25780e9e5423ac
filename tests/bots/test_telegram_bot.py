"""The Telegram bot end to end: the real PTB Application polling a local server that speaks the
Bot API, the real pipeline (Redis, SQLite, storage) and a real ``swapzy worker`` with the
classic engine. Assertions are on what the user sees in the chat."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bots.telegram import texts
from gpu_worker.media import load_clip, save_clip
from tests.bots.fake_telegram import FakeTelegram
from tests.bots.harness import polling_bot
from tests.bots.telegram_objects import ChatMessage, FakeUser
from tests.conftest import SampleFiles
from tests.jobs.service import Service, service

ALICE = FakeUser(id=1001, first_name="Alice", username="alice")


@pytest.fixture
def clips(tmp_path: Path, sample_files: SampleFiles) -> dict[str, bytes]:
    """The sample GIF as Telegram delivers it (MP4), the face photo, and a face-less photo."""
    from core.config import MediaLimits

    mp4 = tmp_path / "sample.mp4"
    save_clip(load_clip(sample_files.target, MediaLimits()), mp4)
    blank = tmp_path / "blank.jpg"
    ramp = np.tile(np.linspace(40, 200, 256, dtype=np.uint8), (256, 1))
    Image.fromarray(np.dstack([ramp, ramp, ramp])).save(blank, quality=90)
    return {
        "gif": mp4.read_bytes(),
        "face": sample_files.source.read_bytes(),
        "blank": blank.read_bytes(),
    }


@pytest.fixture
def telegram_service(
    tmp_path: Path, redis_url: str, sqlite_url: str, fake_telegram: FakeTelegram
) -> Iterator[Service]:
    with service(
        tmp_path,
        redis_url,
        sqlite_url,
        engine="classic",
        telegram_token=fake_telegram.token,
        telegram_api_url=fake_telegram.url,
    ) as svc:
        svc.start_worker()
        yield svc


async def says(fake: FakeTelegram, chat_id: int, text: str, timeout: float = 30) -> ChatMessage:
    """Wait until the bot's messages in the chat include one showing ``text`` now."""

    def find() -> ChatMessage | None:
        return next(
            (m for m in fake.bot_messages_in(chat_id) if text in (m.text or m.caption or "")),
            None,
        )

    await asyncio.to_thread(fake.wait_until, lambda: find() is not None, timeout)
    found = find()
    assert found is not None
    return found


def texts_seen(fake: FakeTelegram, chat_id: int) -> list[str]:
    """Every text the bot's status messages showed, edits included, in order."""
    seen: list[str] = []
    for call in fake.calls:
        status_call = call.method in ("sendMessage", "editMessageText")
        if call.ok and status_call and int(call.params["chat_id"]) == chat_id:
            seen.append(str(call.params["text"]))
    return seen


def test_gif_then_face_gives_the_swapped_clip_with_link_and_buttons(
    telegram_service: Service, fake_telegram: FakeTelegram, clips: dict[str, bytes], tmp_path: Path
) -> None:
    fake, chat = fake_telegram, ALICE.id

    async def scenario() -> None:
        async with polling_bot(telegram_service.settings):
            fake.send_command(ALICE, None, "/start")
            await says(fake, chat, texts.START.splitlines()[0])
            fake.send_animation(ALICE, None, clips["gif"])
            await says(fake, chat, texts.NEED_FACE)
            fake.send_photo(ALICE, None, clips["face"])
            consent = await says(fake, chat, texts.CONSENT)
            assert consent.buttons == ((texts.CONSENT_YES, texts.CONSENT_NO),)
            fake.press_button(ALICE, None, consent.message_id, "consent:yes")

            sent = await fake.await_call("sendAnimation", timeout=60)
            assert sent.ok
            result = fake.sent_media(chat)[-1]
            assert result.caption is not None
            assert result.caption.startswith("Here you go! Share it: http://127.0.0.1:9/m/jobs/")
            markup: dict[str, Any] = result.reply_markup or {}
            labels = [b["text"] for row in markup["inline_keyboard"] for b in row]
            assert labels == [texts.BUTTON_ANOTHER_FACE, texts.BUTTON_ANOTHER_GIF, texts.BUTTON_PRO]
            out = tmp_path / "received.mp4"
            out.write_bytes(result.data)
            from core.config import MediaLimits

            clip = load_clip(out, MediaLimits())
            assert len(clip) == 24 and clip.size == (320, 240)

            seen = texts_seen(fake, chat)
            assert any(t.startswith("Swapping faces…") or t.startswith("Queued") for t in seen)
            assert texts.SENDING in seen
            assert all(a != b for a, b in itertools.pairwise(seen))  # no idle edits
            # The status message is gone; the clip stays.
            await fake.await_call("deleteMessage")
            assert not any(
                (m.text or "").startswith(("Swapping", "Queued", "Sending"))
                for m in fake.bot_messages_in(chat)
            )
            assert fake.calls_to("sendChatAction")

            # "Another face for this GIF": no second consent question, straight to the swap.
            mark = fake.mark()
            fake.press_button(ALICE, None, result.message_id, f"again_face:{_job_of(result)}")
            await fake.await_call(
                "sendMessage", lambda c: c.params.get("text") == texts.NEED_FACE, after=mark
            )
            mark = fake.mark()
            fake.send_photo(ALICE, None, clips["face"])
            await fake.await_call("sendAnimation", timeout=60, after=mark)
            assert len(fake.sent_media(chat)) == 2

    asyncio.run(scenario())


def test_errors_are_told_in_words(
    telegram_service: Service, fake_telegram: FakeTelegram, clips: dict[str, bytes]
) -> None:
    fake, chat = fake_telegram, ALICE.id

    async def scenario() -> None:
        async with polling_bot(telegram_service.settings):
            fake.send_text(ALICE, None, "hello?")
            await says(fake, chat, texts.NOT_MEDIA)
            fake.send_photo(ALICE, None, clips["blank"])
            await says(fake, chat, texts.NEED_GIF)
            fake.send_animation(ALICE, None, clips["gif"])
            consent = await says(fake, chat, texts.CONSENT)
            fake.press_button(ALICE, None, consent.message_id, "consent:yes")
            await says(fake, chat, texts.FAILURES["no_face_in_source"], timeout=60)

            fake.send_command(ALICE, None, "/pro")
            await says(fake, chat, texts.PRO_SOON)
            fake.send_command(ALICE, None, "/swap")
            await says(fake, chat, texts.SWAP_NEEDS_REPLY)

    asyncio.run(scenario())


def _job_of(media: Any) -> str:
    caption = str(media.caption)
    return caption.split("/m/jobs/")[1].split("/", maxsplit=1)[0]
