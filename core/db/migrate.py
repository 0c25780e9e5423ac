"""Schema migrations, run programmatically (no alembic.ini): ``swapzy db upgrade`` and the
start-up check that the database is at the schema this code needs.

Production runs migrations as the schema owner (``migrate_database_url``) and the app as a
DML-only role (``db_app_role``): ``upgrade(..., app_role=...)`` grants that role row access to
every table and sequence, only SELECT on ``alembic_version``, and only INSERT and SELECT on the
audit log. ``anchor_role`` (``db_anchor_role``) may only read the audit log (verify, anchor).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, event, pool, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from core.db.audit_models import AUDIT_TABLE
from core.db.session import Database, is_sqlite, sqlite_pragmas, sync_url
from core.errors import ServiceUnavailable, SwapzyError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
# Serialises concurrent `swapzy db upgrade` runs on PostgreSQL (e.g. two tasks deploying at once).
_PG_LOCK_KEY = 0x5357_4150  # "SWAP"
_CONNECT_TIMEOUT_S = 10


class MigrationFailed(SwapzyError):
    """The database was reached but refused the migration (permissions, a bad role ...)."""

    code = "migration_failed"


def display_url(url: str) -> str:
    """The URL fit to print: the password, if any, replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config built in code, pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolation: a literal % (URL-encoded password) must be doubled.
        cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return cfg


def head() -> str:
    """The revision this code needs."""
    rev = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if rev is None:  # pragma: no cover - the package always ships 0001
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return rev


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    return lines[0] if lines else type(orig).__name__


def _unreachable(url: str, exc: BaseException) -> ServiceUnavailable:
    return ServiceUnavailable(f"cannot reach the database at {display_url(url)}: {_reason(exc)}")


def _checked_sync_url(url: str) -> str:
    """``sync_url``, with a URL that cannot be used turned into ``ServiceUnavailable``."""
    try:
        sync = sync_url(url)
        backend = make_url(sync).get_backend_name()
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ServiceUnavailable(
            f"cannot reach the database at {display_url(url)}: not a database URL we can use "
            f"({_reason(exc)})"
        ) from exc
    if backend not in ("sqlite", "postgresql"):
        raise ServiceUnavailable(
            f"cannot reach the database at {display_url(url)}: {backend} is not supported "
            "(use sqlite:///path/to/file.db or postgresql://user@host/db)"
        )
    return sync


def _sqlite_file(sync: str) -> Path | None:
    database = make_url(sync).database if is_sqlite(sync) else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


@contextmanager
def _connect(url: str, *, begin: bool) -> Iterator[Connection]:
    """A connection (in a transaction when ``begin``); a URL that cannot be used or a server
    that cannot be reached becomes ``ServiceUnavailable`` (exit 14)."""
    sync = _checked_sync_url(url)
    if (path := _sqlite_file(sync)) is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unreachable(url, exc) from exc
    connect_args = {} if is_sqlite(sync) else {"connect_timeout": _CONNECT_TIMEOUT_S}
    engine = create_engine(sync, poolclass=pool.NullPool, connect_args=connect_args)
    if is_sqlite(sync):  # a new file is WAL from its first table on, as the app opens it
        event.listen(engine, "connect", sqlite_pragmas)
    try:
        try:
            conn = engine.connect()
        except (DBAPIError, OSError) as exc:
            raise _unreachable(url, exc) from exc
        with conn:
            if begin:
                with conn.begin():
                    yield conn
            else:
                yield conn
    finally:
        engine.dispose()


def _run(
    url: str, action: str, *, app_role: str = "", anchor_role: str = "", revision: str
) -> None:
    cfg = alembic_config(_checked_sync_url(url))
    try:
        with _connect(url, begin=True) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            cfg.attributes["connection"] = conn
            if action == "upgrade":
                command.upgrade(cfg, revision)
            else:
                command.downgrade(cfg, revision)
            if app_role and conn.dialect.name == "postgresql":
                grant_app_role(conn, app_role)
            if anchor_role and conn.dialect.name == "postgresql":
                grant_anchor_role(conn, anchor_role)
    except SwapzyError:
        raise
    except SQLAlchemyError as exc:
        raise MigrationFailed(
            f"the database at {display_url(url)} refused the {action}: {_reason(exc)}"
        ) from exc


def upgrade(url: str, *, app_role: str = "", anchor_role: str = "", revision: str = "head") -> None:
    """Bring the schema at ``url`` up to ``revision`` in one transaction (PostgreSQL; SQLite has
    no transactional DDL). ``app_role`` (PostgreSQL only) gets row access to what exists then;
    ``anchor_role`` may read the audit log and nothing else."""
    _run(url, "upgrade", app_role=app_role, anchor_role=anchor_role, revision=revision)


def downgrade(url: str, revision: str) -> None:
    """Take the schema back to ``revision`` (``"base"``: nothing). Drops data: tests and
    operators only."""
    _run(url, "downgrade", revision=revision)


def grant_app_role(conn: Connection, role: str) -> None:
    """Row access for the app's role: DML on every table, sequences for ids, and only SELECT on
    the schema version (the app reads it at start-up but must never change it)."""
    q = conn.dialect.identifier_preparer.quote
    r, version = q(role), q(VERSION_TABLE)
    for stmt in (
        f"GRANT USAGE ON SCHEMA public TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {version} FROM {r}",
        f"GRANT SELECT ON {version} TO {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {r}",
    ):
        conn.execute(text(stmt))
    if _has_audit_log(conn):  # append-only: rows may be added and read, never changed
        audit = q(AUDIT_TABLE)
        conn.execute(text(f"REVOKE ALL ON {audit} FROM {r}"))
        conn.execute(text(f"GRANT SELECT, INSERT ON {audit} TO {r}"))


def grant_anchor_role(conn: Connection, role: str) -> None:
    """The anchor/verify role: SELECT on the audit log, nothing else."""
    if not _has_audit_log(conn):
        return
    q = conn.dialect.identifier_preparer.quote
    r, audit = q(role), q(AUDIT_TABLE)
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {r}"))
    conn.execute(text(f"REVOKE ALL ON {audit} FROM {r}"))
    conn.execute(text(f"GRANT SELECT ON {audit} TO {r}"))


def _has_audit_log(conn: Connection) -> bool:
    found = conn.execute(text("SELECT to_regclass(:t)"), {"t": f"public.{AUDIT_TABLE}"})
    return found.scalar() is not None


def _revision_of(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at; None when it has no schema yet (a SQLite file
    that does not exist is not created)."""
    path = _sqlite_file(_checked_sync_url(url))
    if path is not None and not path.exists():
        return None
    with _connect(url, begin=False) as conn:
        return _revision_of(conn)


def schema_problem(now: str | None, needed: str) -> str | None:
    """Why a database at revision ``now`` cannot be used by this code, or None when it can."""
    if now == needed:
        return None
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if now is not None and now not in known:
        return (
            f"the database schema is at {now}, which this code does not know (it needs "
            f"{needed}): a newer swapzy upgraded it; run that version"
        )
    return (
        f"the database schema is at {now or 'nothing (an empty database)'}, this code needs "
        f"{needed}: run `swapzy db upgrade`"
    )


async def check_schema(db: Database) -> None:
    """Refuse to start on a database that is not at this code's schema (``ServiceUnavailable``,
    with what to do), or that cannot be reached."""
    shown = db.engine.url.render_as_string(hide_password=True)
    path = _sqlite_file(sync_url(db.engine.url.render_as_string(hide_password=False)))
    now: str | None = None
    if path is None or path.exists():  # a SQLite file not made yet: empty, and left uncreated
        try:
            async with db.engine.connect() as conn:
                now = await conn.run_sync(_revision_of)
        except (DBAPIError, OSError) as exc:
            raise ServiceUnavailable(
                f"cannot reach the database at {shown}: {_reason(exc)}"
            ) from exc
    problem = schema_problem(now, head())
    if problem is not None:
        raise ServiceUnavailable(problem)
