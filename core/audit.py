"""The audit log: every payment, grant, deletion, consent and admin action, provable later.

Each row of ``audit_log`` holds a canonical JSON body (RFC 8785), its sequence number, the
previous row's hash and its own::

    hash = SHA-256("swapzy.audit.v1\\n" + prev_hash + "\\n" + str(seq) + "\\n" + body)

(hex digests; 64 zeros before row 1). On PostgreSQL the database computes the chain inside the
insert (migration 0006: a trigger under an advisory lock), so a caller cannot forge it, and it
refuses UPDATE/DELETE/TRUNCATE. On SQLite this module computes the same chain under SQLite's
write lock. ``record`` appends inside the caller's transaction: the event commits or rolls back
with the change it records. Call it last in the transaction (the append lock is held until
commit; taking other locks after it invites deadlocks).

``verify`` walks the chain, recomputes every hash, checks every anchor (``core.anchors``) against
the row at its sequence number and reports the first break.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import rfc8785
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.audit_models import AuditEvent
from core.db.session import Database

DOMAIN = "swapzy.audit.v1"
GENESIS = "0" * 64
_KIND = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_BATCH = 1000


class AuditKind(StrEnum):
    """The events the product records (``record`` accepts any dotted lower-case name)."""

    JOB_SUBMITTED = "job.submitted"
    JOB_FINISHED = "job.finished"
    JOB_DELETED = "job.deleted"
    CONSENT_GIVEN = "consent.given"
    DATA_DELETION = "data.deletion"
    PAYMENT = "payment"
    ENTITLEMENT_GRANTED = "entitlement.granted"
    ENTITLEMENT_REVOKED = "entitlement.revoked"
    ADMIN_ACTION = "admin.action"


def canonical(value: Mapping[str, Any]) -> str:
    """RFC 8785 canonical JSON (sorted keys, no spaces, ECMAScript numbers)."""
    try:
        return rfc8785.dumps(value).decode("utf-8")
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ValueError(f"audit body is not canonical JSON material: {exc}") from exc


def chain_hash(prev_hash: str, seq: int, body: str) -> str:
    """The row's hash, as migration 0006's trigger computes it."""
    material = f"{DOMAIN}\n{prev_hash}\n{seq}\n{body}".encode()
    return hashlib.sha256(material).hexdigest()


def event_body(kind: str, data: Mapping[str, Any], at: datetime | None = None) -> str:
    """The canonical body of one event: ``{"at", "data", "kind"}``."""
    if not _KIND.match(kind):
        raise ValueError(f"audit kind must be a dotted lower-case name, not {kind!r}")
    when = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
    return canonical({"at": when, "data": dict(data), "kind": kind})


async def record(session: AsyncSession, kind: str, body: Mapping[str, Any]) -> None:
    """Append one event in the session's current transaction (begun if needed)."""
    text_body = event_body(kind, body)
    await session.flush()  # the recorded change first: the append lock is taken last
    if session.get_bind().dialect.name == "postgresql":
        # The trigger sets seq, prev_hash and hash; the values sent here are overwritten.
        await session.execute(
            insert(AuditEvent).values(seq=0, kind=kind, body=text_body, prev_hash="", hash="")
        )
        return
    # SQLite: a write first, so this transaction holds the write lock (and sees the latest
    # commit) before it reads the head; concurrent appenders queue on busy_timeout.
    await session.execute(text("UPDATE audit_log SET seq = seq WHERE seq < 0"))
    last = await _head(session)
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
    await session.execute(
        insert(AuditEvent).values(
            seq=seq,
            kind=kind,
            body=text_body,
            prev_hash=prev,
            hash=chain_hash(prev, seq, text_body),
        )
    )


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


async def _head(session: AsyncSession) -> Head | None:
    row = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        )
    ).first()
    return None if row is None else Head(int(row[0]), str(row[1]))


async def head(db: Database) -> Head | None:
    """The last row's sequence number and hash; None for an empty log."""
    async with db.sessions() as session:
        return await _head(session)


@dataclass(frozen=True)
class Anchor:
    """A copy of the head kept outside the database (WORM storage): ``{seq, hash, time}``."""

    seq: int
    hash: str
    time: datetime

    def to_json(self) -> str:
        return canonical(
            {"hash": self.hash, "seq": self.seq, "time": self.time.astimezone(UTC).isoformat()}
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Anchor:
        data = json.loads(raw)
        when = datetime.fromisoformat(str(data["time"]))
        return cls(seq=int(data["seq"]), hash=str(data["hash"]), time=when)


@dataclass(frozen=True)
class Break:
    """The first place the log stops proving itself: which row, what was expected, found."""

    seq: int
    what: str
    expected: str
    found: str

    def __str__(self) -> str:
        return f"row {self.seq}: {self.what}: expected {self.expected}, found {self.found}"


@dataclass(frozen=True)
class VerifyReport:
    rows: int
    anchors: int
    head: Head | None
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


async def _rows(db: Database) -> AsyncIterator[AuditEvent]:
    after = 0
    while True:
        async with db.sessions() as session:
            batch = list(
                await session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.seq > after)
                    .order_by(AuditEvent.seq)
                    .limit(_BATCH)
                )
            )
        for row in batch:
            yield row
        if len(batch) < _BATCH:
            return
        after = batch[-1].seq


def check_row(row: AuditEvent, seq: int, prev: str) -> Break | None:
    """Is ``row`` the ``seq``-th row after a row whose hash was ``prev``?"""
    if row.seq != seq:
        return Break(seq, "missing row", f"row {seq}", f"row {row.seq} next")
    if row.prev_hash != prev:
        return Break(seq, "prev_hash does not link to the row before", prev, row.prev_hash)
    try:
        parsed = json.loads(row.body)
        again = canonical(parsed)
    except ValueError:
        return Break(seq, "body is not JSON", "canonical JSON", repr(row.body[:60]))
    if again != row.body:
        return Break(seq, "body is not canonical JSON", again[:80], row.body[:80])
    if not isinstance(parsed, dict) or parsed.get("kind") != row.kind:
        found = parsed.get("kind") if isinstance(parsed, dict) else None
        return Break(seq, "kind column differs from the body", repr(found), repr(row.kind))
    expected = chain_hash(prev, seq, row.body)
    if row.hash != expected:
        return Break(seq, "hash does not match the row", expected, row.hash)
    return None


async def verify(db: Database, anchors: Sequence[Anchor]) -> VerifyReport:
    """Walk the whole chain, then hold every anchor against the row at its sequence number."""
    by_seq: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        by_seq.setdefault(anchor.seq, []).append(anchor)
    prev, count, last = GENESIS, 0, None
    async for row in _rows(db):
        broken = check_row(row, count + 1, prev)
        if broken is not None:
            return VerifyReport(count, len(anchors), last, broken)
        for anchor in by_seq.get(row.seq, []):
            if anchor.hash != row.hash:
                what = f"differs from the anchor of {anchor.time.isoformat()}"
                return VerifyReport(
                    count, len(anchors), last, Break(row.seq, what, anchor.hash, row.hash)
                )
        prev, count, last = row.hash, count + 1, Head(row.seq, row.hash)
    beyond = [a for a in anchors if a.seq > count]
    if beyond:
        first = min(beyond, key=lambda a: a.seq)
        what = f"anchored at {first.time.isoformat()} but missing from the log"
        found = f"the log ends at row {count}" if count else "an empty log"
        return VerifyReport(count, len(anchors), last, Break(first.seq, what, first.hash, found))
    return VerifyReport(count, len(anchors), last, None)
