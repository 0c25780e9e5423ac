"""Handing a finished job back to its chat: the clip as an animation with the share link and
buttons, or the failure in plain words, written over the job's status message."""

from __future__ import annotations

import asyncio
import contextlib

from telegram import Bot, InputFile
from telegram.constants import ChatAction
from telegram.error import BadRequest

from bots.telegram import texts
from bots.telegram.chat import PRO_BUTTON, buttons, edit_or_send, result_buttons
from core.db.models import JobState, SwapJob
from core.storage import Storage
from jobs.queues import output_key

PLAN_FAILURES = ("too_many_frames", "too_large", "quota")


class TelegramDeliverer:
    def __init__(self, bot: Bot, storage: Storage, upload_limit: int) -> None:
        self.bot = bot
        self.storage = storage
        self.upload_limit = upload_limit

    async def deliver(self, job: SwapJob, link: str | None) -> None:
        chat_id = int(job.reply_to["chat_id"])
        status_id = job.reply_to.get("status_message_id")
        if job.state is JobState.FAILED:
            text = texts.failure_text(job.failure_reason, job.failure_message)
            markup = PRO_BUTTON if job.failure_reason in PLAN_FAILURES else None
            await edit_or_send(self.bot, chat_id, status_id, text, markup)
            return
        if job.state is not JobState.SUCCEEDED or link is None:
            return
        key = output_key(job.id, job.output_format)
        size = await asyncio.to_thread(self.storage.size, key)
        if size > self.upload_limit:
            await edit_or_send(
                self.bot, chat_id, status_id, texts.TOO_BIG_TO_SEND.format(link=link)
            )
            return
        _, _, data = await asyncio.gather(
            edit_or_send(self.bot, chat_id, status_id, texts.SENDING),
            self.bot.send_chat_action(chat_id, ChatAction.UPLOAD_VIDEO),
            asyncio.to_thread(self.storage.get_bytes, key),
        )
        await self.bot.send_animation(
            chat_id,
            animation=InputFile(data, filename=f"swapzy.{job.output_format}"),
            caption=texts.DONE_CAPTION.format(link=link),
            reply_markup=result_buttons(job.id),
        )
        if status_id is not None:
            with contextlib.suppress(BadRequest):  # already gone: nothing to tidy
                await self.bot.delete_message(chat_id, int(status_id))


class TelegramNotifier:
    """Plan notices ("You're Pro now", "Your payment failed") in the user's private chat."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def notify(self, external_id: str, kind: str, link: str | None) -> None:
        markup = None
        if kind == "payment_failed":
            markup = buttons([(texts.BUTTON_FIX_PAYMENT, "billing")])
        elif kind == "pro_ended":
            markup = PRO_BUTTON
        await self.bot.send_message(int(external_id), texts.NOTICES[kind], reply_markup=markup)
