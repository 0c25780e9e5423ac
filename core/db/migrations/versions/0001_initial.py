"""The initial schema: users, their channel identities, media assets and swap jobs.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-27

Frozen: plain SQLAlchemy types only (no imports from ``core.db.models``), so later model changes
cannot alter what this revision creates. Enums are VARCHAR(16) without CHECK constraints, as in
the models (``native_enum=False``): adding a state later needs no migration. Runs unchanged on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(32), nullable=False)


def _time(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user_fk(table: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete=ondelete
    )


def _asset_fk(column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["media_assets.id"], name=f"fk_swap_jobs_{column}_media_assets"
    )


def upgrade() -> None:
    op.create_table(
        "users",
        _id(),
        _time("created_at"),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("plan", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
    )
    op.create_table(
        "channel_identities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("username", sa.String(200), nullable=False),
        _time("created_at"),
        _user_fk("channel_identities", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_channel_identities"),
        sa.UniqueConstraint(
            "channel", "external_id", name="uq_channel_identities_channel_external_id"
        ),
    )
    op.create_index("ix_channel_identities_user_id", "channel_identities", ["user_id"])
    op.create_table(
        "media_assets",
        _id(),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("storage_key", sa.String(500), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("frames", sa.Integer(), nullable=True),
        _time("created_at"),
        _user_fk("media_assets", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_media_assets"),
        sa.UniqueConstraint("storage_key", name="uq_media_assets_storage_key"),
    )
    op.create_index("ix_media_assets_user_id", "media_assets", ["user_id"])
    op.create_table(
        "swap_jobs",
        _id(),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("reply_to", sa.JSON(), nullable=False),
        sa.Column("dedup_key", sa.String(300), nullable=True),
        sa.Column("lane", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(64), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(100), nullable=True),
        sa.Column("faces", sa.String(16), nullable=False),
        sa.Column("output_format", sa.String(8), nullable=False),
        sa.Column("engine", sa.String(32), nullable=True),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("target_asset_id", sa.String(32), nullable=False),
        sa.Column("source_asset_id", sa.String(32), nullable=False),
        sa.Column("output_asset_id", sa.String(32), nullable=True),
        sa.Column("frames", sa.Integer(), nullable=True),
        sa.Column("frames_done", sa.Integer(), nullable=False),
        sa.Column("engine_seconds", sa.Float(), nullable=True),
        sa.Column("total_seconds", sa.Float(), nullable=True),
        sa.Column("quality", sa.JSON(), nullable=False),
        _time("created_at"),
        _time("started_at", nullable=True),
        _time("heartbeat_at", nullable=True),
        _time("finished_at", nullable=True),
        _time("delivered_at", nullable=True),
        sa.Column("delivery_attempts", sa.Integer(), nullable=False),
        _time("updated_at"),
        _user_fk("swap_jobs", "CASCADE"),
        _asset_fk("target_asset_id"),
        _asset_fk("source_asset_id"),
        _asset_fk("output_asset_id"),
        sa.PrimaryKeyConstraint("id", name="pk_swap_jobs"),
        sa.UniqueConstraint("dedup_key", name="uq_swap_jobs_dedup_key"),
    )
    op.create_index("ix_swap_jobs_user_id", "swap_jobs", ["user_id"])
    op.create_index("ix_swap_jobs_state", "swap_jobs", ["state"])
    op.create_index("ix_swap_jobs_created_at", "swap_jobs", ["created_at"])


def downgrade() -> None:
    op.drop_table("swap_jobs")
    op.drop_table("media_assets")
    op.drop_table("channel_identities")
    op.drop_table("users")
