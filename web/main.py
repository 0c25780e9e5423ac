"""``swapzy web``: the web process. Builds its resources once in the app's lifespan; also runs
the delivery worker for the built-in channels (CLI and web), which hand results back through
Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from core.config import Settings
from core.db.migrate import check_schema
from core.db.models import Channel
from core.db.session import Database
from core.storage import build_storage
from jobs.connect import connect_queue, redis_url
from jobs.contract import Deliverer
from jobs.delivery import DeliveryResources, InboxDeliverer, delivery_workers
from jobs.runner import keep_running
from web.app import create_app
from web.health import health_router
from web.resources import WebResources
from web.site import site_routers
from web.stripe_webhook import stripe_router

log = logging.getLogger("swapzy.web")

BUILTIN_CHANNELS = (Channel.CLI, Channel.WEB)


def build_app(settings: Settings) -> FastAPI:
    storage = build_storage(settings)
    routers = [health_router(), *site_routers(), stripe_router()]
    telegram = None
    secret = settings.telegram_webhook_secret.get_secret_value()
    if settings.telegram_token.get_secret_value() and secret:
        from bots.telegram.app import build_application, webhook_router

        telegram = build_application(settings)
        routers.append(webhook_router(telegram, secret))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database.connect(settings.sqlalchemy_url)
        queue = await connect_queue(redis_url(settings))
        stop = asyncio.Event()
        delivery: asyncio.Task[None] | None = None
        try:
            await check_schema(db)
            app.state.resources = WebResources(settings, db, storage, queue)
            deliverers: dict[Channel, Deliverer] = {
                channel: InboxDeliverer(queue) for channel in BUILTIN_CHANNELS
            }
            delivery_resources = DeliveryResources(settings, db, storage, deliverers)
            delivery = asyncio.create_task(
                keep_running(
                    lambda: delivery_workers(delivery_resources, queue, list(BUILTIN_CHANNELS)),
                    stop,
                    "delivery",
                )
            )
            async with contextlib.AsyncExitStack() as bots:
                if telegram is not None:
                    from bots.telegram.app import running_bot, set_webhook

                    bot = await bots.enter_async_context(
                        running_bot(settings, db, storage, queue, telegram)
                    )
                    await set_webhook(bot, settings)
                yield
        finally:
            stop.set()
            if delivery is not None:
                await delivery
            await queue.aclose()
            await db.close()

    return create_app(settings, storage=storage, extra_routers=routers, lifespan=lifespan)


def uvicorn_config(app: Any, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.web_host,
        port=settings.web_port,
        log_level="warning",
        lifespan="on",
        proxy_headers=True,
    )


def serve(settings: Settings) -> None:
    server = uvicorn.Server(uvicorn_config(build_app(settings), settings))
    server.run()
