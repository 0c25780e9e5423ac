"""The Telegram bot's commands, buttons and edge cases, end to end: the real PTB Application
polling the fake Bot API, the real pipeline (Redis, SQLite, local storage) and, where a clip is
made, a real ``swapzy worker`` with the ``noop`` engine. Assertions are on what the user sees.

Each test has a Valkey server of its own (``valkey``), not a database on a shared Redis: another
test run on the machine would otherwise take these jobs with its worker, or flush them.

Every step waits for the bot's answer to it (calls recorded after a mark), never for an older
message with the same text; the bot handles updates concurrently, so a test that sent two
things without waiting would race with itself.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bots.telegram import texts
from core.db.models import Channel, ChannelIdentity, MediaAsset, SwapJob
from core.db.session import Database
from tests.bots.fake_telegram import FakeTelegram
from tests.bots.harness import polling_bot
from tests.bots.telegram_chat import (
    ALICE,
    BOB,
    GROUP,
    agree,
    bot_says,
    clip_sent,
    exchange,
    job_of,
    shows_text,
)
from tests.bots.telegram_objects import FakeUser
from tests.conftest import SampleFiles
from tests.jobs.service import Service, wait_for

# --- the service and the bot ----------------------------------------------------------------


async def user_id_of(db: Database, tg_user: FakeUser) -> str | None:
    async with db.sessions() as session:
        return await session.scalar(
            select(ChannelIdentity.user_id).where(
                ChannelIdentity.channel == Channel.TELEGRAM,
                ChannelIdentity.external_id == str(tg_user.id),
            )
        )


async def delivered(db: Database, job_id: str) -> bool:
    async with db.sessions() as session:
        job = await session.get(SwapJob, job_id)
        return job is not None and job.delivered_at is not None


# --- commands -------------------------------------------------------------------------------


def test_help_status_and_history(
    svc: Service, fake_telegram: FakeTelegram, sample_files: SampleFiles, face: bytes
) -> None:
    fake, chat = fake_telegram, ALICE.id
    svc.start_worker()

    async def scenario() -> None:
        async with polling_bot(svc.settings):
            shown = await exchange(
                fake, chat, lambda: fake.send_command(ALICE, None, "/help"), "How it works"
            )
            assert shown.content == texts.HELP
            for command in ("/status", "/history", "/cancel", "/delete", "/pro"):
                assert command in shown.content
            await exchange(
                fake, chat, lambda: fake.send_command(ALICE, None, "/status"), texts.NO_JOBS
            )
            await exchange(
                fake, chat, lambda: fake.send_command(ALICE, None, "/history"), texts.NO_HISTORY
            )

            # The GIF and the face sent as files (no Telegram conversion) work as well.
            gif = sample_files.target.read_bytes()
            await exchange(
                fake,
                chat,
                lambda: fake.send_document(ALICE, None, gif, "image/gif", "dance.gif"),
                texts.NEED_FACE,
            )
            question = await exchange(
                fake,
                chat,
                lambda: fake.send_document(ALICE, None, face, "image/jpeg", "me.jpg"),
                texts.CONSENT,
            )
            mark = agree(fake, ALICE, question)
            clip = await clip_sent(fake, chat, after=mark)
            job_id = job_of(clip)

            await exchange(
                fake, chat, lambda: fake.send_command(ALICE, None, "/status"), texts.NO_JOBS
            )
            history = await exchange(
                fake, chat, lambda: fake.send_command(ALICE, None, "/history"), "• "
            )
            [line] = history.content.splitlines()
            share_link = str(clip.caption).removeprefix("Here you go! Share it: ")
            assert line.startswith("• ")
            assert f": http://127.0.0.1:9/m/jobs/{job_id}/swapzy.mp4?" in line
            assert share_link.split("?")[0] in line

    asyncio.run(scenario())


def test_cancel_forgets_what_was_sent(
    svc: Service, fake_telegram: FakeTelegram, gif_mp4: bytes, face: bytes
) -> None:
    fake, chat = fake_telegram, ALICE.id

    async def scenario() -> None:
        async with polling_bot(svc.settings):
            await exchange(
                fake,
                chat,
                lambda: fake.send_command(ALICE, None, "/cancel"),
                texts.NOTHING_TO_CANCEL,
            )
            await exchange(
                fake, chat, lambda: fake.send_animation(ALICE, None, gif_mp4), texts.NEED_FACE
            )
            await exchange(
                fake,
                chat,
                lambda: fake.send_command(ALICE, None, "/cancel"),
                texts.CANCELLED.format(count=0),
            )
            # The GIF is forgotten: a face now asks for a GIF again (no consent question).
            await exchange(fake, chat, lambda: fake.send_photo(ALICE, None, face), texts.NEED_GIF)
            assert not any(texts.CONSENT in m.content for m in fake.bot_messages_in(chat))
            assert not fake.calls_to("getFile")

    asyncio.run(scenario())


def test_delete_asks_first_then_removes_every_file_and_job(
    svc: Service, fake_telegram: FakeTelegram, gif_mp4: bytes, face: bytes
) -> None:
    fake, chat = fake_telegram, ALICE.id
    media_root = svc.settings.media_dir
    svc.start_worker()

    async def scenario() -> None:
        db = Database.connect(svc.settings.sqlalchemy_url)
        try:
            async with polling_bot(svc.settings):
                await exchange(
                    fake, chat, lambda: fake.send_animation(ALICE, None, gif_mp4), texts.NEED_FACE
                )
                question = await exchange(
                    fake, chat, lambda: fake.send_photo(ALICE, None, face), texts.CONSENT
                )
                clip = await clip_sent(fake, chat, after=agree(fake, ALICE, question))
                job_id = job_of(clip)
                await wait_for(lambda: delivered(db, job_id), "the delivery to be recorded")
                stored = sorted(p for p in (media_root / "jobs" / job_id).iterdir())
                assert [p.name for p in stored] == ["source.jpg", "swapzy.mp4", "target.mp4"]

                # "Keep them": nothing goes.
                ask = await exchange(
                    fake,
                    chat,
                    lambda: fake.send_command(ALICE, None, "/delete"),
                    texts.DELETE_CONFIRM,
                )
                assert ask.buttons == ((texts.DELETE_YES, texts.DELETE_NO),)
                await exchange(
                    fake,
                    chat,
                    lambda: fake.press_button(
                        ALICE, None, ask.message_id, ask.callback_data[texts.DELETE_NO]
                    ),
                    texts.DELETE_KEPT,
                )
                assert all(p.is_file() for p in stored)
                assert await user_jobs(db) == 1

                # "Yes": the uploads and the clip are gone, from the disk and the database.
                ask = await exchange(
                    fake,
                    chat,
                    lambda: fake.send_command(ALICE, None, "/delete"),
                    texts.DELETE_CONFIRM,
                )
                await exchange(
                    fake,
                    chat,
                    lambda: fake.press_button(
                        ALICE, None, ask.message_id, ask.callback_data[texts.DELETE_YES]
                    ),
                    texts.DELETED.format(count=3),
                )
                assert not any(p.exists() for p in stored)
                assert [p for p in media_root.rglob("*") if p.is_file()] == []
                assert await user_jobs(db) == 0
                assert await user_assets(db) == 0
                await exchange(
                    fake,
                    chat,
                    lambda: fake.send_command(ALICE, None, "/history"),
                    texts.NO_HISTORY,
                )
                # Every button press was answered (no spinning button in the app).
                assert all(answer is not None for answer in fake.callback_answers.values())
        finally:
            await db.close()

    async def user_jobs(db: Database) -> int:
        user_id = await user_id_of(db, ALICE)
        async with db.sessions() as session:
            count = select(func.count()).select_from(SwapJob).where(SwapJob.user_id == user_id)
            return int(await session.scalar(count) or 0)

    async def user_assets(db: Database) -> int:
        user_id = await user_id_of(db, ALICE)
        async with db.sessions() as session:
            count = (
                select(func.count()).select_from(MediaAsset).where(MediaAsset.user_id == user_id)
            )
            return int(await session.scalar(count) or 0)

    asyncio.run(scenario())


# --- what the user sends ----------------------------------------------------------------------


def test_a_face_in_reply_to_an_earlier_gif_makes_a_clip_of_that_gif(
    svc: Service, fake_telegram: FakeTelegram, sample_files: SampleFiles, face: bytes
) -> None:
    fake, chat = fake_telegram, ALICE.id
    svc.start_worker()

    async def scenario() -> None:
        async with polling_bot(svc.settings):
            gif = sample_files.target.read_bytes()
            mark = fake.mark()
            gif_message = fake.send_document(ALICE, None, gif, "image/gif", "dance.gif")
            await bot_says(fake, chat, texts.NEED_FACE, after=mark)
            question = await exchange(
                fake, chat, lambda: fake.send_photo(ALICE, None, face), texts.CONSENT
            )
            first = await clip_sent(fake, chat, after=agree(fake, ALICE, question))

            # Nothing is waiting now: a face on its own asks for a GIF ...
            await exchange(fake, chat, lambda: fake.send_photo(ALICE, None, face), texts.NEED_GIF)
            await exchange(
                fake,
                chat,
                lambda: fake.send_command(ALICE, None, "/cancel"),
                texts.CANCELLED.format(count=0),
            )
            # ... but a face in reply to the GIF from before makes a clip of it, no questions.
            mark = fake.mark()
            gif_id = gif_message["message"]["message_id"]
            fake.send_photo(ALICE, None, face, reply_to=gif_id)
            second = await clip_sent(fake, chat, after=mark)
            assert job_of(second) != job_of(first)
            assert second.data == first.data  # the same GIF and face through the noop engine
            assert sum(texts.CONSENT in c.params.get("text", "") for c in fake.calls) == 1

    asyncio.run(scenario())


def test_an_unexpected_error_gets_a_kind_answer_and_the_bot_keeps_serving(
    svc: Service, fake_telegram: FakeTelegram, gif_mp4: bytes, face: bytes
) -> None:
    fake, chat = fake_telegram, ALICE.id
    svc.start_worker()

    async def scenario() -> None:
        async with polling_bot(svc.settings):
            # A handler fails (its reply gets a 500): the error handler says sorry.
            fake.fail_next("sendMessage", 500, "Internal Server Error")
            await exchange(fake, chat, lambda: fake.send_command(ALICE, None, "/help"), texts.OOPS)
            assert not any(m.content == texts.HELP for m in fake.bot_messages_in(chat))
            await exchange(
                fake, chat, lambda: fake.send_command(ALICE, None, "/start"), texts.START
            )

            # Telegram fails to hand over a file: the status message says sorry ...
            mark = fake.mark()
            gif_message = fake.send_animation(ALICE, None, gif_mp4)
            await bot_says(fake, chat, texts.NEED_FACE, after=mark)
            question = await exchange(
                fake, chat, lambda: fake.send_photo(ALICE, None, face), texts.CONSENT
            )
            fake.fail_next("getFile", 500, "Internal Server Error")
            mark = agree(fake, ALICE, question)
            oops = await bot_says(fake, chat, texts.OOPS, after=mark)
            assert oops.edited  # written over "Fetching your files…", not a second message
            assert not fake.calls_to("sendAnimation")
            # ... the bot still answers, and trying again (the face in reply to the GIF) makes
            # the clip.
            await exchange(
                fake, chat, lambda: fake.send_command(ALICE, None, "/start"), texts.START
            )
            mark = fake.mark()
            fake.send_photo(ALICE, None, face, reply_to=gif_message["message"]["message_id"])
            await clip_sent(fake, chat, after=mark)

    asyncio.run(scenario())


# --- groups -----------------------------------------------------------------------------------


def test_in_a_group_swap_in_reply_to_a_gif_then_a_face_makes_the_clip(
    svc: Service, fake_telegram: FakeTelegram, gif_mp4: bytes, face: bytes
) -> None:
    fake, group = fake_telegram, GROUP.id
    svc.start_worker()

    async def scenario() -> None:
        async with polling_bot(svc.settings):
            # Chatter in a group is not for the bot: no "I can only use GIFs" there.
            mark = fake.mark()
            fake.send_text(ALICE, GROUP, "lol look at this")
            await exchange(
                fake, group, lambda: fake.send_command(ALICE, GROUP, "/help"), texts.HELP
            )
            assert not any(shows_text(c, group, texts.NOT_MEDIA) for c in fake.calls[mark:])

            # Bob posts a GIF; Alice picks it with /swap in reply, then sends her face.
            bob_gif = fake.send_animation(BOB, GROUP, gif_mp4)
            await bot_says(fake, group, texts.NEED_FACE, after=mark)
            gif_id = bob_gif["message"]["message_id"]
            picked = await exchange(
                fake,
                group,
                lambda: fake.send_command(ALICE, GROUP, "/swap", reply_to=gif_id),
                texts.NEED_FACE,
            )
            assert picked.raw["reply_to_message"]["from"]["id"] == ALICE.id
            question = await exchange(
                fake, group, lambda: fake.send_photo(ALICE, GROUP, face), texts.CONSENT
            )
            clip = await clip_sent(fake, group, after=agree(fake, ALICE, question, GROUP))
            assert clip.chat_id == group
            assert fake.sent_media(ALICE.id) == []  # nothing went to Alice's private chat

    asyncio.run(scenario())
