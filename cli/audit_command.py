"""``swapzy audit``: prove the audit log. Registered in ``cli/main.py`` with
``app.add_typer(audit_app)``.

``verify`` walks the chain, recomputes every hash and checks every anchor; it exits 16 with one
line naming the first break (row, expected, found). ``anchor`` writes the head to the anchor
store (an append-only folder, or S3 Object Lock). Both connect with SWAPZY_AUDIT_DATABASE_URL
(the read-only anchor role in production), else the app's database.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from core.config import Settings

AUDIT_BROKEN_EXIT = 16

audit_app = typer.Typer(
    name="audit",
    help="The audit log: verify its hash chain and anchors, or anchor its head now.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Database URL (default: SWAPZY_AUDIT_DATABASE_URL, else SWAPZY_DATABASE_URL, "
        "else SQLite under the data folder).",
        show_default=False,
    ),
]


def _url(settings: Settings, given: str | None) -> str:
    return given or settings.audit_database_url or settings.sqlalchemy_url


def _settings() -> Settings:
    from cli.main import load_settings  # at call time: cli.main imports this module

    return load_settings()


def _guard(settings: Settings, action: str) -> None:
    from cli.main import run_guarded

    run_guarded(settings, action)


def _unusable(url: str, exc: BaseException) -> BaseException:
    """A database error as one line: no audit log there, or not reachable."""
    from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

    from core.db.migrate import display_url
    from core.errors import ServiceUnavailable

    if isinstance(exc, ProgrammingError | OperationalError) and "audit_log" in str(exc):
        return ServiceUnavailable(
            f"the database at {display_url(url)} has no readable audit log "
            "(run `swapzy db upgrade`, or check the role's grants)"
        )
    if isinstance(exc, DBAPIError | OSError):
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return ServiceUnavailable(f"cannot reach the database at {display_url(url)}: {reason}")
    return exc


async def _verify(settings: Settings, url: str) -> str:
    from core import audit
    from core.anchors import build_anchor_store
    from core.db.session import Database

    anchors = await asyncio.to_thread(build_anchor_store(settings).read_all)
    db = Database.connect(url)
    try:
        report = await audit.verify(db, anchors)
    finally:
        await db.close()
    if report.broken is not None:
        typer.echo(f"swapzy: audit log broken at {report.broken}", err=True)
        raise typer.Exit(AUDIT_BROKEN_EXIT)
    top = f"head {report.head.seq} {report.head.hash[:16]}" if report.head else "empty"
    return f"Audit log intact: {report.rows} rows, {report.anchors} anchors checked ({top})."


@audit_app.command()
def verify(url: UrlOption = None) -> None:
    """Recompute every hash and check every anchor; exit 16 naming the first break."""
    settings = _settings()
    target = _url(settings, url)
    try:
        try:
            line = asyncio.run(_verify(settings, target))
        except typer.Exit:
            raise
        except Exception as exc:
            raise _unusable(target, exc) from exc
    except typer.Exit:
        raise
    except BaseException:
        _guard(settings, "verifying the audit log")
        raise
    typer.echo(line)


async def _anchor(settings: Settings, url: str, if_due: bool) -> str:
    from core.anchors import Anchorer, build_anchor_store
    from core.db.session import Database

    db = Database.connect(url)
    try:
        anchorer = Anchorer(
            db,
            build_anchor_store(settings),
            settings.audit_anchor_every_rows,
            settings.audit_anchor_every_s,
        )
        made = await (anchorer.anchor_if_due() if if_due else anchorer.anchor_now())
    finally:
        await db.close()
    if made is None:
        return "Nothing to anchor (the log is empty or the last anchor is recent)."
    return f"Anchored row {made.seq} {made.hash[:16]} at {made.time.isoformat()}."


@audit_app.command()
def anchor(
    url: UrlOption = None,
    if_due: Annotated[
        bool, typer.Option("--if-due", help="Only when N rows or an hour behind (cron use).")
    ] = False,
) -> None:
    """Write the log's head ({seq, hash, time}) to the anchor store."""
    settings = _settings()
    target = _url(settings, url)
    try:
        try:
            line = asyncio.run(_anchor(settings, target, if_due))
        except Exception as exc:
            raise _unusable(target, exc) from exc
    except BaseException:
        _guard(settings, "anchoring the audit log")
        raise
    typer.echo(line)
