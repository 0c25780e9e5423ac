"""The swap flow in a chat: collect a GIF and a face (either order, replies, /swap), ask for
consent once, submit through ``jobs.submit``, then keep one status message up to date."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from sqlalchemy import select
from telegram import Animation, Bot, Document, Message, Video, VideoNote
from telegram.constants import ChatAction

from bots.telegram import texts
from bots.telegram.chat import PRO_BUTTON, StatusLine, buttons, edit_or_send
from bots.telegram.pending import Pending, PendingStore, TgFile
from core.config import Settings
from core.db.models import Channel, JobState, Lane, User
from core.db.session import Database
from core.errors import InputError
from core.storage import Storage
from jobs import accounts
from jobs.contract import MediaInput, SwapRequest
from jobs.status import job_status
from jobs.submit import Submitter

log = logging.getLogger(__name__)

WATCH_EVERY_S = 0.5
CHAT_ACTION_EVERY_S = 4.0  # a chat action shows for at most 5 s
WATCH_FOR_S = 30 * 60


@dataclass(frozen=True)
class BotResources:
    settings: Settings
    db: Database
    storage: Storage
    submitter: Submitter
    pending: PendingStore
    queue: object  # ArqRedis (job_status reads it)


def gif_of(message: Message) -> TgFile | None:
    """The clip in a message: an animation (Telegram sends GIFs as MP4), a video, a video note,
    or a GIF/MP4/WebM sent as a file."""
    media: Animation | Video | VideoNote | Document | None = (
        message.animation or message.video or message.video_note
    )
    if media is None and message.document is not None:
        mime = (message.document.mime_type or "").lower()
        if mime in ("image/gif", "video/mp4", "video/webm", "image/webp"):
            media = message.document
    if media is None:
        return None
    return TgFile(media.file_id, media.file_unique_id, media.file_size or 0, message.message_id)


def face_of(message: Message) -> TgFile | None:
    """The face photo in a message: a photo (largest size) or an image sent as a file."""
    if message.photo:
        best = message.photo[-1]
        return TgFile(best.file_id, best.file_unique_id, best.file_size or 0, message.message_id)
    document = message.document
    if document is not None and (document.mime_type or "") in (
        "image/jpeg",
        "image/png",
        "image/webp",
    ):
        return TgFile(
            document.file_id, document.file_unique_id, document.file_size or 0, message.message_id
        )
    return None


class SwapFlow:
    def __init__(self, res: BotResources) -> None:
        self.res = res
        self.download_limit, self.upload_limit = res.settings.telegram_limits
        self._watchers: set[asyncio.Task[None]] = set()

    async def got_gif(self, bot: Bot, message: Message, gif: TgFile) -> None:
        reply_face = face_of(message.reply_to_message) if message.reply_to_message else None
        await self._got(bot, message, [("face", reply_face), ("gif", gif)])

    async def got_face(self, bot: Bot, message: Message, face: TgFile) -> None:
        reply_gif = gif_of(message.reply_to_message) if message.reply_to_message else None
        await self._got(bot, message, [("gif", reply_gif), ("face", face)])

    async def _got(
        self, bot: Bot, message: Message, parts: list[tuple[str, TgFile | None]]
    ) -> None:
        chat, user = message.chat_id, _user_id(message)
        files = [(role, file) for role, file in parts if file is not None]
        for _, file in files:
            if await self._refuse_too_big(message, file):
                return
        if len(files) == 2:  # a reply carries both halves: that pair, whatever was pending
            given = dict(files)
            pending, taken = Pending(gif=given["gif"], face=given["face"]), True
            await self.res.pending.clear(chat, user)
        else:
            ((role, file),) = files
            pending, taken = await self.res.pending.add(chat, user, role, file)
        if not taken:
            await message.reply_text(texts.NEED_GIF if pending.gif is None else texts.NEED_FACE)
            return
        user_id = await self._user(message)
        if not await accounts.has_consented(self.res.db, user_id):
            await self.res.pending.put(chat, user, pending)  # kept until the answer
            await message.reply_text(
                texts.CONSENT,
                reply_markup=buttons(
                    [(texts.CONSENT_YES, "consent:yes"), (texts.CONSENT_NO, "consent:no")]
                ),
            )
            return
        await self.start_swap(bot, chat, user, message.message_id, pending, user_id)

    async def _refuse_too_big(self, message: Message, file: TgFile) -> bool:
        if file.size <= self.download_limit:
            return False
        await message.reply_text(
            texts.INPUT_TOO_BIG.format(
                size=round(file.size / 2**20, 1), limit=self.download_limit // 2**20
            )
        )
        return True

    async def _user(self, message: Message) -> str:
        tg_user = message.from_user
        name = tg_user.username or tg_user.first_name if tg_user else ""
        return await accounts.user_for(
            self.res.db, Channel.TELEGRAM, str(_user_id(message)), name or ""
        )

    async def start_swap(
        self,
        bot: Bot,
        chat_id: int,
        tg_user_id: int,
        trigger_message_id: int,
        pending: Pending,
        user_id: str,
    ) -> None:
        """Fetch both files, submit, and watch the job until its delivery takes over."""
        assert pending.gif is not None and pending.face is not None
        # The first answer and both downloads at once: three Bot API round trips become one.
        status_task = asyncio.create_task(bot.send_message(chat_id, texts.FETCHING))
        try:
            target, source = await asyncio.gather(
                _download(bot, pending.gif.file_id), _download(bot, pending.face.file_id)
            )
        except Exception:
            log.exception("chat %s: could not fetch the files", chat_id)
            await self.res.pending.put(chat_id, tg_user_id, pending)  # a retry needs one file
            await edit_or_send(bot, chat_id, (await status_task).message_id, texts.OOPS)
            return
        status = await status_task
        try:
            lane = Lane.PRO if await _is_pro(self.res.db, user_id) else Lane.FREE
            submitted = await self.res.submitter.submit(
                SwapRequest(
                    channel=Channel.TELEGRAM,
                    external_user_id=str(tg_user_id),
                    target=MediaInput(target, "clip"),
                    source=MediaInput(source, "face"),
                    reply_to={"chat_id": chat_id, "status_message_id": status.message_id},
                    dedup_key=f"telegram:{chat_id}:{trigger_message_id}",
                    output_format="mp4",
                    lane=lane,
                )
            )
        except InputError as exc:
            markup = PRO_BUTTON if exc.code in ("quota_reached", "too_many_frames") else None
            text = texts.failure_text(exc.code, exc.message)
            await edit_or_send(bot, chat_id, status.message_id, text, markup)
            return
        except Exception:  # one kind sentence in place of the status, the details in the log
            log.exception("chat %s: could not start a swap", chat_id)
            await self.res.pending.put(chat_id, tg_user_id, pending)
            await edit_or_send(bot, chat_id, status.message_id, texts.OOPS)
            return
        await self.res.pending.remember_pair(submitted.job_id, pending)
        line = StatusLine(bot, chat_id, status.message_id, status.text or "")
        task = asyncio.create_task(self._watch(submitted.job_id, line))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _watch(self, job_id: str, line: StatusLine) -> None:
        """Edit the status message as the job moves (queued #N, swapping N%); the delivery
        (``TelegramDeliverer``) writes the last words."""
        deadline = time.monotonic() + WATCH_FOR_S
        last_action = 0.0
        while time.monotonic() < deadline:
            try:
                status = await job_status(self.res.db, self.res.queue, job_id)  # type: ignore[arg-type]
                if status is None or status.finished or line.gone:
                    return
                if status.state is JobState.QUEUED:
                    position = status.queue_position or 1
                    text = (
                        texts.QUEUED_NEXT
                        if position <= 1
                        else texts.QUEUED.format(position=position)
                    )
                else:
                    percent = int(100 * status.frames_done / max(status.frames_total, 1))
                    text = texts.SWAPPING.format(percent=min(percent, 99))
                    if time.monotonic() - last_action >= CHAT_ACTION_EVERY_S:
                        last_action = time.monotonic()
                        await line.bot.send_chat_action(line.chat_id, ChatAction.UPLOAD_VIDEO)
                await line.show(text)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a lost edit must not stop the watch
                log.warning("job %s: status not updated (%s)", job_id, exc)
            await asyncio.sleep(WATCH_EVERY_S)

    async def close(self) -> None:
        for task in list(self._watchers):
            task.cancel()
        for task in list(self._watchers):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _download(bot: Bot, file_id: str) -> bytes:
    file = await bot.get_file(file_id)
    return bytes(await file.download_as_bytearray())


async def _is_pro(db: Database, user_id: str) -> bool:
    async with db.sessions() as session:
        return await session.scalar(select(User.plan).where(User.id == user_id)) == "pro"


def _user_id(message: Message) -> int:
    return message.from_user.id if message.from_user else message.chat_id


__all__ = ["PRO_BUTTON", "BotResources", "SwapFlow", "face_of", "gif_of"]
