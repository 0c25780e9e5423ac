"""``swapzy db``: what it prints, where it takes the URL from, and one clear line on failure.

``db_app`` is driven through Typer's runner; failures also run in a separate process, where a
traceback or a second line on stderr would show."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.db_command import db_app
from core.db import migrate

HEAD = migrate.head()
RUN_DB_APP = "from cli.db_command import db_app; db_app(prog_name='swapzy db')"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner in an empty folder (no ``.env``) with no SWAPZY_* database settings."""
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "MIGRATE_DATABASE_URL", "DB_APP_ROLE", "DATA_DIR"):
        monkeypatch.delenv(f"SWAPZY_{name}", raising=False)
    return CliRunner()


def swapzy_db(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN_DB_APP, *args],
        cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_upgrade_prints_the_head_line(runner: CliRunner, sqlite_url: str) -> None:
    result = runner.invoke(db_app, ["upgrade", "--url", sqlite_url])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"Database at head ({HEAD}): {sqlite_url}\n"
    assert migrate.current(sqlite_url) == HEAD
    again = runner.invoke(db_app, ["upgrade", "--url", sqlite_url])
    assert (again.exit_code, again.stdout) == (0, result.stdout)


def test_current_prints_the_revision(runner: CliRunner, sqlite_url: str) -> None:
    before = runner.invoke(db_app, ["current", "--url", sqlite_url])
    assert before.exit_code == 0, before.stderr
    assert before.stdout == f"empty (this code needs {HEAD}): {sqlite_url}\n"
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()  # looking creates nothing
    migrate.upgrade(sqlite_url)
    after = runner.invoke(db_app, ["current", "--url", sqlite_url])
    assert (after.exit_code, after.stdout) == (0, f"{HEAD} (head): {sqlite_url}\n")


def test_default_url_comes_from_the_settings(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWAPZY_DATA_DIR", str(tmp_path / "data"))
    result = runner.invoke(db_app, ["upgrade"])
    assert result.exit_code == 0, result.stderr
    default = tmp_path / "data" / "swapzy.db"
    assert result.stdout == f"Database at head ({HEAD}): sqlite:///{default}\n"
    assert migrate.current(f"sqlite:///{default}") == HEAD

    # The migration URL (the schema owner) wins over the app's URL.
    app_db, owner_db = tmp_path / "app.db", tmp_path / "owner.db"
    monkeypatch.setenv("SWAPZY_DATABASE_URL", f"sqlite:///{app_db}")
    monkeypatch.setenv("SWAPZY_MIGRATE_DATABASE_URL", f"sqlite:///{owner_db}")
    assert runner.invoke(db_app, ["upgrade"]).exit_code == 0
    assert owner_db.exists() and not app_db.exists()


def test_upgrade_on_postgres_grants_the_app_role_from_settings(
    runner: CliRunner, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The role does not exist: PostgreSQL refuses the grant and the upgrade is rolled back.
    monkeypatch.setenv("SWAPZY_DB_APP_ROLE", "swapzy_no_such_role")
    refused = runner.invoke(db_app, ["upgrade", "--url", postgres_url])
    assert refused.exit_code == 1
    assert refused.stderr.strip().endswith('role "swapzy_no_such_role" does not exist')
    assert migrate.current(postgres_url) is None
    # An explicit empty --app-role overrides the setting: no grants.
    done = runner.invoke(db_app, ["upgrade", "--url", postgres_url, "--app-role", ""])
    assert done.exit_code == 0, done.stderr
    assert done.stdout == f"Database at head ({HEAD}): {postgres_url}\n"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://nobody@127.0.0.1:1/x", "postgresql://nobody@127.0.0.1:1/x"),
        ("postgresql://nobody:hunter2@127.0.0.1:1/x", "postgresql://nobody:***@127.0.0.1:1/x"),
    ],
)
def test_unreachable_database_is_one_line_and_exit_14(url: str, shown: str, tmp_path: Path) -> None:
    done = swapzy_db("upgrade", "--url", url, cwd=tmp_path)
    assert done.returncode == 14
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"swapzy: cannot reach the database at {shown}: ")
    assert "refused" in lines[0].lower()
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["upgrade", "current"])
def test_unusable_url_is_one_line_and_exit_14(command: str, tmp_path: Path) -> None:
    done = swapzy_db(command, "--url", "mysql://root@127.0.0.1/x", cwd=tmp_path)
    assert done.returncode == 14
    assert done.stderr == (
        "swapzy: cannot reach the database at mysql://root@127.0.0.1/x: mysql is not supported "
        "(use sqlite:///path/to/file.db or postgresql://user@host/db)\n"
    )
