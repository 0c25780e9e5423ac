"""Web companion: share slugs, reports, login links (issue 5).

Revision ID: 0005_web
Revises: 0004_discord
Create Date: 2026-11-28

Frozen once landed: plain SQLAlchemy types only. Runs unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_web"
down_revision: str | None = "0004_discord"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("slug", sa.String(16), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gif_key", sa.String(500), nullable=True),
        sa.Column("mp4_key", sa.String(500), nullable=True),
        sa.Column("thumb_key", sa.String(500), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["swap_jobs.id"], name="fk_share_links_job_id_swap_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("slug", name="pk_share_links"),
        sa.UniqueConstraint("job_id", name="uq_share_links_job_id"),
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("slug", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("reporter", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["slug"], ["share_links.slug"], name="fk_reports_slug_share_links", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reports"),
    )
    op.create_index("ix_reports_slug", "reports", ["slug"])
    op.create_table(
        "login_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_login_tokens_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_login_tokens"),
    )
    op.create_index("ix_login_tokens_user_id", "login_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_login_tokens_user_id", table_name="login_tokens")
    op.drop_table("login_tokens")
    op.drop_index("ix_reports_slug", table_name="reports")
    op.drop_table("reports")
    op.drop_table("share_links")
