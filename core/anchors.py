"""Anchors: copies of the audit log's head (``{seq, hash, time}``) kept where the database's
owner cannot rewrite them. A superuser who rewrites and re-chains the whole ``audit_log`` makes
a chain that checks out on its own, but not against the anchors written before.

- ``LocalAnchors``: an append-only folder (the default): one read-only file per anchor, created
  with ``O_EXCL``, never overwritten or deleted by Swapzy. On one machine this is tamper-evident
  only against the app; make the folder ``chattr +a`` or ship it off the machine for more.
- ``S3Anchors``: S3 Object Lock in compliance mode (production): each anchor is its own object
  with a retain-until date; nobody, root included, can delete or overwrite it before then.

``Anchorer`` decides when to anchor: every ``every_rows`` rows and every ``every_s`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select

from core.audit import Anchor, head
from core.db.audit_models import AuditEvent
from core.db.session import Database
from core.errors import ConfigError, ServiceUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from core.config import Settings

log = logging.getLogger(__name__)


class AnchorStoreError(ServiceUnavailable):
    """The anchor store cannot be written or read (or holds something that is not an anchor)."""

    code = "anchor_store"


class AnchorStore(Protocol):
    def write(self, anchor: Anchor) -> str:
        """Store ``anchor`` for good; returns where (a path or an S3 key)."""
        ...

    def read_all(self) -> list[Anchor]:
        """Every anchor stored, oldest sequence number first."""
        ...


def _name(anchor: Anchor) -> str:
    stamp = anchor.time.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{anchor.seq:012d}-{stamp}-{anchor.hash[:16]}.json"


def _sorted(anchors: list[Anchor]) -> list[Anchor]:
    return sorted(anchors, key=lambda a: (a.seq, a.time))


def _parse(raw: bytes, where: str) -> Anchor:
    try:
        return Anchor.from_json(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise AnchorStoreError(f"{where} is not an audit anchor ({exc})") from exc


class LocalAnchors:
    """An append-only folder: files are created once (``O_EXCL``), read-only, never removed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, anchor: Anchor) -> str:
        path = self.folder / _name(anchor)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            try:
                os.write(fd, anchor.to_json().encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            dir_fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise AnchorStoreError(f"cannot write the audit anchor {path}: {exc.strerror}") from exc
        return str(path)

    def read_all(self) -> list[Anchor]:
        if not self.folder.exists():
            return []
        try:
            files = sorted(self.folder.glob("*.json"))
            return _sorted([_parse(p.read_bytes(), str(p)) for p in files])
        except OSError as exc:
            raise AnchorStoreError(
                f"cannot read the audit anchors in {self.folder}: {exc}"
            ) from exc


class S3Anchors:
    """One Object-Locked object (compliance mode) per anchor in a bucket with Object Lock on."""

    def __init__(self, client: S3Client, bucket: str, prefix: str, retention_days: int) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.retention = timedelta(days=retention_days)

    def write(self, anchor: Anchor) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.prefix + _name(anchor)
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=anchor.to_json().encode(),
                ContentType="application/json",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=datetime.now(UTC) + self.retention,
                ChecksumAlgorithm="SHA256",
            )
        except (BotoCoreError, ClientError) as exc:
            raise AnchorStoreError(
                f"cannot write the audit anchor s3://{self.bucket}/{key}: {exc}"
            ) from exc
        return f"s3://{self.bucket}/{key}"

    def read_all(self) -> list[Anchor]:
        from botocore.exceptions import BotoCoreError, ClientError

        found: list[Anchor] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"]
                    raw = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                    found.append(_parse(raw, f"s3://{self.bucket}/{key}"))
        except (BotoCoreError, ClientError) as exc:
            raise AnchorStoreError(
                f"cannot read the audit anchors in s3://{self.bucket}/{self.prefix}: {exc}"
            ) from exc
        return _sorted(found)


def build_anchor_store(settings: Settings) -> AnchorStore:
    """The store the settings name: a local folder, or an Object-Locked S3 bucket."""
    if settings.audit_anchor_backend == "local":
        return LocalAnchors(settings.audit_anchor_folder)
    from core.storage import make_s3_client

    if not settings.audit_anchor_bucket:
        raise ConfigError(
            "SWAPZY_AUDIT_ANCHOR_BUCKET must name an S3 bucket with Object Lock enabled when "
            "SWAPZY_AUDIT_ANCHOR_BACKEND is s3."
        )
    endpoint = settings.audit_anchor_endpoint_url or settings.storage.s3_endpoint_url
    return S3Anchors(
        make_s3_client(settings.storage.s3_region, endpoint),
        settings.audit_anchor_bucket,
        settings.audit_anchor_prefix,
        settings.audit_anchor_retention_days,
    )


class Anchorer:
    """Anchors the head every ``every_rows`` rows and every ``every_s`` seconds (worker task);
    remembers the last anchor it saw, so the store is listed once per process."""

    def __init__(self, db: Database, store: AnchorStore, every_rows: int, every_s: float) -> None:
        self.db = db
        self.store = store
        self.every_rows = every_rows
        self.every_s = every_s
        self._last: Anchor | None = None
        self._loaded = False

    async def anchor_now(self) -> Anchor | None:
        """Anchor the current head (None: the log is empty)."""
        now = await head(self.db)
        if now is None:
            return None
        anchor = Anchor(seq=now.seq, hash=now.hash, time=datetime.now(UTC))
        await asyncio.to_thread(self.store.write, anchor)
        self._last = anchor
        return anchor

    async def anchor_if_due(self) -> Anchor | None:
        """Anchor when the last anchor is ``every_s`` old or ``every_rows`` rows behind. Refuses
        (and logs) when the row at the last anchor no longer has the anchored hash."""
        if not self._loaded:
            anchors = await asyncio.to_thread(self.store.read_all)
            self._last = max(anchors, key=lambda a: (a.time, a.seq)) if anchors else None
            self._loaded = True
        now = await head(self.db)
        if now is None:
            return None
        last = self._last
        if last is not None:
            age = (datetime.now(UTC) - last.time).total_seconds()
            if now.seq - last.seq < self.every_rows and age < self.every_s:
                return None
            if not await self._still_holds(last):
                log.error(
                    "audit log row %d no longer has the hash anchored at %s: not anchoring; "
                    "run `swapzy audit verify`",
                    last.seq,
                    last.time.isoformat(),
                )
                return None
        return await self.anchor_now()

    async def _still_holds(self, anchor: Anchor) -> bool:
        async with self.db.sessions() as session:
            found = await session.scalar(
                select(AuditEvent.hash).where(AuditEvent.seq == anchor.seq)
            )
        return found == anchor.hash
