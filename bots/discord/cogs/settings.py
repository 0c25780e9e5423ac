"""``/swapzy-settings``: a server's admins choose where swaps are allowed and a daily cap.

Installed to servers only, used in servers only, and shown only to members who may manage the
server (checked again here: server owners can change who sees a command)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bots.discord import texts
from bots.discord.guilds import GuildRules, Guilds


def _describe(rules: GuildRules) -> str:
    channels = ", ".join(f"<#{c}>" for c in rules.allowed_channels)
    cap = texts.SETTINGS_NO_CAP if rules.daily_cap is None else str(rules.daily_cap)
    return texts.SETTINGS_SHOW.format(channels=channels or texts.SETTINGS_ALL_CHANNELS, cap=cap)


@app_commands.allowed_installs(guilds=True, users=False)
@app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
@app_commands.default_permissions(manage_guild=True)
class SettingsCog(
    commands.GroupCog,
    group_name="swapzy-settings",
    group_description="Swapzy settings for this server (admins).",
):
    def __init__(self, guilds: Guilds) -> None:
        super().__init__()
        self.guilds = guilds

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.guild_id is not None and interaction.permissions.manage_guild:
            return True
        await interaction.response.send_message(texts.SETTINGS_ADMINS_ONLY, ephemeral=True)
        return False

    @app_commands.command(name="show", description="Show this server's Swapzy settings.")
    async def show(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        rules = await self.guilds.rules(interaction.guild_id)
        await interaction.response.send_message(_describe(rules), ephemeral=True)

    @app_commands.command(name="allow-channel", description="Allow swaps in a channel.")
    @app_commands.describe(channel="Swaps will be allowed there (and in other allowed ones)")
    async def allow_channel(
        self, interaction: discord.Interaction, channel: app_commands.AppCommandChannel
    ) -> None:
        assert interaction.guild_id is not None
        rules = await self.guilds.rules(interaction.guild_id)
        allowed = [*rules.allowed_channels, str(channel.id)]
        rules = await self.guilds.change(
            interaction.guild_id, interaction.user.id, allowed_channels=sorted(set(allowed))
        )
        await interaction.response.send_message(_describe(rules), ephemeral=True)

    @app_commands.command(name="remove-channel", description="Stop allowing swaps in a channel.")
    @app_commands.describe(channel="Swaps will no longer be allowed there")
    async def remove_channel(
        self, interaction: discord.Interaction, channel: app_commands.AppCommandChannel
    ) -> None:
        assert interaction.guild_id is not None
        rules = await self.guilds.rules(interaction.guild_id)
        allowed = [c for c in rules.allowed_channels if c != str(channel.id)]
        rules = await self.guilds.change(
            interaction.guild_id, interaction.user.id, allowed_channels=allowed
        )
        await interaction.response.send_message(_describe(rules), ephemeral=True)

    @app_commands.command(name="all-channels", description="Allow swaps in every channel.")
    async def all_channels(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        rules = await self.guilds.change(
            interaction.guild_id, interaction.user.id, allowed_channels=[]
        )
        await interaction.response.send_message(_describe(rules), ephemeral=True)

    @app_commands.command(name="daily-cap", description="Cap the swaps a day (0: no cap).")
    @app_commands.describe(swaps="Swaps per day for the whole server; 0 removes the cap")
    async def daily_cap(
        self, interaction: discord.Interaction, swaps: app_commands.Range[int, 0, 100000]
    ) -> None:
        assert interaction.guild_id is not None
        rules = await self.guilds.change(
            interaction.guild_id, interaction.user.id, daily_cap=swaps or None
        )
        await interaction.response.send_message(_describe(rules), ephemeral=True)
