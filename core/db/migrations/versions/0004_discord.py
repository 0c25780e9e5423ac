"""Discord: per-server settings and daily swap counts (issue 7).

Revision ID: 0004_discord
Revises: 0003_billing
Create Date: 2026-11-28

Frozen once landed: plain SQLAlchemy types only. Runs unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_discord"
down_revision: str | None = "0003_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "discord_guild_settings",
        sa.Column("guild_id", sa.String(32), nullable=False),
        sa.Column("allowed_channels", sa.JSON(), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name="pk_discord_guild_settings"),
    )
    op.create_table(
        "discord_guild_usage",
        sa.Column("guild_id", sa.String(32), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("swaps", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "day", name="pk_discord_guild_usage"),
    )


def downgrade() -> None:
    op.drop_table("discord_guild_usage")
    op.drop_table("discord_guild_settings")
