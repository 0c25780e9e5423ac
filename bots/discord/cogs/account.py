"""``/pro``, ``/usage``, ``/web``, ``/delete-my-data`` and ``/help``: short, ephemeral answers."""

from __future__ import annotations

from datetime import timedelta

import discord
from discord import app_commands
from discord.ext import commands
from sqlalchemy import func, select

from billing.links import upgrade_url
from billing.plans import PRO
from billing.quota import plan_name, swaps_left
from bots.discord import texts
from bots.discord.flow import SwapFlow
from bots.discord.views import DeleteView
from core.db.models import SwapJob, utcnow
from core.login_links import issue_login_link
from jobs import accounts

RECENT = 5


class AccountCog(commands.Cog):
    def __init__(self, flow: SwapFlow) -> None:
        self.flow = flow
        self.res = flow.res

    @app_commands.command(name="help", description="How Swapzy works.")
    async def help(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(texts.HELP, ephemeral=True)

    @app_commands.command(name="pro", description="Swapzy Pro: longer GIFs, HD, priority.")
    async def pro(self, interaction: discord.Interaction) -> None:
        await self.show_pro(interaction)

    async def show_pro(self, interaction: discord.Interaction) -> None:
        user_id = await self.flow.user_id(interaction)
        async with self.res.db.sessions() as session:
            plan = await plan_name(session, user_id)
        if plan == PRO:
            await interaction.response.send_message(texts.PRO_ALREADY, ephemeral=True)
            return
        url = upgrade_url(self.res.settings, user_id)
        text = texts.PRO_LINK.format(url=url) if url else texts.PRO_SOON
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="web", description="A one-time sign-in link to the website.")
    async def web(self, interaction: discord.Interaction) -> None:
        """Only the user sees it (ephemeral): the link signs in whoever opens it first."""
        user_id = await self.flow.user_id(interaction)
        link = await issue_login_link(self.res.settings, self.res.db, user_id)
        minutes = max(1, self.res.settings.web_login_ttl_s // 60)
        text = texts.WEB_LINK.format(link=link, minutes=minutes)
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="usage", description="Your plan and your recent clips.")
    async def usage(self, interaction: discord.Interaction) -> None:
        user_id = await self.flow.user_id(interaction)
        since = utcnow() - timedelta(hours=24)
        async with self.res.db.sessions() as session:
            plan, left = await swaps_left(session, self.res.settings, user_id)
            today = await session.scalar(
                select(func.count())
                .select_from(SwapJob)
                .where(SwapJob.user_id == user_id, SwapJob.created_at >= since)
            )
        jobs = await accounts.recent_jobs(self.res.db, user_id, limit=RECENT)
        lines = [
            texts.USAGE_LINE.format(
                when=discord.utils.format_dt(job.created_at, "R"), state=job.state.value
            )
            for job in jobs
        ]
        recent = texts.USAGE_RECENT.format(lines="\n".join(lines)) if lines else texts.USAGE_NONE
        text = texts.USAGE.format(plan=plan.title, left=left, today=int(today or 0), recent=recent)
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(
        name="delete-my-data", description="Delete everything you sent and every clip made."
    )
    async def delete_my_data(self, interaction: discord.Interaction) -> None:
        user_id = await self.flow.user_id(interaction)

        async def delete() -> str:
            deleted = await accounts.delete_user_data(self.res.db, self.res.storage, user_id)
            return texts.DELETED.format(files=deleted.files, jobs=deleted.jobs)

        view = DeleteView(interaction.user.id, delete)
        await interaction.response.send_message(texts.DELETE_CONFIRM, view=view, ephemeral=True)
        view.prompt = interaction
