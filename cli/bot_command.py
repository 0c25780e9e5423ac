"""``swapzy bot telegram``: run a chat bot in polling mode (webhook mode runs in `swapzy web`)."""

from __future__ import annotations

import typer

bot_app = typer.Typer(name="bot", help="Run a chat bot.", no_args_is_help=True)


@bot_app.command()
def telegram() -> None:
    """The Telegram bot, long polling (set SWAPZY_TELEGRAM_TOKEN; SWAPZY_TELEGRAM_API_URL for a
    self-hosted Bot API server). Also delivers finished clips to Telegram chats."""
    import asyncio

    from cli.main import fail, load_settings, run_guarded, setup_logging

    settings = load_settings()
    if not settings.telegram_token.get_secret_value():
        fail("set SWAPZY_TELEGRAM_TOKEN to the token @BotFather gave you.", 15)
    setup_logging()
    try:
        asyncio.run(_poll(settings))
    except typer.Exit:
        raise
    except BaseException:
        run_guarded(settings, "running the Telegram bot")
        raise


async def _poll(settings: object) -> None:
    from bots.telegram.app import poll
    from core.config import Settings
    from core.db.migrate import check_schema
    from core.db.session import Database
    from core.storage import build_storage
    from jobs.connect import connect_queue, redis_url

    assert isinstance(settings, Settings)
    db = Database.connect(settings.sqlalchemy_url)
    queue = await connect_queue(redis_url(settings))
    try:
        await check_schema(db)
        await poll(settings, db, build_storage(settings), queue)
    finally:
        await queue.aclose()
        await db.close()


@bot_app.command()
def discord(
    sync: bool = typer.Option(
        False, "--sync", help="Register the slash commands with Discord, then exit."
    ),
) -> None:
    """The Discord bot on the gateway (set SWAPZY_DISCORD_TOKEN). Also delivers finished clips
    to Discord. --sync registers the slash commands (run it once after adding or changing one;
    starting the bot never does)."""
    import asyncio

    from cli.main import fail, load_settings, run_guarded, setup_logging

    settings = load_settings()
    if not settings.discord_token.get_secret_value():
        fail("set SWAPZY_DISCORD_TOKEN to your bot's token (Discord developer portal).", 15)
    setup_logging()
    try:
        asyncio.run(_discord(settings, sync))
    except typer.Exit:
        raise
    except BaseException:
        run_guarded(settings, "running the Discord bot")
        raise


async def _discord(settings: object, sync: bool) -> None:
    from bots.discord import app
    from core.config import Settings
    from core.db.migrate import check_schema
    from core.db.session import Database
    from core.storage import build_storage
    from jobs.connect import connect_queue, redis_url

    assert isinstance(settings, Settings)
    db = Database.connect(settings.sqlalchemy_url)
    queue = await connect_queue(redis_url(settings))
    try:
        await check_schema(db)
        if sync:
            count = await app.sync(settings, db, build_storage(settings), queue)
            typer.echo(f"Registered {count} slash commands with Discord.")
        else:
            await app.run(settings, db, build_storage(settings), queue)
    finally:
        await queue.aclose()
        await db.close()
