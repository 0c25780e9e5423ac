"""Anchor stores and the anchoring schedule: an append-only folder, S3 Object Lock in
compliance mode on a real moto server (a locked anchor cannot be deleted), and ``Anchorer``
anchoring every N rows, every hour, and refusing to anchor over a rewritten row."""

from __future__ import annotations

import asyncio
import logging
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client
from sqlalchemy import create_engine

from core import audit
from core.anchors import Anchorer, AnchorStore, AnchorStoreError, LocalAnchors, S3Anchors
from core.audit import Anchor
from core.db import migrate
from core.db.session import Database, sync_url
from core.storage import make_s3_client

HASH_A, HASH_B = "a" * 64, "b" * 64
NOW = datetime(2026, 11, 28, 1, 2, 3, 456_789, tzinfo=UTC)


def test_local_anchors_are_read_only_files_never_overwritten(tmp_path: Path) -> None:
    store = LocalAnchors(tmp_path / "anchors")
    assert store.read_all() == []
    second = Anchor(7, HASH_B, NOW + timedelta(hours=1))
    first = Anchor(3, HASH_A, NOW)
    where = [store.write(second), store.write(first)]
    assert store.read_all() == [first, second]
    for path in where:
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o444
    assert Path(where[1]).read_text() == (
        '{"hash":"' + HASH_A + '","seq":3,"time":"2026-11-28T01:02:03.456789+00:00"}'
    )
    with pytest.raises(AnchorStoreError, match=r"cannot write the audit anchor .*File exists"):
        store.write(Anchor(3, HASH_A, NOW))  # the same file again: refused, not replaced
    assert store.read_all() == [first, second]


def test_a_file_that_is_not_an_anchor_is_reported(tmp_path: Path) -> None:
    store = LocalAnchors(tmp_path)
    (tmp_path / "000000000001-x.json").write_text('{"seq": 1}')
    with pytest.raises(AnchorStoreError, match=r"000000000001-x\.json is not an audit anchor"):
        store.read_all()


@pytest.fixture
def s3_client(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> S3Client:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return make_s3_client("us-east-1", moto_server)


@pytest.fixture
def locked_bucket(s3_client: S3Client) -> Iterator[str]:
    bucket = f"swapzy-anchors-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    yield bucket


def test_s3_anchors_are_locked_in_compliance_mode(s3_client: S3Client, locked_bucket: str) -> None:
    store = S3Anchors(s3_client, locked_bucket, "audit-anchors/", retention_days=30)
    first, second = Anchor(3, HASH_A, NOW), Anchor(9, HASH_B, NOW + timedelta(hours=1))
    where = store.write(second)
    store.write(first)
    assert store.read_all() == [first, second]
    key = where.removeprefix(f"s3://{locked_bucket}/")
    assert key.startswith("audit-anchors/000000000009-")
    meta = s3_client.head_object(Bucket=locked_bucket, Key=key)
    assert meta["ObjectLockMode"] == "COMPLIANCE"
    until = meta["ObjectLockRetainUntilDate"]
    assert timedelta(days=29) < until - datetime.now(UTC) <= timedelta(days=30)
    version = meta["VersionId"]
    for bypass in (False, True):  # compliance mode: not even with the governance bypass
        with pytest.raises(ClientError) as refused:
            s3_client.delete_object(
                Bucket=locked_bucket, Key=key, VersionId=version, BypassGovernanceRetention=bypass
            )
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert store.read_all() == [first, second]


def test_s3_anchors_refuse_a_bucket_without_object_lock(s3_client: S3Client) -> None:
    bucket = f"swapzy-plain-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    store = S3Anchors(s3_client, bucket, "a/", retention_days=1)
    with pytest.raises(AnchorStoreError, match=f"cannot write the audit anchor s3://{bucket}/a/"):
        store.write(Anchor(1, HASH_A, NOW))
    assert store.read_all() == []


async def _append(db: Database, count: int) -> None:
    for i in range(count):
        async with db.sessions() as session, session.begin():
            await audit.record(session, "job.submitted", {"i": i})


async def _schedule(url: str, store: AnchorStore) -> list[int | None]:
    db = Database.connect(url)
    made: list[int | None] = []
    try:
        anchorer = Anchorer(db, store, every_rows=5, every_s=3600)
        made.append(getattr(await anchorer.anchor_if_due(), "seq", None))  # empty log
        await _append(db, 3)
        made.append(getattr(await anchorer.anchor_if_due(), "seq", None))  # never anchored
        await _append(db, 4)
        made.append(getattr(await anchorer.anchor_if_due(), "seq", None))  # 4 behind: not yet
        await _append(db, 1)
        made.append(getattr(await anchorer.anchor_if_due(), "seq", None))  # 5 behind
        # Another process starting later reads the store, then anchors once an hour has passed.
        late = Anchorer(db, store, every_rows=5, every_s=3600)
        made.append(getattr(await late.anchor_if_due(), "seq", None))
    finally:
        await db.close()
    return made


def test_anchorer_anchors_every_n_rows(database_url: str, tmp_path: Path) -> None:
    migrate.upgrade(database_url)
    store = LocalAnchors(tmp_path / "anchors")
    assert asyncio.run(_schedule(database_url, store)) == [None, 3, None, 8, None]
    assert [a.seq for a in store.read_all()] == [3, 8]


async def _hourly(url: str, store: AnchorStore) -> Anchor | None:
    db = Database.connect(url)
    try:
        await _append(db, 2)
        return await Anchorer(db, store, every_rows=1000, every_s=3600).anchor_if_due()
    finally:
        await db.close()


def test_anchorer_anchors_when_the_last_anchor_is_an_hour_old(
    sqlite_url: str, tmp_path: Path
) -> None:
    migrate.upgrade(sqlite_url)
    store = LocalAnchors(tmp_path / "anchors")
    asyncio.run(_append_and_anchor_first(sqlite_url, store, age=timedelta(minutes=61)))
    made = asyncio.run(_hourly(sqlite_url, store))
    assert made is not None and made.seq == 3
    assert [a.seq for a in store.read_all()] == [1, 3]


def test_anchorer_waits_while_the_last_anchor_is_recent(sqlite_url: str, tmp_path: Path) -> None:
    migrate.upgrade(sqlite_url)
    store = LocalAnchors(tmp_path / "anchors")
    asyncio.run(_append_and_anchor_first(sqlite_url, store, age=timedelta(minutes=59)))
    assert asyncio.run(_hourly(sqlite_url, store)) is None
    assert [a.seq for a in store.read_all()] == [1]


async def _append_and_anchor_first(url: str, store: AnchorStore, age: timedelta) -> None:
    db = Database.connect(url)
    try:
        await _append(db, 1)
        now = await audit.head(db)
        assert now is not None
        store.write(Anchor(now.seq, now.hash, datetime.now(UTC) - age))
    finally:
        await db.close()


def test_anchorer_will_not_anchor_over_a_rewritten_row(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    migrate.upgrade(sqlite_url)
    store = LocalAnchors(tmp_path / "anchors")
    asyncio.run(_append_and_anchor_first(sqlite_url, store, age=timedelta(hours=2)))
    engine = create_engine(sync_url(sqlite_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET hash = '" + "f" * 64 + "' WHERE seq = 1")
    engine.dispose()
    with caplog.at_level(logging.ERROR, logger="core.anchors"):
        assert asyncio.run(_hourly(sqlite_url, store)) is None
    assert "audit log row 1 no longer has the hash anchored at" in caplog.text
    assert [a.seq for a in store.read_all()] == [1]
