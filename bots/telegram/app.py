"""Wiring: the PTB ``Application`` with our handlers, the delivery worker for the ``telegram``
queue, and the two run modes (polling: ``swapzy bot telegram``; webhook: a route in the web
app)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from arq.connections import ArqRedis
from fastapi import APIRouter, Request, Response
from telegram import Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from billing.portal import Portal, stripe_client
from billing.quota import PlanAdmission
from bots.telegram.delivery import TelegramDeliverer, TelegramNotifier
from bots.telegram.flow import BotResources, SwapFlow
from bots.telegram.handlers import Handlers
from bots.telegram.pending import PendingStore
from core.config import Settings
from core.db.models import Channel
from core.db.session import Database
from core.storage import Storage
from jobs.contract import Deliverer, Notifier
from jobs.delivery import DeliveryResources, delivery_workers
from jobs.runner import keep_running
from jobs.submit import Submitter

log = logging.getLogger("swapzy.telegram")

CLOUD_API = "https://api.telegram.org"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    token = settings.telegram_token.get_secret_value()
    api = (settings.telegram_api_url or CLOUD_API).rstrip("/")
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .rate_limiter(AIORateLimiter())
        .concurrent_updates(True)  # one slow download must not hold up other chats
        .build()
    )


@dataclass
class TelegramBot:
    """The running bot: its application, flow and delivery worker."""

    application: Application  # type: ignore[type-arg]
    flow: SwapFlow
    delivery: asyncio.Task[None]
    stop: asyncio.Event

    async def close(self) -> None:
        self.stop.set()
        await self.delivery
        await self.flow.close()


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings,
    db: Database,
    storage: Storage,
    queue: ArqRedis,
    application: Application | None = None,  # type: ignore[type-arg]
) -> AsyncIterator[TelegramBot]:
    """Initialise and start the application (no updates fetched: the caller picks polling or
    webhook) and the delivery worker; stop both on exit."""
    # httpx logs every URL at INFO, and Bot API URLs hold the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    application = application or build_application(settings)
    submitter = Submitter(settings, db, storage, queue, PlanAdmission(settings))
    resources = BotResources(settings, db, storage, submitter, PendingStore(queue), queue)
    flow = SwapFlow(resources)
    Handlers(flow, Portal(settings, db, stripe_client(settings))).register(application)
    _, upload_limit = settings.telegram_limits
    deliverers: dict[Channel, Deliverer] = {
        Channel.TELEGRAM: TelegramDeliverer(application.bot, storage, upload_limit)
    }
    notifiers: dict[Channel, Notifier] = {Channel.TELEGRAM: TelegramNotifier(application.bot)}
    delivery_res = DeliveryResources(settings, db, storage, deliverers, notifiers)
    stop = asyncio.Event()
    async with application:
        await application.start()
        delivery = asyncio.create_task(
            keep_running(
                lambda: delivery_workers(delivery_res, queue, [Channel.TELEGRAM]),
                stop,
                "telegram delivery",
            )
        )
        bot = TelegramBot(application, flow, delivery, stop)
        try:
            yield bot
        finally:
            await bot.close()
            await application.stop()


async def poll(settings: Settings, db: Database, storage: Storage, queue: ArqRedis) -> None:
    """``swapzy bot telegram``: long polling until SIGINT/SIGTERM."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_bot(settings, db, storage, queue) as bot:
        updater = bot.application.updater
        assert updater is not None
        await bot.application.bot.delete_webhook()
        await updater.start_polling(allowed_updates=["message", "callback_query"])
        me = bot.application.bot.username
        log.info("telegram bot @%s polling", me)
        await stop.wait()
        await updater.stop()


async def set_webhook(bot: TelegramBot, settings: Settings) -> None:
    await bot.application.bot.set_webhook(
        url=settings.public_url.rstrip("/") + WEBHOOK_PATH,
        secret_token=settings.telegram_webhook_secret.get_secret_value(),
        allowed_updates=["message", "callback_query"],
    )


def webhook_router(application: Application, secret: str) -> APIRouter:  # type: ignore[type-arg]
    """POST /telegram/webhook: checks Telegram's secret header (constant time), queues the
    update and answers 200 at once; the application processes it in the background."""
    router = APIRouter(tags=["telegram"])
    expected = secret.encode()

    @router.post(WEBHOOK_PATH)
    async def webhook(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return Response(status_code=403)
        try:
            update = Update.de_json(await request.json(), application.bot)
        except ValueError:
            return Response(status_code=400)
        await application.update_queue.put(update)
        return Response(status_code=200)

    return router
