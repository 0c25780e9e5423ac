"""Thin handlers: from a Telegram update to the flow or an account call, and one reply."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from billing.links import upgrade_url
from billing.portal import Portal
from billing.quota import plan_name
from bots.telegram import texts
from bots.telegram.chat import PRO_BUTTON, buttons
from bots.telegram.flow import SwapFlow, face_of, gif_of
from bots.telegram.pending import Pending
from core.db.models import Channel, JobState
from core.errors import ServiceUnavailable
from core.login_links import issue_login_link
from jobs import accounts

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


class Handlers:
    def __init__(self, flow: SwapFlow, portal: Portal | None = None) -> None:
        self.flow = flow
        self.res = flow.res
        self.portal = portal  # None: Stripe is not configured

    def register(self, app: Application) -> None:  # type: ignore[type-arg]
        commands = {
            "start": self.start,
            "help": self.help,
            "pro": self.pro,
            "billing": self.billing,
            "status": self.status,
            "history": self.history,
            "delete": self.delete,
            "cancel": self.cancel,
            "swap": self.swap,
            "web": self.web,
        }
        for name, callback in commands.items():
            app.add_handler(CommandHandler(name, callback))
        # Telegram sends GIFs as MP4 `animation` and also sets `document`: animations first.
        app.add_handler(MessageHandler(filters.ANIMATION, self.media))
        app.add_handler(MessageHandler(filters.VIDEO | filters.VIDEO_NOTE, self.media))
        app.add_handler(MessageHandler(filters.PHOTO | filters.Document.ALL, self.media))
        app.add_handler(MessageHandler(filters.ChatType.PRIVATE & ~filters.COMMAND, self.not_media))
        app.add_handler(CallbackQueryHandler(self.button))
        app.add_error_handler(self.error)

    async def start(self, update: Update, context: Context) -> None:
        await _reply(update, texts.START)

    async def help(self, update: Update, context: Context) -> None:
        await _reply(update, texts.HELP)

    async def pro(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if message is not None:
            text, markup = await self._pro_offer(await self._user(update))
            await message.reply_text(text, reply_markup=markup)

    async def _pro_offer(self, user_id: str) -> tuple[str, InlineKeyboardMarkup | None]:
        """Pro's pitch with this user's own payment link (signed reference to them)."""
        async with self.res.db.sessions() as session:
            plan = await plan_name(session, user_id)
        if plan == "pro":
            return texts.PRO_ALREADY, None
        url = upgrade_url(self.res.settings, user_id)
        if url is None:
            return texts.PRO_SOON, None
        text = texts.PRO_PITCH.format(swaps=self.res.settings.pro_swaps_per_month)
        return text, link_button(texts.BUTTON_SUBSCRIBE, url)

    async def billing(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if message is not None:
            text, markup = await self._billing_link(await self._user(update))
            await message.reply_text(text, reply_markup=markup)

    async def _billing_link(self, user_id: str) -> tuple[str, InlineKeyboardMarkup | None]:
        """A fresh customer-portal session for a paying user."""
        try:
            url = await self.portal.url_for(user_id) if self.portal else None
        except ServiceUnavailable as exc:
            return exc.message, None
        if url is None:
            return texts.BILLING_NONE, None
        return texts.BILLING_LINK, link_button(texts.BUTTON_BILLING, url)

    async def media(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if message is None:
            return
        gif = gif_of(message)
        if gif is not None:
            await self.flow.got_gif(context.bot, message, gif)
            return
        face = face_of(message)
        if face is not None:
            await self.flow.got_face(context.bot, message, face)
            return
        await self.not_media(update, context)

    async def not_media(self, update: Update, context: Context) -> None:
        await _reply(update, texts.NOT_MEDIA)

    async def swap(self, update: Update, context: Context) -> None:
        """/swap in reply to a GIF (groups): that GIF waits for the face."""
        message = update.effective_message
        replied = message.reply_to_message if message else None
        gif = gif_of(replied) if replied else None
        if message is None or gif is None:
            await _reply(update, texts.SWAP_NEEDS_REPLY)
            return
        await self.flow.got_gif(context.bot, message, gif)

    async def web(self, update: Update, context: Context) -> None:
        """A one-time sign-in link to the web companion (account page, admin pages)."""
        link = await issue_login_link(self.res.settings, self.res.db, await self._user(update))
        minutes = max(1, self.res.settings.web_login_ttl_s // 60)
        await _reply(update, texts.WEB_LINK.format(link=link, minutes=minutes))

    async def status(self, update: Update, context: Context) -> None:
        user_id = await self._user(update)
        jobs = [j for j in await accounts.recent_jobs(self.res.db, user_id) if not j.state.finished]
        if not jobs:
            await _reply(update, texts.NO_JOBS)
            return
        lines = []
        for job in jobs:
            extra = ""
            if job.state is JobState.RUNNING and job.frames:
                extra = f", {int(100 * job.frames_done / job.frames)}%"
            lines.append(texts.STATUS_LINE.format(state=job.state.value, extra=extra))
        await _reply(update, "\n".join(lines))

    async def history(self, update: Update, context: Context) -> None:
        user_id = await self._user(update)
        jobs = await accounts.recent_jobs(self.res.db, user_id)
        if not jobs:
            await _reply(update, texts.NO_HISTORY)
            return
        lines = []
        for job in jobs:
            if job.state is JobState.SUCCEEDED:
                what = self.res.storage.url(f"jobs/{job.id}/swapzy.{job.output_format}")
            elif job.state is JobState.FAILED:
                what = f"failed: {texts.failure_text(job.failure_reason, job.failure_message)}"
            else:
                what = job.state.value
            when = job.created_at.strftime("%d %b %H:%M")
            lines.append(texts.HISTORY_LINE.format(when=when, what=what))
        await _reply(update, "\n".join(lines))

    async def delete(self, update: Update, context: Context) -> None:
        await _reply(
            update,
            texts.DELETE_CONFIRM,
            buttons([(texts.DELETE_YES, "delete:yes"), (texts.DELETE_NO, "delete:no")]),
        )

    async def cancel(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if message is None:
            return
        cleared = await self.res.pending.clear(message.chat_id, _tg_user(update))
        count = await accounts.cancel_waiting(self.res.db, await self._user(update))
        if not cleared and not count:
            await _reply(update, texts.NOTHING_TO_CANCEL)
            return
        await _reply(update, texts.CANCELLED.format(count=count))

    async def button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        await query.answer()
        message = query.message if isinstance(query.message, Message) else None
        chat_id = message.chat_id if message else query.from_user.id
        tg_user = query.from_user.id
        action, _, arg = query.data.partition(":")
        user_id = await accounts.user_for(
            self.res.db, Channel.TELEGRAM, str(tg_user), query.from_user.username or ""
        )
        if action == "consent":
            if arg != "yes":
                await self.res.pending.clear(chat_id, tg_user)
                await context.bot.send_message(chat_id, texts.CONSENT_DECLINED)
                return
            await accounts.record_consent(self.res.db, user_id, Channel.TELEGRAM)
            pending = await self.res.pending.take(chat_id, tg_user)
            if pending.complete and pending.gif and pending.face:
                trigger = max(pending.gif.message_id, pending.face.message_id)
                await self.flow.start_swap(context.bot, chat_id, tg_user, trigger, pending, user_id)
        elif action == "delete":
            if arg != "yes":
                await context.bot.send_message(chat_id, texts.DELETE_KEPT)
                return
            deleted = await accounts.delete_user_data(self.res.db, self.res.storage, user_id)
            await context.bot.send_message(chat_id, texts.DELETED.format(count=deleted.files))
        elif action in ("again_face", "again_gif"):
            pair = await self.res.pending.pair_of(arg)
            if pair is None:
                await context.bot.send_message(chat_id, texts.EXPIRED_BUTTON)
                return
            keep = Pending(gif=pair.gif) if action == "again_face" else Pending(face=pair.face)
            await self.res.pending.put(chat_id, tg_user, keep)
            prompt = texts.NEED_FACE if action == "again_face" else texts.NEED_GIF
            await context.bot.send_message(chat_id, prompt)
        elif action in ("pro", "billing"):
            offer = self._pro_offer if action == "pro" else self._billing_link
            text, markup = await offer(user_id)
            await context.bot.send_message(chat_id, text, reply_markup=markup)

    async def error(self, update: object, context: Context) -> None:
        """Anything unexpected: one kind sentence to the user, the details in the log."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("update %s failed", update_id, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            try:
                await context.bot.send_message(update.effective_chat.id, texts.OOPS)
            except Exception:
                log.exception("could not tell chat %s about the failure", update.effective_chat.id)

    async def _user(self, update: Update) -> str:
        user = update.effective_user
        name = (user.username or user.first_name) if user else ""
        return await accounts.user_for(
            self.res.db, Channel.TELEGRAM, str(_tg_user(update)), name or ""
        )


def link_button(text: str, url: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, url=url)]])


def _tg_user(update: Update) -> int:
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat else 0


async def _reply(update: Update, text: str, markup: object = None) -> None:
    message = update.effective_message
    if message is not None:
        await message.reply_text(text, reply_markup=markup)  # type: ignore[arg-type]


__all__ = ["PRO_BUTTON", "Handlers"]
