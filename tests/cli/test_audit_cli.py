"""``swapzy audit verify|anchor`` as a separate process: what it prints, its exit codes, one
clear line on stderr for a broken log or a database it cannot use; on PostgreSQL, run as the
read-only anchor role."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from sqlalchemy import create_engine

from core import audit
from core.anchors import LocalAnchors
from core.db import migrate
from core.db.session import Database, sync_url
from tests.cli.test_swap_cli import assert_one_clean_line, swapzy
from tests.core.test_db import Roles, pg_roles

__all__ = ["pg_roles"]  # the fixture, used below


async def _append(url: str, count: int) -> None:
    db = Database.connect(url)
    try:
        for i in range(count):
            async with db.sessions() as session, session.begin():
                await audit.record(session, "payment", {"i": i, "amount": 499})
    finally:
        await db.close()


def env_for(tmp_path: Path, url: str) -> dict[str, str]:
    return {"SWAPZY_DATA_DIR": str(tmp_path / "data"), "SWAPZY_DATABASE_URL": url}


def test_verify_anchor_and_a_broken_row(tmp_path: Path, sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    asyncio.run(_append(sqlite_url, 3))
    env = env_for(tmp_path, sqlite_url)
    fine = swapzy("audit", "verify", cwd=tmp_path, env=env)
    assert fine.code == 0, fine.stderr
    assert re.fullmatch(
        r"Audit log intact: 3 rows, 0 anchors checked \(head 3 [0-9a-f]{16}\)\.\n", fine.stdout
    )
    made = swapzy("audit", "anchor", cwd=tmp_path, env=env)
    assert made.code == 0, made.stderr
    assert made.stdout.startswith("Anchored row 3 ")
    anchors = LocalAnchors(tmp_path / "data" / "audit-anchors").read_all()
    assert [a.seq for a in anchors] == [3]
    again = swapzy("audit", "anchor", "--if-due", cwd=tmp_path, env=env)
    assert again.stdout == "Nothing to anchor (the log is empty or the last anchor is recent).\n"
    assert "1 anchors checked" in swapzy("audit", "verify", cwd=tmp_path, env=env).stdout

    engine = create_engine(sync_url(sqlite_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET body = replace(body, '499', '1') WHERE seq = 2")
    engine.dispose()
    broken = swapzy("audit", "verify", cwd=tmp_path, env=env)
    assert broken.code == 16 and broken.stdout == ""
    line = assert_one_clean_line(broken)
    assert re.fullmatch(
        r"swapzy: audit log broken at row 2: hash does not match the row: "
        r"expected [0-9a-f]{64}, found [0-9a-f]{64}",
        line,
    )


def test_verify_without_an_audit_log_says_what_to_do(tmp_path: Path, sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url, revision="0005_web")
    run = swapzy("audit", "verify", cwd=tmp_path, env=env_for(tmp_path, sqlite_url))
    assert run.code == 14
    assert assert_one_clean_line(run) == (
        f"swapzy: the database at {sqlite_url} has no readable audit log "
        "(run `swapzy db upgrade`, or check the role's grants)"
    )


def test_verify_on_an_unreachable_database(tmp_path: Path) -> None:
    url = "postgresql://nobody:secret@127.0.0.1:1/x"
    run = swapzy("audit", "verify", cwd=tmp_path, env=env_for(tmp_path, url))
    assert run.code == 14
    line = assert_one_clean_line(run)
    assert line.startswith(
        "swapzy: cannot reach the database at postgresql://nobody:***@127.0.0.1:1"
    )
    assert "secret" not in run.stderr


def test_the_anchor_role_verifies_and_anchors(tmp_path: Path, pg_roles: Roles) -> None:
    migrate.upgrade(pg_roles.owner_url, app_role=pg_roles.app, anchor_role=pg_roles.anchor)
    asyncio.run(_append(pg_roles.app_url, 4))
    env = env_for(tmp_path, pg_roles.app_url) | {"SWAPZY_AUDIT_DATABASE_URL": pg_roles.anchor_url}
    made = swapzy("audit", "anchor", cwd=tmp_path, env=env)
    assert made.code == 0, made.stderr
    assert made.stdout.startswith("Anchored row 4 ")
    fine = swapzy("audit", "verify", cwd=tmp_path, env=env)
    assert fine.code == 0, fine.stderr
    assert fine.stdout.startswith("Audit log intact: 4 rows, 1 anchors checked (head 4 ")
