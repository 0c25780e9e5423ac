"""Handing a finished job back to Discord.

While the interaction token lasts: a followup with the clip as a file when it fits the upload
limit Discord gave the interaction, else with the share link in the text (so it unfurls), plus
the "Another face" / "Get Pro" buttons; the progress answer says "Done". A failure is told only
to the user (ephemeral). Once the token is gone: a message in the channel where the bot may post,
else a DM, saying why it comes this way.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from typing import Any

import discord

from bots.discord import texts
from bots.discord.tokens import InteractionTokens
from bots.discord.views import result_view
from core.db.models import JobState, SwapJob
from core.storage import Storage
from jobs.queues import output_key

log = logging.getLogger(__name__)

PLAN_FAILURES = ("too_many_frames", "too_large", "quota")
DM_SIZE_LIMIT = 10 * 1024 * 1024
TOKEN_GONE_CODES = (50027, 10015, 10062)  # invalid webhook token, unknown webhook/interaction


def _sentence(text: str) -> str:
    """Without a mention in front, a message starts with a capital letter."""
    text = text.strip()
    return text[:1].upper() + text[1:]


def token_gone(exc: discord.HTTPException) -> bool:
    return exc.status == 401 or exc.code in TOKEN_GONE_CODES


class DiscordDeliverer:
    def __init__(
        self,
        client: discord.Client,
        storage: Storage,
        tokens: InteractionTokens,
        before: Callable[[str], None] = lambda job_id: None,
    ) -> None:
        self.client = client
        self.storage = storage
        self.tokens = tokens
        self.before = before  # stops the job's progress watcher

    async def deliver(self, job: SwapJob, link: str | None) -> None:
        self.before(job.id)
        token = await self.tokens.get(job.id)
        if token is not None:
            try:
                await self._answer(job, link, token)
                return
            except discord.HTTPException as exc:
                if not token_gone(exc):
                    raise
                log.info("job %s: the interaction token is gone (%s); posting instead", job.id, exc)
                await self.tokens.drop(job.id)
        await self._post(job, link)

    def _webhook(self, job: SwapJob, token: str) -> discord.Webhook:
        data: Any = {"id": job.reply_to["application_id"], "type": 3, "token": token}
        return discord.Webhook.from_state(data, self.client._connection)

    async def _clip(self, job: SwapJob, limit: int) -> discord.File | None:
        key = output_key(job.id, job.output_format)
        if await asyncio.to_thread(self.storage.size, key) > limit:
            return None
        data = await asyncio.to_thread(self.storage.get_bytes, key)
        return discord.File(io.BytesIO(data), filename=f"swapzy.{job.output_format}")

    async def _answer(self, job: SwapJob, link: str | None, token: str) -> None:
        webhook = self._webhook(job, token)
        message_id = int(job.reply_to.get("message_id") or 0)
        if job.state is JobState.FAILED:
            text = texts.failure_text(job.failure_reason, job.failure_message)
            if job.failure_reason in PLAN_FAILURES:
                await webhook.send(text, ephemeral=True, view=result_view(None))
            else:
                await webhook.send(text, ephemeral=True)
            if message_id:
                await webhook.delete_message(message_id)
            return
        if job.state is not JobState.SUCCEEDED or link is None:
            if message_id:
                await webhook.edit_message(message_id, content=texts.CANCELLED)
            return
        limit = int(job.reply_to.get("size_limit") or DM_SIZE_LIMIT)
        if message_id:
            await webhook.edit_message(message_id, content=texts.SENDING)
        clip = await self._clip(job, limit)
        if clip is not None:
            content = texts.DONE.format(link=link)
            await webhook.send(content, file=clip, view=result_view(job.id), wait=True)
        else:
            content = texts.TOO_BIG_FOR_DISCORD.format(link=link, limit=f"{limit / 2**20:.3g}")
            await webhook.send(content, view=result_view(job.id), wait=True)
        if message_id:
            try:
                await webhook.edit_message(message_id, content=texts.DONE_STATUS)
            except discord.HTTPException as exc:  # the clip is out: never send it twice
                log.info("job %s: status not updated (%s)", job.id, exc)

    async def _post(self, job: SwapJob, link: str | None) -> None:
        reply = job.reply_to
        user_id = int(reply["user_id"])
        if reply.get("fallback") == "channel" and reply.get("channel_id"):
            channel = self.client.get_partial_messageable(int(reply["channel_id"]))
            try:
                await self._send_late(channel, job, link, f"<@{user_id}>", int(reply["size_limit"]))
                return
            except discord.Forbidden as exc:
                log.info("job %s: cannot post in channel (%s); sending a DM", job.id, exc)
        try:
            dm = await self.client.create_dm(discord.Object(user_id))
            await self._send_late(dm, job, link, "", DM_SIZE_LIMIT)
        except discord.Forbidden as exc:  # DMs closed: nowhere left to say it
            log.warning("job %s: the user takes no DMs (%s); result not delivered", job.id, exc)

    async def _send_late(
        self,
        channel: discord.abc.Messageable,
        job: SwapJob,
        link: str | None,
        mention: str,
        limit: int,
    ) -> None:
        allowed = discord.AllowedMentions(users=True, everyone=False, roles=False)
        if job.state is JobState.SUCCEEDED and link is not None:
            clip = await self._clip(job, limit)
            text = texts.LATE_DONE if clip is not None else texts.LATE_TOO_BIG
            content = _sentence(text.format(mention=mention, link=link))
            extra: dict[str, Any] = {"file": clip} if clip is not None else {}
            await channel.send(content, view=result_view(job.id), allowed_mentions=allowed, **extra)
            return
        if job.state is JobState.FAILED:
            failure = texts.failure_text(job.failure_reason, job.failure_message)
            content = _sentence(texts.LATE_FAILED.format(mention=mention, text=failure))
            await channel.send(content, allowed_mentions=allowed)


class DiscordNotifier:
    """Plan notices ("You're Pro now", "Your payment failed") by DM."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def notify(self, external_id: str, kind: str, link: str | None) -> None:
        text = texts.NOTICES[kind].format(link=link or "")
        try:
            dm = await self.client.create_dm(discord.Object(int(external_id)))
            await dm.send(text)
        except discord.Forbidden as exc:  # DMs closed: the notice waits for no one
            log.info("user %s takes no DMs; plan notice %s not sent (%s)", external_id, kind, exc)
