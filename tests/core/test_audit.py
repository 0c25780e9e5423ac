"""The audit log on real databases: the chain (computed by PostgreSQL's trigger, or by
``core.audit`` on SQLite), concurrent appenders, rollbacks, the triggers refusing changes even
for the owner, and ``verify`` catching a superuser's edits and a whole re-chained table."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text

from core import audit
from core.anchors import LocalAnchors
from core.audit import GENESIS, Anchor, chain_hash
from core.db import migrate
from core.db.models import MediaAsset, User
from core.db.session import Database, is_sqlite, sync_url
from tests.conftest import SampleFiles
from tests.jobs.helpers import deliveries, job_row
from tests.jobs.service import Service, client, request_for, service, wait_for, wait_until

WRITERS = 6
TRIGGERS = ("audit_log_chain", "audit_log_refuse_change", "audit_log_refuse_truncate")
EVENTS_EACH = 12  # every 4th is rolled back with the change it records


def rows(url: str) -> list[tuple[int, str, str, str, str]]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT seq, kind, body, prev_hash, hash FROM audit_log ORDER BY seq")
            )
            return [(int(r[0]), r[1], r[2], r[3], r[4]) for r in found]
    finally:
        engine.dispose()


def tamper(url: str, *statements: str) -> None:
    """What a database superuser can do: on PostgreSQL, switch the triggers off first."""
    if is_sqlite(url):
        engine = create_engine(sync_url(url))
        try:
            with engine.begin() as conn:
                for statement in statements:
                    conn.exec_driver_sql(statement)
        finally:
            engine.dispose()
        return
    with psycopg.connect(url) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER ALL")
        for statement in statements:
            conn.execute(statement)
        for trigger in TRIGGERS:
            conn.execute(f"ALTER TABLE audit_log ENABLE ALWAYS TRIGGER {trigger}")


Event = tuple[str, dict[str, object]]


async def _append(url: str, events: list[Event]) -> None:
    db = Database.connect(url)
    try:
        for kind, body in events:
            async with db.sessions() as session, session.begin():
                await audit.record(session, kind, body)
    finally:
        await db.close()


def append(url: str, *events: Event) -> None:
    asyncio.run(_append(url, list(events)))


async def _verify(url: str, anchors: list[Anchor]) -> audit.VerifyReport:
    db = Database.connect(url)
    try:
        return await audit.verify(db, anchors)
    finally:
        await db.close()


def verify(url: str, anchors: list[Anchor] | None = None) -> audit.VerifyReport:
    return asyncio.run(_verify(url, anchors or []))


THREE: tuple[Event, ...] = (
    ("consent.given", {"user": "u1", "channel": "telegram"}),
    ("payment", {"user": "u1", "amount": 499, "currency": "eur", "note": "ünïcode ✓"}),
    ("admin.action", {"admin": "telegram:1", "action": "ban", "user": "u2"}),
)


def test_rows_form_one_chain_with_canonical_bodies(database_url: str) -> None:
    migrate.upgrade(database_url)
    append(database_url, *THREE)
    got = rows(database_url)
    assert [r[0] for r in got] == [1, 2, 3]
    prev = GENESIS
    for (seq, kind, body, prev_hash, hash_), (want_kind, want_data) in zip(got, THREE, strict=True):
        assert (kind, prev_hash) == (want_kind, prev)
        assert hash_ == chain_hash(prev, seq, body)  # the trigger's hash is core.audit's
        parsed = json.loads(body)
        assert parsed["kind"] == want_kind and parsed["data"] == want_data
        assert body == json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        prev = hash_
    report = verify(database_url)
    assert report.ok and report.rows == 3 and report.head == audit.Head(3, prev)


async def _rolled_back(url: str) -> None:
    db = Database.connect(url)
    try:
        with pytest.raises(RuntimeError):
            async with db.sessions() as session, session.begin():
                session.add(User(display_name="never"))
                await audit.record(session, "consent.given", {"user": "never"})
                raise RuntimeError("the change failed")
    finally:
        await db.close()


def test_a_rolled_back_event_leaves_no_hole(database_url: str) -> None:
    migrate.upgrade(database_url)
    append(database_url, THREE[0])
    asyncio.run(_rolled_back(database_url))
    append(database_url, THREE[1])
    got = rows(database_url)
    assert [(r[0], r[1]) for r in got] == [(1, "consent.given"), (2, "payment")]
    assert verify(database_url).ok


async def _writer(url: str, n: int) -> int:
    db = Database.connect(url)
    committed = 0
    try:
        for i in range(EVENTS_EACH):
            try:
                async with db.sessions() as session, session.begin():
                    await audit.record(session, "job.submitted", {"writer": n, "i": i})
                    await asyncio.sleep(0)  # let the other writers run while this one holds on
                    if i % 4 == 3:
                        raise LookupError("rolled back")
                committed += 1
            except LookupError:
                pass
    finally:
        await db.close()
    return committed


async def _writers(url: str) -> int:
    return sum(await asyncio.gather(*(_writer(url, n) for n in range(WRITERS))))


def test_concurrent_appends_from_several_connections_make_one_chain(database_url: str) -> None:
    migrate.upgrade(database_url)
    committed = asyncio.run(_writers(database_url))
    assert committed == WRITERS * EVENTS_EACH * 3 // 4
    got = rows(database_url)
    assert [r[0] for r in got] == list(range(1, committed + 1))  # no fork, no gap
    bodies = {(json.loads(r[2])["data"]["writer"], json.loads(r[2])["data"]["i"]) for r in got}
    assert bodies == {(n, i) for n in range(WRITERS) for i in range(EVENTS_EACH) if i % 4 != 3}
    assert verify(database_url).ok


def test_postgres_computes_the_chain_whatever_the_caller_sends(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    append(postgres_url, THREE[0])
    with psycopg.connect(postgres_url) as conn:
        conn.execute(
            "INSERT INTO audit_log (seq, kind, body, prev_hash, hash) VALUES "
            "(99, 'payment', '{}', 'forged', 'forged'), (100, 'payment', '[]', 'x', 'y')"
        )
    got = rows(postgres_url)
    assert [r[0] for r in got] == [1, 2, 3]
    assert got[1][3] == got[0][4] and got[1][4] == chain_hash(got[0][4], 2, "{}")
    assert got[2][3] == got[1][4]
    report = verify(postgres_url)  # chained, but the bodies are not events: caught
    assert report.broken is not None and report.broken.seq == 2
    assert report.broken.what == "kind column differs from the body"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET body = '{}' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
        "DELETE FROM audit_log WHERE false",
        "TRUNCATE audit_log",
    ],
)
def test_the_owner_cannot_change_rows_either(postgres_url: str, statement: str) -> None:
    migrate.upgrade(postgres_url)  # the test's URL is the database's owner (a superuser even)
    append(postgres_url, THREE[0])
    with psycopg.connect(postgres_url) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="audit_log is append-only"):
            conn.execute(statement)
        conn.rollback()
        # session_replication_role=replica skips ordinary triggers, not ENABLE ALWAYS ones.
        conn.execute("SET session_replication_role = replica")
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute(statement)
    assert len(rows(postgres_url)) == 1


def test_verify_finds_a_row_edited_with_the_triggers_bypassed(database_url: str) -> None:
    migrate.upgrade(database_url)
    append(database_url, *THREE)
    before = rows(database_url)
    forged = before[1][2].replace("499", "1")
    tamper(database_url, f"UPDATE audit_log SET body = '{forged}' WHERE seq = 2")
    report = verify(database_url)
    assert report.broken is not None
    assert (report.broken.seq, report.broken.what) == (2, "hash does not match the row")
    assert report.broken.expected == chain_hash(before[0][4], 2, forged)
    assert report.broken.found == before[1][4]
    assert str(report.broken).startswith("row 2: hash does not match the row: expected ")
    assert report.rows == 1  # row 1 was fine


def test_verify_finds_a_rehashed_row_and_a_deleted_row(database_url: str) -> None:
    migrate.upgrade(database_url)
    append(database_url, *THREE)
    before = rows(database_url)
    forged = before[1][2].replace("499", "1")
    new_hash = chain_hash(before[0][4], 2, forged)
    tamper(
        database_url, f"UPDATE audit_log SET body = '{forged}', hash = '{new_hash}' WHERE seq = 2"
    )
    broken = verify(database_url).broken
    assert broken is not None
    assert (broken.seq, broken.what) == (3, "prev_hash does not link to the row before")
    assert (broken.expected, broken.found) == (new_hash, before[1][4])
    tamper(database_url, "DELETE FROM audit_log WHERE seq = 2")
    broken = verify(database_url).broken
    assert broken is not None and (broken.seq, broken.what) == (2, "missing row")
    assert broken.found == "row 3 next"


def rechain_everything(url: str) -> None:
    """A superuser rewrites every row and recomputes the whole chain: it checks out alone."""
    prev, statements = GENESIS, []
    for seq, _kind, original, _prev, _hash in rows(url):
        body = original.replace("499", "1")
        new = chain_hash(prev, seq, body)
        statements.append(
            f"UPDATE audit_log SET body = '{body}', prev_hash = '{prev}', hash = '{new}' "
            f"WHERE seq = {seq}"
        )
        prev = new
    tamper(url, *statements)


def test_a_rechained_table_is_caught_by_the_anchors(database_url: str, tmp_path: Path) -> None:
    migrate.upgrade(database_url)
    store = LocalAnchors(tmp_path / "anchors")
    append(database_url, *THREE)
    original = rows(database_url)
    store.write(Anchor(3, original[2][4], audit_time()))
    append(database_url, ("job.finished", {"job": "j1", "state": "succeeded"}))
    rechain_everything(database_url)
    assert verify(database_url).ok  # without anchors the forgery is consistent
    report = verify(database_url, store.read_all())
    assert report.broken is not None and report.broken.seq == 3
    assert report.broken.what.startswith("differs from the anchor of ")
    assert report.broken.expected == original[2][4]
    assert report.broken.found == rows(database_url)[2][4]


def test_rows_cut_off_after_an_anchor_are_caught(database_url: str, tmp_path: Path) -> None:
    migrate.upgrade(database_url)
    append(database_url, *THREE)
    store = LocalAnchors(tmp_path / "anchors")
    store.write(Anchor(3, rows(database_url)[2][4], audit_time()))
    assert verify(database_url, store.read_all()).ok
    tamper(database_url, "DELETE FROM audit_log WHERE seq = 3")
    broken = verify(database_url, store.read_all()).broken
    assert broken is not None and broken.seq == 3
    assert broken.what.endswith("but missing from the log")
    assert broken.found == "the log ends at row 2"


def audit_time() -> datetime:
    return datetime.now(UTC)


def test_bodies_must_be_json_material(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    with pytest.raises(ValueError, match="dotted lower-case name"):
        append(sqlite_url, ("Payment Made", {}))
    with pytest.raises(ValueError, match="not canonical JSON material"):
        append(sqlite_url, ("payment", {"amount": float("nan")}))
    assert rows(sqlite_url) == []


async def _trail(svc: Service, target: Path, source: Path) -> tuple[str, str]:
    async with client(svc.settings) as c:
        sent = await c.submitter.submit(request_for(target, source))
        await wait_for(lambda: deliveries(c.queue, sent.job_id), "the delivery")
        job = await job_row(c.db, sent.job_id)
        async with c.db.sessions() as session:
            asset = await session.get(MediaAsset, job.output_asset_id)
        assert asset is not None and asset.sha256
        return sent.job_id, asset.sha256


def test_a_job_leaves_its_trail_and_the_worker_anchors_it(
    tmp_path: Path, redis_url: str, database_url: str, sample_files: SampleFiles
) -> None:
    with service(tmp_path, redis_url, database_url, audit_anchor_every_rows=1) as svc:
        svc.start_worker()
        job_id, output_sha = asyncio.run(_trail(svc, sample_files.target, sample_files.source))
        store = LocalAnchors(svc.settings.audit_anchor_folder)
        anchored = wait_until(
            lambda: [a for a in store.read_all() if a.seq >= 2], "the worker's anchor"
        )
    got = rows(database_url)
    assert [r[1] for r in got] == ["job.submitted", "job.finished"]
    submitted, finished = (json.loads(r[2])["data"] for r in got)
    target_sha = hashlib.sha256(sample_files.target.read_bytes()).hexdigest()
    assert submitted["job"] == job_id and submitted["target_sha256"] == target_sha
    assert finished == {
        "job": job_id, "state": "succeeded", "attempt": 1, "output_sha256": output_sha,
        "engine": "noop", "model": finished["model"],
    }  # fmt: skip
    assert anchored[0].hash == got[1][4]
    report = verify(database_url, store.read_all())
    assert report.ok and report.anchors >= 1
