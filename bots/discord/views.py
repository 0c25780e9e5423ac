"""Buttons and the one modal: the consent question, the delete confirmation, and the result's
"Another face" / "Get Pro" buttons (dynamic items: they keep working after a restart)."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

import discord

from bots.discord import texts

log = logging.getLogger(__name__)

Click = Callable[[discord.Interaction], Awaitable[None]]
QUESTION_TIMEOUT_S = 10 * 60.0


@runtime_checkable
class ResultActions(Protocol):
    """What the result buttons ask of the bot (``interaction.client``)."""

    async def another_face(self, interaction: discord.Interaction, job_id: str) -> None: ...
    async def show_pro(self, interaction: discord.Interaction) -> None: ...


async def answer_oops(interaction: discord.Interaction) -> None:
    """Never leave an interaction hanging: after a failure, still answer (only to the user)."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(texts.OOPS, ephemeral=True)
        else:
            await interaction.response.send_message(texts.OOPS, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("interaction %s: could not say sorry (%s)", interaction.id, exc)


class _OwnedView(discord.ui.View):
    """Buttons only the user who asked may press; the question says when it expired."""

    def __init__(self, owner_id: int) -> None:
        super().__init__(timeout=QUESTION_TIMEOUT_S)
        self.owner_id = owner_id
        self.prompt: discord.Interaction | None = None  # the interaction that showed the view

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return interaction.user.id == self.owner_id

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        log.error("button %s failed", item, exc_info=error)
        await answer_oops(interaction)

    async def on_timeout(self) -> None:
        if self.prompt is not None:
            # The token may be gone or the message dismissed: then there is nothing to tidy.
            with contextlib.suppress(discord.HTTPException):
                await self.prompt.edit_original_response(content=texts.CONSENT_EXPIRED, view=None)


class ConsentView(_OwnedView):
    def __init__(self, owner_id: int, on_yes: Click) -> None:
        super().__init__(owner_id)
        self.on_yes = on_yes

    @discord.ui.button(label=texts.CONSENT_YES, style=discord.ButtonStyle.primary)
    async def yes(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        self.stop()
        await self.on_yes(interaction)


class DeleteView(_OwnedView):
    def __init__(self, owner_id: int, on_yes: Callable[[], Awaitable[str]]) -> None:
        super().__init__(owner_id)
        self.on_yes = on_yes

    @discord.ui.button(label=texts.DELETE_YES, style=discord.ButtonStyle.danger)
    async def yes(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        self.stop()
        await interaction.response.defer()  # deleting many files can outlast 3 seconds
        text = await self.on_yes()
        await interaction.edit_original_response(content=text, view=None)

    @discord.ui.button(label=texts.DELETE_NO, style=discord.ButtonStyle.secondary)
    async def no(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        self.stop()
        await interaction.response.edit_message(content=texts.DELETE_KEPT, view=None)


def _actions(interaction: discord.Interaction) -> ResultActions:
    client = interaction.client
    if not isinstance(client, ResultActions):
        raise TypeError("the result buttons need the Swapzy bot")
    return client


class AnotherFace(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"swapzy:again:(?P<job>[0-9a-f]{32})"
):
    def __init__(self, job_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=texts.BUTTON_ANOTHER_FACE,
                style=discord.ButtonStyle.primary,
                custom_id=f"swapzy:again:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> AnotherFace:
        return cls(match["job"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _actions(interaction).another_face(interaction, self.job_id)


class GetPro(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"swapzy:pro"):
    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label=texts.BUTTON_PRO, style=discord.ButtonStyle.success, custom_id="swapzy:pro"
            )
        )

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> GetPro:
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        await _actions(interaction).show_pro(interaction)


def result_view(job_id: str | None) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if job_id is not None:
        view.add_item(AnotherFace(job_id))
    view.add_item(GetPro())
    return view


class AnotherFaceModal(discord.ui.Modal, title=texts.ANOTHER_FACE_TITLE):
    """A face photo for the same GIF (a modal's file upload)."""

    def __init__(
        self, on_face: Callable[[discord.Interaction, discord.Attachment], Awaitable[None]]
    ):
        super().__init__(timeout=QUESTION_TIMEOUT_S)
        self.on_face = on_face
        self.upload: discord.ui.FileUpload[Any] = discord.ui.FileUpload(
            custom_id="face", min_values=1, max_values=1
        )
        self.add_item(discord.ui.Label(text=texts.ANOTHER_FACE_LABEL, component=self.upload))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.on_face(interaction, self.upload.values[0])

    # discord.py's Modal.on_error drops BaseView's ``item`` argument (its own typing disagrees).
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        log.error("the face modal failed", exc_info=error)
        await answer_oops(interaction)
