"""A small Swapzy service for tests: settings pointing at the test's Redis, database and a
media folder; the real ``Submitter``; worker processes started as ``swapzy worker``; the
built-in delivery running in the test's event loop. Waiting is on conditions with deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from core.config import Settings, to_environment
from core.db.migrate import upgrade
from core.db.models import Channel, Lane
from core.db.session import Database
from core.storage import Storage, build_storage
from jobs.connect import connect_queue
from jobs.contract import Admission, Deliverer, MediaInput, SwapRequest
from jobs.delivery import DeliveryResources, InboxDeliverer, delivery_workers
from jobs.queues import WORKER_PREFIX
from jobs.runner import keep_running
from jobs.submit import Submitter

REPO = Path(__file__).parents[2]

# Fast clocks for drills: beats every 0.2 s, a worker is dead after 1.5 s without one.
FAST_WORKER = {
    "heartbeat_s": 0.2,
    "stale_after_s": 1.5,
    "sweep_every_s": 0.3,
    "retry_backoff_s": 0.05,
}


def service_settings(
    tmp_path: Path, redis_url: str, database_url: str, **overrides: Any
) -> dict[str, Any]:
    worker = {**FAST_WORKER, **overrides.pop("worker", {})}
    return {
        "env": "test",
        "data_dir": str(tmp_path / "var"),
        "database_url": database_url,
        "redis_url": redis_url,
        "engine": "noop",
        "public_url": "http://127.0.0.1:9",
        "worker": worker,
        **overrides,
    }


def to_env(values: dict[str, Any]) -> dict[str, str]:
    return to_environment(values, os.environ)


def wait_until(check: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)  # polling a condition, bounded by the deadline
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


async def wait_for(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)  # polling a condition, bounded by the deadline
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Service:
    values: dict[str, Any]
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return Settings(**self.values)

    def start_worker(self, **worker_overrides: Any) -> WorkerProcess:
        values = dict(self.values)
        values["worker"] = {**values["worker"], **worker_overrides}
        log = Path(values["data_dir"]) / f"worker-{len(self.workers)}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "worker"],
                env=to_env(values),
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProcess(process, log)
        self.workers.append(worker)
        client = redis.Redis.from_url(self.values["redis_url"])
        try:
            wait_until(
                lambda: (
                    any(
                        str(process.pid) in k.decode()
                        for k in client.scan_iter(WORKER_PREFIX + "*")
                    )
                    or process.poll() is not None
                ),
                "the worker to come up",
            )
        finally:
            client.close()
        assert process.poll() is None, f"worker exited:\n{worker.output()}"
        return worker

    def stop_workers(self) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.process.wait(15)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()


@contextlib.contextmanager
def service(
    tmp_path: Path, redis_url: str, database_url: str, **overrides: Any
) -> Iterator[Service]:
    values = service_settings(tmp_path, redis_url, database_url, **overrides)
    upgrade(database_url)
    svc = Service(values)
    try:
        yield svc
    finally:
        svc.stop_workers()


@dataclass
class Client:
    """The in-process side: what a channel holds (submitter, database, queue, storage)."""

    settings: Settings
    db: Database
    storage: Storage
    submitter: Submitter
    queue: Any


@contextlib.asynccontextmanager
async def client(
    settings: Settings, *, deliver: bool = True, admission: Admission | None = None
) -> AsyncIterator[Client]:
    """Open the channel side; with ``deliver``, run the built-in channels' delivery too.
    ``admission``: the plan check (billing's ``PlanAdmission``); default: unmetered."""
    db = Database.connect(settings.sqlalchemy_url)
    queue = await connect_queue(settings.redis_url)
    storage = build_storage(settings)
    stop = asyncio.Event()
    task = None
    if deliver:
        deliverers: dict[Channel, Deliverer] = {
            c: InboxDeliverer(queue) for c in (Channel.CLI, Channel.WEB)
        }
        res = DeliveryResources(settings, db, storage, deliverers)
        task = asyncio.create_task(
            keep_running(
                lambda: delivery_workers(res, queue, [Channel.CLI, Channel.WEB]), stop, "delivery"
            )
        )
    try:
        submitter = Submitter(settings, db, storage, queue, admission)
        yield Client(settings, db, storage, submitter, queue)
    finally:
        stop.set()
        if task is not None:
            await task
        await queue.aclose()
        await db.close()


def request_for(
    target: Path, source: Path, *, user: str = "u1", dedup_key: str | None = None, **kw: Any
) -> SwapRequest:
    return SwapRequest(
        channel=kw.pop("channel", Channel.CLI),
        external_user_id=user,
        target=MediaInput(target.read_bytes(), target.name),
        source=MediaInput(source.read_bytes(), source.name),
        dedup_key=dedup_key,
        lane=kw.pop("lane", Lane.FREE),
        **kw,
    )
