"""Audit log: an append-only, hash-chained table; on PostgreSQL the chain is computed by the
database in the insert and UPDATE/DELETE/TRUNCATE are refused by triggers (issue 8).

Revision ID: 0006_audit
Revises: 0005_web
Create Date: 2026-11-28

Frozen once landed: plain SQLAlchemy types only (plus PostgreSQL-only DDL guarded by dialect).

PostgreSQL: ``audit_log_chain`` (BEFORE INSERT, per row) takes a transaction-scoped advisory
lock, reads the last row and sets ``seq``, ``prev_hash`` and ``hash`` itself, whatever the
caller sent; writers queue on the lock until the previous one commits or rolls back, so there
are no forks and no gaps. ``audit_log_refuse`` (BEFORE UPDATE/DELETE/TRUNCATE, per statement)
refuses every change, the owner's included. The triggers are ``ENABLE ALWAYS``: they fire even
under ``session_replication_role = replica``. The hash matches ``core.audit.chain_hash``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_audit"
down_revision: str | None = "0005_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOCK_KEY = 0x5357_4155  # "SWAU": serialises audit appends (not the migration lock)

_CHAIN_FUNCTION = f"""
CREATE FUNCTION audit_log_chain() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    last_seq bigint;
    last_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock({_LOCK_KEY});
    SELECT seq, hash INTO last_seq, last_hash FROM public.audit_log ORDER BY seq DESC LIMIT 1;
    IF last_seq IS NULL THEN
        last_seq := 0;
        last_hash := repeat('0', 64);
    END IF;
    NEW.seq := last_seq + 1;
    NEW.prev_hash := last_hash;
    NEW.hash := encode(sha256(convert_to(
        'swapzy.audit.v1' || chr(10) || last_hash || chr(10) || NEW.seq::text || chr(10)
        || NEW.body, 'UTF8')), 'hex');
    RETURN NEW;
END
$$
"""

_REFUSE_FUNCTION = """
CREATE FUNCTION audit_log_refuse() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END
$$
"""

_POSTGRES_UP = [
    _CHAIN_FUNCTION,
    _REFUSE_FUNCTION,
    "CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_chain()",
    "CREATE TRIGGER audit_log_refuse_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse()",
    "CREATE TRIGGER audit_log_refuse_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse()",
    "ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_chain",
    "ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_refuse_change",
    "ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_refuse_truncate",
    # After CREATE TABLE: nobody but the owner starts with any right on it.
    "REVOKE ALL ON audit_log FROM PUBLIC",
    "REVOKE ALL ON FUNCTION audit_log_chain() FROM PUBLIC",
    "REVOKE ALL ON FUNCTION audit_log_refuse() FROM PUBLIC",
]


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_kind", "audit_log", ["kind"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in _POSTGRES_UP:
            op.execute(statement)


def downgrade() -> None:
    # DROP TABLE is not TRUNCATE: the owner may take the table away (and its triggers with it).
    op.drop_index("ix_audit_log_kind", table_name="audit_log")
    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_chain()")
        op.execute("DROP FUNCTION IF EXISTS audit_log_refuse()")
