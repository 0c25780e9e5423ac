"""Wiring: the auto-sharded discord.py bot with its cogs, the delivery worker for the
``discord`` queue, ``swapzy bot discord`` (gateway until SIGTERM) and ``--sync`` (registers
the slash commands once, deliberately; never on every start)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import discord
from arq.connections import ArqRedis
from discord import app_commands
from discord.ext import commands

from billing.quota import PlanAdmission
from bots.discord.cogs.account import AccountCog
from bots.discord.cogs.settings import SettingsCog
from bots.discord.cogs.swap import SwapCog
from bots.discord.delivery import DiscordDeliverer, DiscordNotifier
from bots.discord.flow import DiscordResources, SwapFlow
from bots.discord.guilds import Guilds
from bots.discord.tokens import TOKEN_LIFETIME_S, InteractionTokens
from bots.discord.views import AnotherFace, GetPro, answer_oops
from core.config import Settings
from core.db.models import Channel
from core.db.session import Database
from core.errors import ConfigError, ServiceUnavailable
from core.storage import Storage
from jobs.contract import Deliverer, Notifier
from jobs.delivery import DeliveryResources, delivery_workers
from jobs.runner import keep_running
from jobs.submit import Submitter
from jobs.templates import TemplateGallery

log = logging.getLogger("swapzy.discord")


class SwapzyBot(commands.AutoShardedBot):
    """The bot: default intents only (slash commands need no privileged ones), installable to
    servers and users, usable in servers, DMs and private channels."""

    def __init__(self, flow: SwapFlow) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=discord.Intents.default(),
            allowed_contexts=app_commands.AppCommandContext(
                guild=True, dm_channel=True, private_channel=True
            ),
            allowed_installs=app_commands.AppInstallationType(guild=True, user=True),
        )
        self.flow = flow
        self.swap_cog = SwapCog(flow)
        self.account_cog = AccountCog(flow)

    async def setup_hook(self) -> None:
        # The built-in templates are made on first use: before any command has to wait for it.
        await asyncio.to_thread(self.flow.res.gallery.list)
        await self.add_cog(self.swap_cog)
        await self.add_cog(self.account_cog)
        await self.add_cog(SettingsCog(self.flow.res.guilds))
        self.add_dynamic_items(AnotherFace, GetPro)
        self.tree.on_error = self._command_failed  # type: ignore[method-assign]

    async def _command_failed(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Never leave an interaction hanging: a failed command still answers the user."""
        if isinstance(error, app_commands.CheckFailure):
            return  # the check answered already (e.g. "admins only")
        log.error("command %s failed", interaction.command, exc_info=error)
        await answer_oops(interaction)

    # The result buttons (bots.discord.views.ResultActions).
    async def another_face(self, interaction: discord.Interaction, job_id: str) -> None:
        await self.swap_cog.another_face(interaction, job_id)

    async def show_pro(self, interaction: discord.Interaction) -> None:
        await self.account_cog.show_pro(interaction)


def point_at(settings: Settings) -> None:
    """Send REST calls to ``discord_api_url`` (discord.py keeps it in a class attribute; the
    gateway address then comes from that API's /gateway/bot)."""
    discord.http.Route.BASE = settings.discord_api_url.rstrip("/")


def build_bot(
    settings: Settings,
    db: Database,
    storage: Storage,
    queue: ArqRedis,
    *,
    token_lifetime_s: float = TOKEN_LIFETIME_S,
) -> SwapzyBot:
    point_at(settings)
    resources = DiscordResources(
        settings=settings,
        db=db,
        storage=storage,
        submitter=Submitter(settings, db, storage, queue, PlanAdmission(settings)),
        queue=queue,
        gallery=TemplateGallery(settings, storage),
        guilds=Guilds(db),
        tokens=InteractionTokens(queue, token_lifetime_s),
    )
    return SwapzyBot(SwapFlow(resources))


async def login(bot: SwapzyBot, settings: Settings) -> None:
    try:
        await bot.login(settings.discord_token.get_secret_value())
    except discord.LoginFailure:
        raise ConfigError(
            "Discord refused SWAPZY_DISCORD_TOKEN: copy the bot token again from the developer "
            "portal (Bot > Reset Token)."
        ) from None
    except (discord.HTTPException, aiohttp.ClientError) as exc:
        raise ServiceUnavailable(
            f"Cannot reach Discord at {settings.discord_api_url}: {exc}"
        ) from None


@dataclass
class RunningBot:
    bot: SwapzyBot
    gateway: asyncio.Task[None]
    delivery: asyncio.Task[None]


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings,
    db: Database,
    storage: Storage,
    queue: ArqRedis,
    *,
    token_lifetime_s: float = TOKEN_LIFETIME_S,
) -> AsyncIterator[RunningBot]:
    """Log in, connect every shard and run the delivery worker; on exit stop taking new work,
    cancel the progress watchers and close the gateway (what SIGTERM does)."""
    bot = build_bot(settings, db, storage, queue, token_lifetime_s=token_lifetime_s)
    res = bot.flow.res
    deliverer = DiscordDeliverer(bot, storage, res.tokens, bot.flow.stop_watching)
    deliverers: dict[Channel, Deliverer] = {Channel.DISCORD: deliverer}
    notifiers: dict[Channel, Notifier] = {Channel.DISCORD: DiscordNotifier(bot)}
    delivery_res = DeliveryResources(settings, db, storage, deliverers, notifiers)
    stop = asyncio.Event()
    try:
        await login(bot, settings)
    except BaseException:
        await bot.close()
        raise
    gateway = asyncio.create_task(bot.connect(reconnect=True))
    delivery = asyncio.create_task(
        keep_running(
            lambda: delivery_workers(delivery_res, queue, [Channel.DISCORD]),
            stop,
            "discord delivery",
        )
    )
    try:
        yield RunningBot(bot, gateway, delivery)
    finally:
        stop.set()
        await delivery
        await bot.flow.close()
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await gateway


async def run(settings: Settings, db: Database, storage: Storage, queue: ArqRedis) -> None:
    """``swapzy bot discord``: on the gateway until SIGINT/SIGTERM."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_bot(settings, db, storage, queue) as running:
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, running.gateway], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if running.gateway in done:
            running.gateway.result()  # a login/gateway failure ends the process with its error
        log.info("discord bot stopping")


async def sync(settings: Settings, db: Database, storage: Storage, queue: ArqRedis) -> int:
    """``swapzy bot discord --sync``: register the slash commands globally; returns how many."""
    bot = build_bot(settings, db, storage, queue)
    async with bot:
        await login(bot, settings)
        synced = await bot.tree.sync()
    return len(synced)
