"""Talking in a chat without tripping over Telegram's rules: never edit with unchanged text,
fall back to a new message when the one to edit is gone, keep the status message's text."""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest

from bots.telegram import texts

log = logging.getLogger(__name__)


def buttons(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


def result_buttons(job_id: str) -> InlineKeyboardMarkup:
    return buttons(
        [(texts.BUTTON_ANOTHER_FACE, f"again_face:{job_id}")],
        [(texts.BUTTON_ANOTHER_GIF, f"again_gif:{job_id}")],
        [(texts.BUTTON_PRO, "pro")],
    )


PRO_BUTTON = buttons([(texts.BUTTON_PRO, "pro")])


async def edit_or_send(
    bot: Bot,
    chat_id: int,
    message_id: int | None,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    resend: bool = True,
) -> int | None:
    """Show ``text`` in the status message, or in a new one if it is gone (``resend``); returns
    the id of the message showing it (None: gone and not resent)."""
    if message_id is not None:
        try:
            await bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=markup
            )
            return message_id
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return message_id
            log.info("status message %s in chat %s not editable (%s)", message_id, chat_id, exc)
            if not resend:
                return None
    sent: Message = await bot.send_message(chat_id, text, reply_markup=markup)
    return sent.message_id


class StatusLine:
    """One status message edited as a job moves; an unchanged text is never sent again. Once
    the message is gone (the delivery removed it), the line stays quiet."""

    def __init__(self, bot: Bot, chat_id: int, message_id: int, text: str) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.message_id: int | None = message_id
        self.text = text

    @property
    def gone(self) -> bool:
        return self.message_id is None

    async def show(self, text: str) -> None:
        if text == self.text or self.message_id is None:
            return
        self.message_id = await edit_or_send(
            self.bot, self.chat_id, self.message_id, text, resend=False
        )
        self.text = text
