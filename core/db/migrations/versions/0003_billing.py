"""Billing: plans, entitlements, quota counters, Stripe events (issue 6).

Revision ID: 0003_billing
Revises: 0002_consent_events
Create Date: 2026-11-28

Frozen once landed: plain SQLAlchemy types only. Runs unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0003_billing"
down_revision: str | None = "0002_consent_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
