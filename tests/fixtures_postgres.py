"""PostgreSQL for tests: the server on 127.0.0.1:5432 when one answers (trust auth, user
``postgres``), else a throwaway cluster started here with the machine's ``initdb``/``pg_ctl``
(Debian: ``/usr/lib/postgresql/*/bin``) and stopped at the end of the session.

``SWAPZY_TEST_POSTGRES_URL`` (an admin URL: may create databases and roles) overrides both.
Without any of them the PostgreSQL tests fail, telling how to install it; they are never skipped.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ENV_URL = "SWAPZY_TEST_POSTGRES_URL"
INSTALL_HINT = (
    "PostgreSQL is needed for these tests: nothing answers on 127.0.0.1:5432 and no initdb was "
    "found to start a throwaway server. Install it (Debian/Ubuntu: `sudo apt-get install -y "
    "postgresql`; `make test` does this for you; macOS: `brew install postgresql`), or point "
    f"{ENV_URL} at a server where you may create databases and roles."
)


def can_connect(url: str, timeout_s: float = 1.0) -> bool:
    """A TCP connect within ``timeout_s``, then a real login."""
    u = make_url(url)
    try:
        with socket.create_connection((u.host or "127.0.0.1", u.port or 5432), timeout=timeout_s):
            pass
        with psycopg.connect(url, connect_timeout=max(1, int(timeout_s) + 1)):
            return True
    except (OSError, psycopg.Error):
        return False


def find_pg_bin() -> Path | None:
    """The newest Debian cluster tools, else ``initdb`` on PATH."""
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def throwaway_cluster(bin_dir: Path) -> Iterator[str]:
    """initdb + pg_ctl start on a free port (trust auth, socket in its own folder); yields the
    admin URL and stops and removes the cluster afterwards. initdb refuses root, so as root it
    runs as ``postgres`` (Debian's package user) or else ``nobody``, in a folder that user owns."""
    base = Path(tempfile.mkdtemp(prefix="swapzy-pg-"))  # not under pytest's 0700 root folder
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = "postgres"
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            user, pw = "nobody", pwd.getpwnam("nobody")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        use_su = shutil.which("runuser") is None
        prefix = ["su", "-s", "/bin/sh", user, "-c"] if use_su else ["runuser", "-u", user, "--"]
    data, log, port = base / "data", base / "server.log", _free_port()

    def run(*args: str) -> None:
        argv = [*prefix, shlex.join(args)] if prefix[:1] == ["su"] else [*prefix, *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stderr.strip()}\n{tail}")

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
        opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w",
            "-t", "60", "start")  # fmt: skip
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """An admin URL (may create databases and roles) of a running PostgreSQL server."""
    if given := os.environ.get(ENV_URL):
        if not can_connect(given, timeout_s=5):
            pytest.fail(f"{ENV_URL}={given} does not answer", pytrace=False)
        yield given
        return
    if can_connect(DEFAULT_ADMIN_URL):
        yield DEFAULT_ADMIN_URL
        return
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(throwaway_cluster(bin_dir))
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            pytest.fail(f"could not start PostgreSQL from {bin_dir}: {exc}", pytrace=False)
        yield url


def url_for(
    admin_url: str, database: str, user: str | None = None, password: str | None = None
) -> str:
    """``admin_url`` pointed at another database (and, when given, logging in as ``user``)."""
    u = make_url(admin_url).set(database=database)
    if user is not None:
        u = u.set(username=user, password=password)
    return u.render_as_string(hide_password=False)


def admin_execute(admin_url: str, *statements: sql.SQL | sql.Composed) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for stmt in statements:
            conn.execute(stmt)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database (random name) on ``postgres_server``; dropped afterwards."""
    name = f"swapzy_test_{uuid.uuid4().hex[:12]}"
    admin_execute(postgres_server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url_for(postgres_server, name)
    finally:
        admin_execute(
            postgres_server,
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
        )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file that does not exist yet, in a folder that does not exist yet."""
    return f"sqlite:///{tmp_path / 'db' / 'swapzy.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test on an empty SQLite file and on an empty PostgreSQL database."""
    fixture = {"sqlite": "sqlite_url", "postgresql": "postgres_url"}[request.param]
    url: str = request.getfixturevalue(fixture)
    return url
