"""Discord: per-server settings (issue 7).

Revision ID: 0004_discord
Revises: 0003_billing
Create Date: 2026-11-28

Frozen once landed: plain SQLAlchemy types only. Runs unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004_discord"
down_revision: str | None = "0003_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
