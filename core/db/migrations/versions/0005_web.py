"""Web companion: share slugs, reports, login links (issue 5).

Revision ID: 0005_web
Revises: 0004_discord
Create Date: 2026-11-28

Frozen once landed: plain SQLAlchemy types only. Runs unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005_web"
down_revision: str | None = "0004_discord"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
