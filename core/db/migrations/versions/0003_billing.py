"""Billing: Stripe events and subscriptions, customers, admin grants, quota usage, notices, and
the plan's terms on each job (issue 6).

Revision ID: 0003_billing
Revises: 0002_consent_events
Create Date: 2026-11-28

Frozen once landed: plain SQLAlchemy types only. Runs unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003_billing"
down_revision: str | None = "0002_consent_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user_fk(table: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _time("received_at"),
        _time("processed_at", nullable=True),
        sa.Column("outcome", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stripe_events"),
    )
    op.create_table(
        "stripe_subscriptions",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("plan", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_at", sa.BigInteger(), nullable=False),
        _time("updated_at"),
        _user_fk("stripe_subscriptions", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_stripe_subscriptions"),
    )
    op.create_index("ix_stripe_subscriptions_customer_id", "stripe_subscriptions", ["customer_id"])
    op.create_index("ix_stripe_subscriptions_user_id", "stripe_subscriptions", ["user_id"])
    op.create_table(
        "billing_customers",
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("stripe_customer_id", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        _time("created_at"),
        _user_fk("billing_customers", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name="pk_billing_customers"),
        sa.UniqueConstraint("stripe_customer_id", name="uq_billing_customers_stripe_customer_id"),
    )
    _create_grants_usage_notices()
    with op.batch_alter_table("swap_jobs") as batch:
        batch.add_column(
            sa.Column("watermark", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("max_side", sa.Integer(), nullable=True))


def _create_grants_usage_notices() -> None:
    op.create_table(
        "billing_grants",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("what", sa.String(16), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.String(200), nullable=False),
        _time("created_at"),
        _time("expires_at"),
        _time("revoked_at", nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        _user_fk("billing_grants", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_billing_grants"),
    )
    op.create_index("ix_billing_grants_user_id", "billing_grants", ["user_id"])
    op.create_table(
        "quota_usage",
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        _user_fk("quota_usage", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "period", name="pk_quota_usage"),
    )
    op.create_table(
        "billing_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        _time("created_at"),
        _time("sent_at", nullable=True),
        _user_fk("billing_notices", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_billing_notices"),
    )
    op.create_index("ix_billing_notices_user_id", "billing_notices", ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("swap_jobs") as batch:
        batch.drop_column("max_side")
        batch.drop_column("watermark")
    op.drop_index("ix_billing_notices_user_id", table_name="billing_notices")
    op.drop_table("billing_notices")
    op.drop_table("quota_usage")
    op.drop_index("ix_billing_grants_user_id", table_name="billing_grants")
    op.drop_table("billing_grants")
    op.drop_table("billing_customers")
    op.drop_index("ix_stripe_subscriptions_user_id", table_name="stripe_subscriptions")
    op.drop_index("ix_stripe_subscriptions_customer_id", table_name="stripe_subscriptions")
    op.drop_table("stripe_subscriptions")
    op.drop_table("stripe_events")
