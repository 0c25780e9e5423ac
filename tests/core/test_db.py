"""Migrations and the models on real databases: an empty SQLite file and a fresh PostgreSQL
database (``database_url`` runs each test on both), plus PostgreSQL's split between the schema
owner and the app's DML-only role."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from psycopg import sql
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from core.db import migrate
from core.db.models import (
    AssetKind,
    Channel,
    ChannelIdentity,
    JobState,
    Lane,
    MediaAsset,
    SwapJob,
    User,
)
from core.db.schema import metadata
from core.db.session import Database, sync_url
from core.errors import ServiceUnavailable
from tests.fixtures_postgres import admin_execute, url_for

MODEL_TABLES = set(metadata.tables)
HEAD = migrate.head()
INSTANT = datetime(2025, 3, 4, 5, 6, 7, 890_000, tzinfo=UTC)
PLUS_FIVE = timezone(timedelta(hours=5))


def table_names(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def schema_diff(url: str) -> list[object]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


def execute(url: str, statement: str) -> None:
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def new_job(user: User, target: MediaAsset, source: MediaAsset, **fields: object) -> SwapJob:
    return SwapJob(
        user_id=user.id, channel=Channel.TELEGRAM, target_asset_id=target.id,
        source_asset_id=source.id, **fields,
    )  # fmt: skip


def new_assets(user: User) -> tuple[MediaAsset, MediaAsset]:
    def asset(kind: AssetKind) -> MediaAsset:
        return MediaAsset(
            user_id=user.id, kind=kind, storage_key=f"in/{uuid.uuid4().hex}",
            content_type="image/gif", bytes=12_345, sha256="ab" * 32, width=320, height=240,
            frames=24,
        )  # fmt: skip

    return asset(AssetKind.TARGET), asset(AssetKind.SOURCE)


def test_upgrade_reaches_head_and_is_idempotent(database_url: str) -> None:
    assert migrate.current(database_url) is None
    migrate.upgrade(database_url)
    assert migrate.current(database_url) == migrate.head() == HEAD
    assert table_names(database_url) == MODEL_TABLES | {"alembic_version"}
    migrate.upgrade(database_url)  # again: nothing to do, nothing breaks
    assert migrate.current(database_url) == migrate.head()


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert schema_diff(database_url) == []
    # The comparison does see differences: take an index away and it reports it.
    execute(database_url, "DROP INDEX ix_swap_jobs_state")
    assert [d[0] for d in schema_diff(database_url) if isinstance(d, tuple)] == ["add_index"]


async def _round_trip(url: str) -> None:
    db = Database.connect(url)
    try:
        async with db.sessions() as s:
            user = User(display_name="Ada", created_at=INSTANT.astimezone(PLUS_FIVE))
            s.add(user)
            await s.flush()
            ident = ChannelIdentity(user_id=user.id, channel=Channel.TELEGRAM, external_id="42")
            target, source = new_assets(user)
            s.add_all([ident, target, source])
            await s.flush()
            job = new_job(
                user, target, source, reply_to={"chat_id": -100, "message_id": 7},
                dedup_key="tg:-100:7", lane=Lane.PRO, started_at=INSTANT.astimezone(PLUS_FIVE),
                quality={"id_gain": 0.31, "faces": [1, 2]},
            )  # fmt: skip
            s.add(job)
            await s.commit()
            ids = (user.id, ident.id, target.id, job.id)
        async with db.sessions() as s:
            got_user = await s.get(User, ids[0])
            got_ident = await s.get(ChannelIdentity, ids[1])
            got_target = await s.get(MediaAsset, ids[2])
            got = await s.get(SwapJob, ids[3])
            assert got_user is not None and got_ident is not None
            assert got_target is not None and got is not None
            assert got_user.display_name == "Ada" and got_user.plan == "free"
            assert isinstance(got_ident.id, int) and got_ident.channel is Channel.TELEGRAM
            assert (got_target.kind, got_target.bytes, got_target.frames) == (
                AssetKind.TARGET, 12_345, 24,
            )  # fmt: skip
            assert got.state is JobState.QUEUED and got.lane is Lane.PRO
            assert got.reply_to == {"chat_id": -100, "message_id": 7}
            assert got.quality == {"id_gain": 0.31, "faces": [1, 2]}
            assert (got.attempts, got.frames_done, got.faces, got.output_format) == (
                0, 0, "largest", "gif",
            )  # fmt: skip
            for when in (got_user.created_at, got.started_at):
                assert when == INSTANT  # the same instant, microseconds kept
                assert when is not None and when.utcoffset() == timedelta(0)
            assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == timedelta(0)
            rows = (await s.execute(select(SwapJob).where(SwapJob.user_id == ids[0]))).all()
            assert len(rows) == 1
    finally:
        await db.close()


def test_round_trip(database_url: str) -> None:
    migrate.upgrade(database_url)
    asyncio.run(_round_trip(database_url))


def test_datetimes_are_utc_whatever_the_postgres_session_time_zone(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    asyncio.run(_round_trip(f"{postgres_url}?options=-c%20timezone%3DEurope/Berlin"))


async def _dedup(url: str) -> None:
    db = Database.connect(url)
    try:
        async with db.sessions() as s:
            user = User()
            s.add(user)
            await s.flush()
            target, source = new_assets(user)
            s.add_all([target, source])
            await s.flush()
            # No dedup key (the CLI): any number of jobs.
            s.add_all([new_job(user, target, source), new_job(user, target, source)])
            s.add(new_job(user, target, source, dedup_key="tg:1:2"))
            await s.commit()
        async with db.sessions() as s:
            s.add(new_job(user, target, source, dedup_key="tg:1:2"))
            with pytest.raises(IntegrityError):
                await s.commit()
        async with db.sessions() as s:
            keys = (await s.scalars(select(SwapJob.dedup_key))).all()
            assert sorted(keys, key=str) == [None, None, "tg:1:2"]
    finally:
        await db.close()


def test_dedup_key_is_unique(database_url: str) -> None:
    migrate.upgrade(database_url)
    asyncio.run(_dedup(database_url))


async def _check(url: str) -> None:
    db = Database.connect(url)
    try:
        await migrate.check_schema(db)
    finally:
        await db.close()


def test_check_schema_refuses_until_upgraded(database_url: str) -> None:
    with pytest.raises(ServiceUnavailable) as empty:
        asyncio.run(_check(database_url))
    assert str(empty.value) == (
        "the database schema is at nothing (an empty database), this code needs "
        f"{HEAD}: run `swapzy db upgrade`"
    )
    assert empty.value.exit_code == 14
    migrate.upgrade(database_url)
    asyncio.run(_check(database_url))
    execute(database_url, "UPDATE alembic_version SET version_num = '0099_future'")
    with pytest.raises(ServiceUnavailable, match="0099_future, which this code does not know"):
        asyncio.run(_check(database_url))


def test_check_schema_on_an_unreachable_database() -> None:
    with pytest.raises(ServiceUnavailable, match=r"^cannot reach the database at .*127\.0\.0\.1:1"):
        asyncio.run(_check("postgresql://nobody:secret@127.0.0.1:1/x"))


def test_downgrade_to_base_then_upgrade_again(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.downgrade(database_url, "base")
    assert migrate.current(database_url) is None
    assert table_names(database_url) == {"alembic_version"}
    migrate.upgrade(database_url)
    assert migrate.current(database_url) == migrate.head()
    assert schema_diff(database_url) == []


class Roles(NamedTuple):
    owner_url: str
    app_url: str
    app: str
    anchor_url: str
    anchor: str


@pytest.fixture
def pg_roles(postgres_server: str, postgres_url: str) -> Iterator[Roles]:
    """A schema owner, an app role and an anchor role (random names and passwords) for
    ``postgres_url``'s database, which the owner owns; the database and the roles are dropped
    afterwards."""
    tag = uuid.uuid4().hex[:8]
    owner, app, db = f"swapzy_owner_{tag}", f"swapzy_app_{tag}", postgres_url.rsplit("/", 1)[1]
    anchor = f"swapzy_anchor_{tag}"
    pw_owner, pw_app, pw_anchor = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    ident = sql.Identifier
    admin_execute(
        postgres_server,
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(ident(owner), sql.Literal(pw_owner)),
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(ident(app), sql.Literal(pw_app)),
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(ident(anchor), sql.Literal(pw_anchor)),
        sql.SQL("ALTER DATABASE {} OWNER TO {}").format(ident(db), ident(owner)),
    )
    try:
        # What PostgreSQL 15+ does already; older servers let PUBLIC create in `public`.
        admin_execute(
            postgres_url,
            sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
            sql.SQL("GRANT CREATE, USAGE ON SCHEMA public TO {}").format(ident(owner)),
        )
        yield Roles(
            url_for(postgres_server, db, owner, pw_owner),
            url_for(postgres_server, db, app, pw_app),
            app,
            url_for(postgres_server, db, anchor, pw_anchor),
            anchor,
        )
    finally:
        admin_execute(
            postgres_server,
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident(db)),
            sql.SQL("DROP ROLE IF EXISTS {}, {}, {}").format(
                ident(owner), ident(app), ident(anchor)
            ),
        )


async def _app_writes_rows(url: str) -> None:
    db = Database.connect(url)
    try:
        await migrate.check_schema(db)  # reading alembic_version is allowed
        async with db.sessions() as s:
            user = User()
            s.add(user)
            await s.flush()
            s.add(ChannelIdentity(user_id=user.id, channel=Channel.DISCORD, external_id="9"))
            target, source = new_assets(user)
            s.add_all([target, source])
            await s.flush()
            job = new_job(user, target, source)
            s.add(job)
            await s.commit()
        async with db.sessions() as s:
            got = await s.get(SwapJob, job.id)
            assert got is not None
            got.state = JobState.RUNNING
            await s.commit()
        async with db.sessions() as s:
            got = await s.get(SwapJob, job.id)
            assert got is not None and got.state is JobState.RUNNING
            await s.delete(got)
            await s.commit()
            assert await s.get(SwapJob, job.id) is None
    finally:
        await db.close()


def test_app_role_gets_rows_but_not_the_schema(pg_roles: Roles) -> None:
    migrate.upgrade(pg_roles.owner_url, app_role=pg_roles.app)
    asyncio.run(_app_writes_rows(pg_roles.app_url))
    refused = [
        "CREATE TABLE public.evil (x int)",
        "DROP TABLE swap_jobs",
        "ALTER TABLE swap_jobs ADD COLUMN evil int",
        "TRUNCATE swap_jobs",
        "UPDATE alembic_version SET version_num = 'x'",
        "DELETE FROM alembic_version",
    ]
    with psycopg.connect(pg_roles.app_url, autocommit=True) as conn:
        for statement in refused:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    assert migrate.current(pg_roles.owner_url) == migrate.head()
    assert "evil" not in table_names(pg_roles.owner_url)


def test_upgrade_with_an_unknown_app_role_changes_nothing(postgres_url: str) -> None:
    with pytest.raises(migrate.MigrationFailed, match='role "swapzy_no_such_role" does not exist'):
        migrate.upgrade(postgres_url, app_role="swapzy_no_such_role")
    assert migrate.current(postgres_url) is None  # one transaction: the tables went too
    assert table_names(postgres_url) == set()


async def _app_appends_audit_events(url: str) -> list[int]:
    from core import audit

    db = Database.connect(url)
    try:
        async with db.sessions() as s:
            user = User()
            s.add(user)
            await s.flush()
            await audit.record(s, "consent.given", {"user": user.id})
            await s.commit()
        async with db.sessions() as s:
            await audit.record(s, "admin.action", {"action": "grant"})
            await s.commit()
        async with db.sessions() as s:
            return list((await s.scalars(text("SELECT seq FROM audit_log ORDER BY seq"))).all())
    finally:
        await db.close()


AUDIT_REFUSED_TO_APP = [
    "UPDATE audit_log SET body = '{}' WHERE seq = 1",
    "DELETE FROM audit_log WHERE seq = 1",
    "TRUNCATE audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain",
    "DROP TRIGGER audit_log_refuse_change ON audit_log",
    "CREATE OR REPLACE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RETURN NULL; END $$",
    "CREATE TRIGGER evil BEFORE UPDATE ON audit_log FOR EACH ROW EXECUTE FUNCTION "
    "audit_log_chain()",
    "DROP TABLE audit_log",
    "ALTER TABLE audit_log RENAME TO audit_old",
    "SET session_replication_role = replica",
    "CREATE INDEX evil ON audit_log (body)",
]


def test_app_role_may_only_append_to_and_read_the_audit_log(pg_roles: Roles) -> None:
    migrate.upgrade(pg_roles.owner_url, app_role=pg_roles.app, anchor_role=pg_roles.anchor)
    assert asyncio.run(_app_appends_audit_events(pg_roles.app_url)) == [1, 2]
    with psycopg.connect(pg_roles.app_url, autocommit=True) as conn:
        for statement in AUDIT_REFUSED_TO_APP:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    with psycopg.connect(pg_roles.owner_url, autocommit=True) as conn:
        got = conn.execute("SELECT seq, kind FROM audit_log ORDER BY seq").fetchall()
        assert got == [(1, "consent.given"), (2, "admin.action")]
        # The owner may not change rows either: the triggers refuse it.
        with pytest.raises(psycopg.errors.RaiseException, match="append-only: UPDATE refused"):
            conn.execute("UPDATE audit_log SET kind = 'x'")


def test_anchor_role_may_only_read_the_audit_log(pg_roles: Roles) -> None:
    migrate.upgrade(pg_roles.owner_url, app_role=pg_roles.app, anchor_role=pg_roles.anchor)
    asyncio.run(_app_appends_audit_events(pg_roles.app_url))
    with psycopg.connect(pg_roles.anchor_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (2,)
        for statement in [
            "INSERT INTO audit_log (seq, kind, body, prev_hash, hash) "
            "VALUES (0, 'a', '{}', '', '')",
            "UPDATE audit_log SET kind = 'x'",
            "DELETE FROM audit_log",
            "SELECT count(*) FROM users",
            "SELECT count(*) FROM swap_jobs",
            "SELECT version_num FROM alembic_version",
            "CREATE TABLE public.evil (x int)",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
