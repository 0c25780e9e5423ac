"""A real uvicorn server in a background thread, for tests that talk HTTP to the app.

    sock = bind_free_socket()          # optional: know the port before building the app
    app = create_app(Settings(public_url=base_url(sock), ...), storage=...)
    with serve(app, sock) as base:     # "http://127.0.0.1:PORT"
        httpx.get(f"{base}/healthz")

Readiness is an event set once uvicorn's startup finished (no sleeps); every wait is bounded.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0


def bind_free_socket(host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound to a free port (uvicorn starts listening on it)."""
    # IPPROTO_TCP named: asyncio turns on TCP_NODELAY only then (else ~40 ms per request).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn's server, telling a waiting thread when its startup is over (ok or not)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.startup_done = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.startup_done.set()


class ServerThread:
    """Runs ``app`` with uvicorn in a daemon thread; ``start()`` returns once it accepts."""

    def __init__(self, app: ASGIApp, sock: socket.socket | None = None) -> None:
        self._sock = sock or bind_free_socket()
        config = uvicorn.Config(
            app, log_config=None, log_level="warning", access_log=False, lifespan="on"
        )
        self.server = _Server(config)
        self.base_url = base_url(self._sock)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        # Wake up on the event; look at the thread every 50 ms in case it died before startup.
        while not self.server.startup_done.wait(0.05):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                break
        if not self.server.started:
            self.stop()
            raise RuntimeError(f"uvicorn did not start within {START_TIMEOUT_S} s (see its log)")
        return self.base_url

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT_S)
        if self._thread.is_alive():
            self.server.force_exit = True
            self._thread.join(STOP_TIMEOUT_S)
        self._sock.close()


@contextmanager
def serve(app: ASGIApp, sock: socket.socket | None = None) -> Iterator[str]:
    """Serve ``app`` for the duration of the block; yields its base URL."""
    server = ServerThread(app, sock)
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()
