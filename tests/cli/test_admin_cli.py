"""``swapzy admin grant|revoke|list``: admins change plans with a reason and an expiry; anyone
else is refused with one line and nothing changes. Real database and Redis."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app
from core.db.audit_models import AuditEvent
from core.db.billing_models import BillingNotice, Grant
from core.db.migrate import upgrade
from core.db.models import Channel, User, UserEvent
from core.db.session import Database
from jobs.accounts import user_for
from jobs.queues import delivery_queue
from tests.fixtures_redis import Valkey

ADMIN = "telegram:1"


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, valkey: Valkey
) -> dict[str, str]:
    upgrade(database_url)
    monkeypatch.chdir(tmp_path)
    values = {
        "SWAPZY_DATABASE_URL": database_url,
        "SWAPZY_REDIS_URL": valkey.url,
        "SWAPZY_DATA_DIR": str(tmp_path / "var"),
        "SWAPZY_ADMINS": json.dumps([ADMIN]),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _read(url: str) -> tuple[str, list[Grant], list[str], list[str]]:
    """Ada's plan, the grants, the user events and audit records (kinds), the notices."""

    async def read() -> tuple[str, list[Grant], list[str], list[str]]:
        db = Database.connect(url)
        try:
            user_id = await user_for(db, Channel.TELEGRAM, "4242", "ada")
            async with db.sessions() as s:
                plan = await s.scalar(select(User.plan).where(User.id == user_id))
                grants = list(await s.scalars(select(Grant).order_by(Grant.id)))
                events = list(await s.scalars(select(UserEvent.kind).order_by(UserEvent.id)))
                events += list(await s.scalars(select(AuditEvent.kind).order_by(AuditEvent.seq)))
                notices = list(await s.scalars(select(BillingNotice.kind)))
            return str(plan), grants, events, notices
        finally:
            await db.close()

    return asyncio.run(read())


def test_an_admin_grants_lists_and_revokes_pro(env: dict[str, str]) -> None:
    runner = CliRunner()
    _read(env["SWAPZY_DATABASE_URL"])  # ada exists (she talked to the bot)
    granted = runner.invoke(
        app,
        ["admin", "grant", "telegram:4242", "--pro", "--days", "7",
         "--reason", "launch partner", "--as", ADMIN],
    )  # fmt: skip
    assert granted.exit_code == 0, granted.output
    assert granted.stdout.startswith("Granted Pro to telegram:4242 until ")
    assert granted.stdout.rstrip().endswith("(grant 1).")
    plan, grants, events, notices = _read(env["SWAPZY_DATABASE_URL"])
    assert (plan, notices) == ("pro", ["pro_now"])
    assert [(g.what, g.reason, g.granted_by) for g in grants] == [("pro", "launch partner", ADMIN)]
    # "You're Pro now" waits on the Telegram delivery queue, the channel ada uses.
    queue = redis.Redis.from_url(env["SWAPZY_REDIS_URL"])
    assert queue.zcard(delivery_queue(Channel.TELEGRAM)) == 1
    listed = runner.invoke(app, ["admin", "list", "--as", ADMIN])
    assert listed.exit_code == 0, listed.output
    (line,) = listed.stdout.splitlines()
    assert line.split("\t")[2:] == [
        "pro", f"until {grants[0].expires_at:%Y-%m-%d}", "active", f"by {ADMIN}: launch partner",
    ]  # fmt: skip
    revoked = runner.invoke(
        app, ["admin", "revoke", "1", "--reason", "partner left", "--as", ADMIN]
    )
    assert (revoked.exit_code, revoked.stdout) == (0, "Revoked grant 1.\n")
    plan, grants, events, _ = _read(env["SWAPZY_DATABASE_URL"])
    assert plan == "free"
    assert events == [
        "billing.grant", "billing.revoke", "entitlement.granted", "entitlement.revoked",
    ]  # fmt: skip
    listed = runner.invoke(app, ["admin", "list", "telegram:4242", "--as", ADMIN])
    assert f"revoked by {ADMIN}" in listed.stdout


def test_credits_need_a_reason_and_a_known_user(env: dict[str, str]) -> None:
    runner = CliRunner()
    _read(env["SWAPZY_DATABASE_URL"])
    nobody = runner.invoke(
        app, ["admin", "grant", "telegram:999", "--credits", "5", "--reason", "x", "--as", ADMIN]
    )
    assert nobody.exit_code == 1
    assert "No user 'telegram:999'" in nobody.stderr
    blank = runner.invoke(
        app, ["admin", "grant", "telegram:4242", "--credits", "5", "--reason", " ", "--as", ADMIN]
    )
    assert blank.exit_code == 1
    assert "Give a reason" in blank.stderr
    ok = runner.invoke(
        app,
        ["admin", "grant", "telegram:4242", "--credits", "5", "--reason", "refund", "--as", ADMIN],
    )
    assert ok.exit_code == 0, ok.output
    assert "Granted 5 extra swaps" in ok.stdout
    _, grants, _, notices = _read(env["SWAPZY_DATABASE_URL"])
    assert [(g.what, g.amount, g.remaining) for g in grants] == [("credits", 5, 5)]
    assert notices == []  # extra swaps do not change the plan


@pytest.mark.parametrize("command", [
    ["grant", "telegram:4242", "--pro", "--reason", "mine", "--as", "telegram:666"],
    ["revoke", "1", "--reason", "mine", "--as", "telegram:666"],
    ["list", "--as", "telegram:666"],
])  # fmt: skip
def test_a_non_admin_is_refused_with_one_line_and_nothing_changes(
    env: dict[str, str], command: list[str]
) -> None:
    _read(env["SWAPZY_DATABASE_URL"])
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "admin", *command],
        capture_output=True, text=True, timeout=60, check=False,
        cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert done.returncode == 17, done.stderr
    assert done.stderr == ("swapzy: telegram:666 may not change plans or credits: admins only.\n")
    assert done.stdout == ""
    plan, grants, events, notices = _read(env["SWAPZY_DATABASE_URL"])
    assert (plan, grants, events, notices) == ("free", [], [], [])
