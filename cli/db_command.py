"""``swapzy db``: the database schema. Registered in ``cli/main.py`` with ``app.add_typer(db_app)``.

Every failure is one line on stderr with the error's exit code (an unreachable database: 14).
"""

from __future__ import annotations

from typing import Annotated

import typer

from core.config import Settings

db_app = typer.Typer(
    name="db",
    help="The database schema: bring it to this version's head, or show where it is.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Database URL (default: SWAPZY_MIGRATE_DATABASE_URL, else SWAPZY_DATABASE_URL, "
        "else SQLite under the data folder).",
        show_default=False,
    ),
]


def _url(settings: Settings, given: str | None) -> str:
    return given or settings.migrate_database_url or settings.sqlalchemy_url


def load_settings() -> Settings:
    from cli.main import load_settings as cli_settings  # at call time, as in _guard

    return cli_settings()


def _guard(settings: Settings, action: str) -> None:
    from cli.main import run_guarded  # at call time: cli.main imports this module

    run_guarded(settings, action)


@db_app.command()
def upgrade(
    url: UrlOption = None,
    app_role: Annotated[
        str | None,
        typer.Option(
            "--app-role",
            help="PostgreSQL role the app connects as: granted row access (no schema changes). "
            "Default: SWAPZY_DB_APP_ROLE.",
            show_default=False,
        ),
    ] = None,
    anchor_role: Annotated[
        str | None,
        typer.Option(
            "--anchor-role",
            help="PostgreSQL role that may only read the audit log (verify, anchor). "
            "Default: SWAPZY_DB_ANCHOR_ROLE.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Bring the database schema up to this version's head (safe to run again)."""
    from core.db import migrate
    from core.db.session import is_sqlite

    settings = load_settings()
    target = _url(settings, url)
    role = settings.db_app_role if app_role is None else app_role
    reader = settings.db_anchor_role if anchor_role is None else anchor_role
    try:
        migrate.upgrade(target, app_role=role, anchor_role=reader)
        now = migrate.current(target)
    except typer.Exit:
        raise
    except BaseException:
        _guard(settings, "upgrading the database")
        raise
    granted = f", row access granted to {role}" if role and not is_sqlite(target) else ""
    if reader and not is_sqlite(target):
        granted += f", audit log readable by {reader}"
    typer.echo(f"Database at head ({now}){granted}: {migrate.display_url(target)}")


@db_app.command()
def current(url: UrlOption = None) -> None:
    """Show the revision the database is at, and whether this code can use it."""
    from core.db import migrate

    settings = load_settings()
    target = _url(settings, url)
    try:
        now = migrate.current(target)
        needed = migrate.head()
        problem = migrate.schema_problem(now, needed)
    except typer.Exit:
        raise
    except BaseException:
        _guard(settings, "reading the database's schema version")
        raise
    state = "head" if problem is None else f"this code needs {needed}"
    typer.echo(f"{now or 'empty'} ({state}): {migrate.display_url(target)}")
