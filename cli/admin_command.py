"""``swapzy admin``: grant or revoke Pro and extra swaps, and list grants. Registered in
``cli/main.py`` with ``app.add_typer(admin_app)``.

``--as`` names the admin acting (a platform identity such as ``telegram:12345``); it must be in
``SWAPZY_ADMINS`` or the command is refused (exit 17), and it is recorded with the change. The
command talks to the database directly, so whoever runs it already holds the database's keys: the
check keeps honest operators from mistakes and every change attributable, it is not a barrier
against someone with those keys (the web admin page checks the signed-in identity instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import typer

from core.config import Settings

T = TypeVar("T")

admin_app = typer.Typer(
    name="admin",
    help="Admins only: grant or revoke Pro and extra swaps (with a reason and an expiry).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

AsOption = Annotated[
    str,
    typer.Option("--as", help="Your admin identity, e.g. telegram:12345 (see SWAPZY_ADMINS)."),
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why; kept with the change.")]


def _run(action: str, work: Callable[[Settings], Coroutine[object, object, T]]) -> T:
    from cli.main import load_settings, run_guarded

    settings = load_settings()
    try:
        return asyncio.run(work(settings))
    except typer.Exit:
        raise
    except BaseException:
        run_guarded(settings, action)
        raise


async def _resolve_user(settings: Settings, who: str) -> str:
    """``telegram:123`` / ``discord:456`` / ``web:...`` identity, or a Swapzy user id."""
    from sqlalchemy import select

    from core.db.models import Channel, ChannelIdentity, User
    from core.db.session import Database
    from core.errors import InputError

    db = Database.connect(settings.sqlalchemy_url)
    try:
        async with db.sessions() as session:
            channel, sep, external = who.partition(":")
            if sep and channel in {c.value for c in Channel}:
                found = await session.scalar(
                    select(ChannelIdentity.user_id).where(
                        ChannelIdentity.channel == Channel(channel),
                        ChannelIdentity.external_id == external,
                    )
                )
            else:
                found = await session.scalar(select(User.id).where(User.id == who))
    finally:
        await db.close()
    if found is None:
        raise InputError(f"No user {who!r} (use telegram:ID, discord:ID or a user id).")
    return found


async def _notify(settings: Settings, user_id: str) -> None:
    """Hand the user's unsent plan notices to their channel (best effort: Redis may be down)."""
    from billing.notices import unsent
    from core.db.session import Database
    from jobs.connect import connect_queue, redis_url
    from jobs.delivery import enqueue_notices

    db = Database.connect(settings.sqlalchemy_url)
    try:
        async with db.sessions() as session:
            ids = await unsent(session, user_id)
        if ids:
            queue = await connect_queue(redis_url(settings))
            try:
                await enqueue_notices(db, queue, ids)
            finally:
                await queue.aclose()
    except Exception as exc:
        typer.echo(f"(the user will be told later: {exc})", err=True)
    finally:
        await db.close()


@admin_app.command()
def grant(
    who: Annotated[str, typer.Argument(help="telegram:ID, discord:ID or a Swapzy user id.")],
    as_: AsOption,
    reason: ReasonOption,
    pro: Annotated[bool, typer.Option("--pro", help="Grant Pro.")] = False,
    credits: Annotated[int, typer.Option("--credits", help="Grant N extra swaps.")] = 0,
    days: Annotated[int, typer.Option("--days", help="Expires after this many days.")] = 30,
) -> None:
    """Give a user Pro or extra swaps until an expiry."""
    if pro == (credits > 0):
        typer.echo("swapzy: say what to grant: --pro or --credits N (one of them).", err=True)
        raise typer.Exit(2)

    async def work(settings: Settings) -> str:
        from billing import entitlements
        from core.db.session import Database

        entitlements.require_admin(settings.admins, as_)
        user_id = await _resolve_user(settings, who)
        db = Database.connect(settings.sqlalchemy_url)
        try:
            row = await entitlements.grant(
                db, admins=settings.admins, by=as_, user_id=user_id,
                what="pro" if pro else "credits", amount=credits, reason=reason,
                expires_at=datetime.now(UTC) + timedelta(days=days),
            )  # fmt: skip
        finally:
            await db.close()
        await _notify(settings, user_id)
        what = "Pro" if pro else f"{credits} extra swaps"
        until = f"{row.expires_at:%Y-%m-%d %H:%M} UTC"
        return f"Granted {what} to {who} until {until} (grant {row.id})."

    typer.echo(_run("granting", work))


@admin_app.command()
def revoke(
    grant_id: Annotated[int, typer.Argument(help="The grant's number (see `swapzy admin list`).")],
    as_: AsOption,
    reason: ReasonOption,
) -> None:
    """End a grant now."""

    async def work(settings: Settings) -> str:
        from billing import entitlements
        from core.db.session import Database

        db = Database.connect(settings.sqlalchemy_url)
        try:
            await entitlements.revoke(
                db, admins=settings.admins, by=as_, grant_id=grant_id, reason=reason
            )
        finally:
            await db.close()
        return f"Revoked grant {grant_id}."

    typer.echo(_run("revoking", work))


@admin_app.command("list")
def list_(
    as_: AsOption,
    who: Annotated[str | None, typer.Argument(help="Only this user's grants.")] = None,
) -> None:
    """Every grant, newest first (revoked and expired ones marked)."""

    async def work(settings: Settings) -> list[str]:
        from billing import entitlements
        from core.db.models import utcnow
        from core.db.session import Database

        entitlements.require_admin(settings.admins, as_)
        user_id = await _resolve_user(settings, who) if who else None
        db = Database.connect(settings.sqlalchemy_url)
        try:
            rows = await entitlements.list_grants(
                db, admins=settings.admins, by=as_, user_id=user_id
            )
        finally:
            await db.close()
        now = utcnow()
        lines = []
        for g in rows:
            what = "pro" if g.what == "pro" else f"credits {g.remaining}/{g.amount}"
            state = (
                f"revoked by {g.revoked_by}"
                if g.revoked_at
                else ("expired" if g.expires_at <= now else "active")
            )
            lines.append(
                f"{g.id}\t{g.user_id}\t{what}\tuntil {g.expires_at:%Y-%m-%d}\t{state}\t"
                f"by {g.granted_by}: {g.reason}"
            )
        return lines or ["No grants."]

    for line in _run("listing grants", work):
        typer.echo(line)
