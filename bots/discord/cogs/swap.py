"""``/swap`` and ``/swap-template``: check what was attached (type, size) and where (server
rules) from the interaction alone, answer bad input at once (ephemeral), else start the flow."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bots.discord import intake, texts
from bots.discord.flow import SwapAsk, SwapFlow
from bots.discord.views import AnotherFaceModal
from core.errors import InputError
from jobs.submit import parse_faces

MAX_CHOICES = 25  # Discord shows at most 25 autocomplete choices


class SwapCog(commands.Cog):
    def __init__(self, flow: SwapFlow) -> None:
        self.flow = flow
        self.res = flow.res

    async def _refusal(
        self, interaction: discord.Interaction, *checks: tuple[discord.Attachment, str]
    ) -> str | None:
        limits = self.res.settings.limits
        for attachment, role in checks:
            why = intake.refusal(attachment, role, limits)
            if why is not None:
                return why
        return await self.res.guilds.refusal(interaction.guild_id, interaction.channel_id)

    @app_commands.command(name="swap", description="Put a face into every frame of a GIF.")
    @app_commands.describe(
        gif="The GIF or short video (GIF, MP4, WebM)",
        face="A photo with one clear face (JPEG, PNG, WebP)",
        faces="Which faces to replace: largest (default), all, or a face number such as 2",
    )
    async def swap(
        self,
        interaction: discord.Interaction,
        gif: discord.Attachment,
        face: discord.Attachment,
        faces: str = "largest",
    ) -> None:
        why = await self._refusal(interaction, (gif, "gif"), (face, "face"))
        if why is None:
            try:
                faces = parse_faces(faces)
            except InputError:
                why = texts.BAD_FACES
        if why is not None:
            await interaction.response.send_message(why, ephemeral=True)
            return
        await self.flow.start(interaction, SwapAsk(face=face, gif=gif, faces=faces))

    @app_commands.command(name="swap-template", description="Put a face into a gallery GIF.")
    @app_commands.describe(template="A GIF from the gallery", face="A photo with one clear face")
    async def swap_template(
        self, interaction: discord.Interaction, template: str, face: discord.Attachment
    ) -> None:
        why = await self._refusal(interaction, (face, "face"))
        if why is None:
            try:
                await asyncio.to_thread(self.res.gallery.get, template)
            except InputError as exc:
                why = exc.message
        if why is not None:
            await interaction.response.send_message(why, ephemeral=True)
            return
        await self.flow.start(interaction, SwapAsk(face=face, template=template))

    @swap_template.autocomplete("template")
    async def template_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        templates = await asyncio.to_thread(self.res.gallery.list)
        return [
            app_commands.Choice(name=t.title, value=t.name)
            for t in templates
            if typed in t.name or typed in t.title.lower()
        ][:MAX_CHOICES]

    async def another_face(self, interaction: discord.Interaction, job_id: str) -> None:
        """The result's "Another face" button: a modal takes the new photo."""
        if await self.flow.earlier_target_key(job_id) is None:
            await interaction.response.send_message(texts.CLIP_GONE, ephemeral=True)
            return

        async def got_face(submit: discord.Interaction, face: discord.Attachment) -> None:
            why = await self._refusal(submit, (face, "face"))
            if why is not None:
                await submit.response.send_message(why, ephemeral=True)
                return
            await self.flow.start(submit, SwapAsk(face=face, earlier_job=job_id))

        await interaction.response.send_modal(AnotherFaceModal(got_face))
