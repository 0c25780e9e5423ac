"""The swap flow of a slash command: ask for consent once, defer within Discord's 3 seconds,
fetch the files, submit through ``jobs.submit``, then keep the answer up to date (queue
position, percent) while the interaction token lasts. The delivery writes the last words."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import discord
from arq.connections import ArqRedis
from sqlalchemy import select

from bots.discord import texts
from bots.discord.guilds import Guilds
from bots.discord.tokens import InteractionTokens
from bots.discord.views import ConsentView
from core.config import Settings
from core.db.models import Channel, JobState, MediaAsset, SwapJob
from core.db.session import Database
from core.errors import InputError
from core.storage import Storage
from jobs import accounts
from jobs.contract import JobStatus, MediaInput, SwapRequest
from jobs.status import job_status
from jobs.submit import Submitter
from jobs.templates import TemplateGallery

log = logging.getLogger(__name__)

WATCH_EVERY_S = 1.0  # Discord allows a few edits a second per token; once a second is plenty


@dataclass(frozen=True)
class DiscordResources:
    settings: Settings
    db: Database
    storage: Storage
    submitter: Submitter
    queue: ArqRedis
    gallery: TemplateGallery
    guilds: Guilds
    tokens: InteractionTokens


@dataclass(frozen=True)
class SwapAsk:
    """What to swap: a face, and a GIF given as an attachment, a template or an earlier job's."""

    face: discord.Attachment
    gif: discord.Attachment | None = None
    template: str | None = None
    earlier_job: str | None = None
    faces: str = "largest"


def fallback_of(interaction: discord.Interaction) -> str:
    """Where a result goes once the token is gone: "channel" where the bot may post, else "dm"."""
    if interaction.context.dm_channel:
        return "channel"  # the bot's own DM with the user
    perms = interaction.app_permissions
    if interaction.is_guild_integration() and perms.send_messages and perms.attach_files:
        return "channel"
    return "dm"


def progress_text(status: JobStatus) -> str:
    if status.state is JobState.QUEUED:
        position = status.queue_position or 1
        return texts.QUEUED_NEXT if position <= 1 else texts.QUEUED.format(position=position)
    percent = int(100 * status.frames_done / max(status.frames_total, 1))
    return texts.SWAPPING.format(percent=min(percent, 99))


class SwapFlow:
    def __init__(self, res: DiscordResources) -> None:
        self.res = res
        self._watchers: dict[str, asyncio.Task[None]] = {}

    async def user_id(self, interaction: discord.Interaction) -> str:
        user = interaction.user
        return await accounts.user_for(self.res.db, Channel.DISCORD, str(user.id), user.name)

    async def start(self, interaction: discord.Interaction, ask: SwapAsk) -> None:
        """Ask for consent the first time (ephemeral, one button), else run the swap."""
        user_id = await self.user_id(interaction)
        if await accounts.has_consented(self.res.db, user_id):
            await self.run(interaction, ask, user_id)
            return

        async def confirmed(click: discord.Interaction) -> None:
            await accounts.record_consent(self.res.db, user_id, Channel.DISCORD)
            await self.run(click, ask, user_id)
            with contextlib.suppress(discord.HTTPException):
                await interaction.edit_original_response(content=texts.CONSENT_THANKS, view=None)

        view = ConsentView(interaction.user.id, confirmed)
        await interaction.response.send_message(texts.CONSENT, view=view, ephemeral=True)
        view.prompt = interaction

    async def run(self, interaction: discord.Interaction, ask: SwapAsk, user_id: str) -> None:
        received = time.time()
        callback = await interaction.response.defer(thinking=True)
        message_id = callback.message_id if callback is not None else None
        try:
            await interaction.edit_original_response(content=texts.FETCHING)
            target, source = await asyncio.gather(self._target(ask), ask.face.read())
            submitted = await self.res.submitter.submit(
                SwapRequest(
                    channel=Channel.DISCORD,
                    external_user_id=str(interaction.user.id),
                    target=MediaInput(target, ask.gif.filename if ask.gif else "clip.gif"),
                    source=MediaInput(source, ask.face.filename),
                    reply_to=self._reply_to(interaction, message_id),
                    dedup_key=f"discord:{interaction.id}",
                    username=interaction.user.name,
                    faces=ask.faces,
                    output_format="gif",  # Discord loops GIFs inline, like the original
                )
            )
        except InputError as exc:
            await self._refuse(interaction, texts.FAILURES.get(exc.code, exc.message))
            return
        except Exception:  # one kind sentence in place of the answer, the details in the log
            log.exception("interaction %s: could not start a swap", interaction.id)
            await self._show(interaction, texts.OOPS)
            return
        if submitted.created and interaction.guild_id is not None:
            await self.res.guilds.count_swap(interaction.guild_id)
        if not await self.res.tokens.keep(submitted.job_id, interaction.token, received):
            await self._say_late(interaction)
            return
        task = asyncio.create_task(self._watch(submitted.job_id, interaction, received))
        self._watchers[submitted.job_id] = task
        task.add_done_callback(lambda _: self._watchers.pop(submitted.job_id, None))

    async def _target(self, ask: SwapAsk) -> bytes:
        if ask.gif is not None:
            return await ask.gif.read()
        if ask.template is not None:
            return await asyncio.to_thread(self.res.gallery.data, ask.template)
        key = await self.earlier_target_key(ask.earlier_job or "")
        if key is None:
            raise InputError(texts.CLIP_GONE)
        return await asyncio.to_thread(self.res.storage.get_bytes, key)

    async def earlier_target_key(self, job_id: str) -> str | None:
        """The stored GIF of an earlier job (for "Another face"), None once it was deleted."""
        async with self.res.db.sessions() as session:
            return await session.scalar(
                select(MediaAsset.storage_key)
                .join(SwapJob, SwapJob.target_asset_id == MediaAsset.id)
                .where(SwapJob.id == job_id)
            )

    @staticmethod
    def _reply_to(interaction: discord.Interaction, message_id: int | None) -> dict[str, object]:
        return {
            "application_id": str(interaction.application_id),
            "channel_id": str(interaction.channel_id or ""),
            "guild_id": str(interaction.guild_id or ""),
            "user_id": str(interaction.user.id),
            "message_id": str(message_id or ""),
            "fallback": fallback_of(interaction),
            "size_limit": interaction.filesize_limit,
        }

    async def _refuse(self, interaction: discord.Interaction, text: str) -> None:
        """Bad input found after the deferral: only the user sees why (ephemeral followup), and
        the public "thinking" answer goes away."""
        try:
            await interaction.followup.send(text, ephemeral=True)
            await interaction.delete_original_response()
        except discord.HTTPException as exc:
            log.warning("interaction %s: refusal not shown (%s)", interaction.id, exc)

    async def _show(self, interaction: discord.Interaction, text: str) -> None:
        try:
            await interaction.edit_original_response(content=text)
        except discord.HTTPException as exc:
            log.warning("interaction %s: answer not updated (%s)", interaction.id, exc)

    async def _say_late(self, interaction: discord.Interaction) -> None:
        late = fallback_of(interaction) == "channel"
        await self._show(interaction, texts.LATE_NOTICE_CHANNEL if late else texts.LATE_NOTICE_DM)

    async def _watch(self, job_id: str, interaction: discord.Interaction, received: float) -> None:
        """Edit the answer as the job moves; when the token is about to expire, say where the
        result will come instead. Only changed texts are sent."""
        shown = texts.FETCHING
        while True:
            try:
                status = await job_status(self.res.db, self.res.queue, job_id)
                if status is None or status.state is JobState.CANCELLED:
                    await self._show(interaction, texts.CANCELLED)  # e.g. /delete-my-data
                    return
                if status.finished:
                    return  # the delivery writes the last words
                if self.res.tokens.left_s(received) <= 0:
                    await self._say_late(interaction)
                    return
                text = progress_text(status)
                if text != shown:
                    await interaction.edit_original_response(content=text)
                    shown = text
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a lost edit must not stop the watch
                log.warning("job %s: progress not shown (%s)", job_id, exc)
            left = self.res.tokens.left_s(received)
            await asyncio.sleep(max(0.0, min(WATCH_EVERY_S, left)))

    def stop_watching(self, job_id: str) -> None:
        """The delivery is about to write the last words: no progress edit may follow them."""
        task = self._watchers.pop(job_id, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._watchers.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
