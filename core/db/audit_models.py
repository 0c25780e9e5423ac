"""Tables of the audit log (issue 8).

Same rules as ``core.db.models``: portable types, UTC times, stable constraint names.

``audit_log`` is append-only and hash-chained (see ``core.audit``): row ``seq`` holds the
canonical JSON ``body`` (RFC 8785), the previous row's hash and its own. On PostgreSQL the
database fills ``seq``, ``prev_hash`` and ``hash`` in a BEFORE INSERT trigger and refuses
UPDATE, DELETE and TRUNCATE (migration 0006); on SQLite ``core.audit`` computes them under the
write lock.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base

AUDIT_TABLE = "audit_log"


class AuditEvent(Base):
    """One provable event: a payment, a grant, a deletion, a consent, an admin action ..."""

    __tablename__ = AUDIT_TABLE

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(64), index=True)  # also inside body (hashed)
    body: Mapped[str] = mapped_column(Text)  # canonical JSON: {"at", "data", "kind"}
    prev_hash: Mapped[str] = mapped_column(String(64))  # hex; 64 zeros before row 1
    hash: Mapped[str] = mapped_column(String(64))  # hex SHA-256, see core.audit.chain_hash


__all__ = ["AUDIT_TABLE", "AuditEvent", "Base"]
