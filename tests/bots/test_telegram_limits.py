"""Telegram's size limits, end to end against the fake Bot API: inputs over the download limit
are refused before any download, results over the upload limit go out as a link."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bots.telegram import texts
from bots.telegram.delivery import TelegramDeliverer
from core.config import Settings
from core.db.models import JobState, SwapJob, new_id
from core.storage import build_storage
from jobs.queues import output_key
from tests.bots.fake_telegram import FakeTelegram
from tests.bots.harness import polling_bot
from tests.bots.telegram_chat import ALICE, CLOUD_LIMITS, MB, exchange
from tests.jobs.service import Service


class CloudSettings(Settings):
    """The fake runs on 127.0.0.1, which the bot takes for a self-hosted Bot API server (2000 MB
    limits); these settings play Telegram's cloud and its 20 MB / 50 MB limits."""

    @property
    def telegram_limits(self) -> tuple[int, int]:
        return CLOUD_LIMITS


def test_files_over_the_download_limit_are_refused_before_any_download(
    svc: Service, fake_telegram: FakeTelegram, face: bytes
) -> None:
    fake, chat = fake_telegram, ALICE.id
    settings = CloudSettings(**svc.values)
    big = bytes(21 * MB)
    refused = texts.INPUT_TOO_BIG.format(size=21.0, limit=20)
    assert "21.0 MB" in refused and "20 MB" in refused

    async def scenario() -> None:
        async with polling_bot(settings):
            await exchange(fake, chat, lambda: fake.send_animation(ALICE, None, big), refused)
            # The big GIF was not kept: a good face still asks for a GIF.
            await exchange(fake, chat, lambda: fake.send_photo(ALICE, None, face), texts.NEED_GIF)
            await exchange(
                fake,
                chat,
                lambda: fake.send_document(ALICE, None, big, "image/jpeg", "huge.jpg"),
                refused,
            )
            assert fake.calls_to("getFile") == []
            assert fake.downloads == []

    asyncio.run(scenario())


def test_a_result_over_the_upload_limit_is_sent_as_a_link(
    tmp_path: Path, fake_telegram: FakeTelegram
) -> None:
    fake, chat = fake_telegram, ALICE.id
    settings = Settings(env="test", data_dir=tmp_path / "var", public_url="http://127.0.0.1:9")
    storage = build_storage(settings)
    fake.add_chat(ALICE.private_chat())

    def finished_job(status_message_id: int) -> SwapJob:
        job = SwapJob(
            id=new_id(),
            state=JobState.SUCCEEDED,
            output_format="mp4",
            reply_to={"chat_id": chat, "status_message_id": status_message_id},
        )
        storage.put_bytes(output_key(job.id, "mp4"), b"x" * 11, "video/mp4")
        return job

    async def scenario() -> None:
        async with fake.make_bot() as bot:
            # 11 bytes over a 10-byte limit: the link, written over the status message.
            status = await bot.send_message(chat, "Swapping faces… 99%")
            job = finished_job(status.message_id)
            link = storage.url(output_key(job.id, "mp4"))
            mark = fake.mark()
            await TelegramDeliverer(bot, storage, upload_limit=10).deliver(job, link)
            [shown] = fake.bot_messages_in(chat)
            assert shown.message_id == status.message_id
            assert shown.content == texts.TOO_BIG_TO_SEND.format(link=link)
            assert [c.method for c in fake.calls[mark:]] == ["editMessageText"]

            # Exactly at the limit: the clip itself, and the status message goes.
            status = await bot.send_message(chat, "Swapping faces… 99%")
            job = finished_job(status.message_id)
            link = storage.url(output_key(job.id, "mp4"))
            await TelegramDeliverer(bot, storage, upload_limit=11).deliver(job, link)
            [sent] = fake.sent_media(chat)
            assert sent.data == b"x" * 11
            assert sent.caption == texts.DONE_CAPTION.format(link=link)
            assert status.message_id not in [m.message_id for m in fake.bot_messages_in(chat)]

    asyncio.run(scenario())


# --- failures ---------------------------------------------------------------------------------
