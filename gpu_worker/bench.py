"""``swapzy bench``: engine speed on one core, and whole-clip time against the decode+encode
floor, side by side in one run (this machine is shared and noisy: compare ratios).

The engine is timed on one core (the goal's terms). The floor and the whole clip are timed the
way ``swapzy swap`` runs them (``swap_files``: decoded in this process, encoded in the encoder
process the command starts first thing) on every core the process may use, and the whole clip
once more on one core (everything one after the other in this process: the encoder in a
thread) and once the worker's way (decoded in the sandbox, encoded in the slot's encoder
process). Clips read from files are also timed at their own size, the
floor and the whole clip as ``swapzy swap`` runs them on the file as it is (what a user
sends: decoding and encoding grow with the pixels, the engine's landmarks do not)."""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from core.config import MediaLimits
from core.media import probe_target
from gpu_worker.engines.base import Engine, Frame
from gpu_worker.media import Clip, load_clip, load_face_photo, save_clip
from gpu_worker.media.encoder_process import EncoderProcess
from gpu_worker.media.samples import sample_clip, sample_face
from gpu_worker.media.stream import stream_clip
from gpu_worker.swap import swap_files

BENCH_WIDTH = 320


@dataclass(frozen=True)
class ClipBench:
    clip: str
    frames: int
    size: tuple[int, int]
    engine_fps: float  # engine only (no decode/encode), one core, best of the repeats
    floor_s: float  # decode + encode of the same clip, median
    whole_s: float  # swap_files as swapzy swap: decode, swap, the encoder process alongside
    whole_over_floor: float
    whole_one_core_s: float  # the same on one core
    whole_one_core_over_floor: float
    whole_worker_s: float  # the worker's way: sandboxed decode, encoder process; median
    whole_worker_over_floor: float
    # The same clip at its own size (None for the built-in sample, which is made at 320 px)
    full_size: tuple[int, int] | None = None
    full_floor_s: float | None = None
    full_whole_s: float | None = None
    full_whole_over_floor: float | None = None


@dataclass(frozen=True)
class BenchClip:
    name: str
    clip: Clip  # at BENCH_WIDTH
    face: Frame
    original: Path | None = None  # the file it was read from


@contextlib.contextmanager
def one_core() -> Iterator[int | None]:
    """Run this process (and its threads) on one core meanwhile; yields the core, or None
    where affinity cannot be set (then nothing changes)."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    cores = os.sched_getaffinity(0)
    threads = cv2.getNumThreads()
    core = sorted(cores)[-1]
    os.sched_setaffinity(0, {core})
    cv2.setNumThreads(1)
    try:
        yield core
    finally:
        os.sched_setaffinity(0, cores)
        cv2.setNumThreads(threads)


def resized(clip: Clip, width: int = BENCH_WIDTH) -> Clip:
    w, h = clip.size
    if w == width:
        return clip
    size = (width, max(2, round(h * width / w / 2) * 2))
    frames: list[Frame] = [
        np.asarray(cv2.resize(f, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        for f in clip.frames
    ]
    return Clip(frames=frames, durations_ms=list(clip.durations_ms), loop=clip.loop)


def bench_clips(shared_media: Path | None) -> Iterator[BenchClip]:
    yield BenchClip("built-in sample", sample_clip(), sample_face())
    if shared_media is None or not shared_media.is_dir():
        return

    limits = MediaLimits()
    face = load_face_photo(shared_media / "photos" / "cf_man_c_glasses.jpg", limits)
    for path in sorted((shared_media / "animations").iterdir()):
        if path.stem.startswith(("noface", "cartoon")):
            continue
        yield BenchClip(path.name, resized(load_clip(path, limits)), face, path)


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_clip(engine: Engine, item: BenchClip, repeats: int, encoder: EncoderProcess) -> ClipBench:
    clip, face = item.clip, item.face
    with tempfile.TemporaryDirectory(prefix="swapzy-bench-") as tmp:
        src = Path(tmp) / "in.gif"
        face_path = Path(tmp) / "face.png"
        out = Path(tmp) / "out.gif"
        save_clip(clip, src)
        Image.fromarray(face, "RGB").save(face_path)
        limits = MediaLimits()

        def engine_only() -> None:
            engine.swap(face, clip.frames, durations_ms=clip.durations_ms)

        def worker() -> None:
            swap_files(src, face_path, out, engine=engine, limits=limits, encoder=encoder)

        with one_core():
            engine_only()  # warm-up
            eng = min(timed(engine_only) for _ in range(repeats))
            whole_one_core_s = _median(lambda: whole(engine, src, face_path, out), repeats)
        # Side by side: one run of each in turn, so the machine's drift (shared, noisy) lands
        # on the floor and the wholes alike.
        times = _side_by_side(
            {
                "floor": lambda: floor(src, out),
                "whole": lambda: whole(engine, src, face_path, out, encoder),
                "worker": worker,
            },
            repeats,
        )
        floor_s, whole_s, worker_s = times["floor"], times["whole"], times["worker"]
        full = None
        if item.original is not None:
            full = _full_size(engine, item.original, face_path, Path(tmp), repeats, encoder)
    return ClipBench(
        clip=item.name,
        frames=len(clip),
        size=clip.size,
        engine_fps=len(clip) / eng,
        floor_s=floor_s,
        whole_s=whole_s,
        whole_over_floor=whole_s / floor_s,
        whole_one_core_s=whole_one_core_s,
        whole_one_core_over_floor=whole_one_core_s / floor_s,
        whole_worker_s=worker_s,
        whole_worker_over_floor=worker_s / floor_s,
        full_size=None if full is None else full[0],
        full_floor_s=None if full is None else full[1],
        full_whole_s=None if full is None else full[2],
        full_whole_over_floor=None if full is None else full[2] / full[1],
    )


def _full_size(
    engine: Engine, original: Path, face: Path, tmp: Path, repeats: int, encoder: EncoderProcess
) -> tuple[tuple[int, int], float, float]:
    """(size, floor s, whole s) of the clip's own file, as a user sends it."""
    out = tmp / f"full{original.suffix}"
    info = probe_target(original, MediaLimits())  # the header: no decode just for the size
    size = (info.width, info.height)
    times = _side_by_side(
        {
            "floor": lambda: floor(original, out),
            "whole": lambda: whole(engine, original, face, out, encoder),
        },
        repeats,
    )
    return size, times["floor"], times["whole"]


def floor(src: Path, out: Path) -> None:
    """Decode + encode only."""
    save_clip(load_clip(src, MediaLimits()), out)


def whole(
    engine: Engine, src: Path, face: Path, out: Path, encoder: EncoderProcess | None = None
) -> None:
    """``swapzy swap``'s way: inputs decoded in this process (a GIF in a thread while the
    engine starts on its first frames), the encoder beside the engine in ``encoder``'s
    process (as the command starts one), or in a thread where None."""
    limits = MediaLimits()
    clip = stream_clip(src, limits)
    inputs = (load_face_photo(face, limits), clip)
    swap_files(src, face, out, engine=engine, limits=limits, inputs=inputs, encoder=encoder)


def swap_encoder() -> EncoderProcess:
    """The encoder ``swapzy swap`` encodes in (its own process; ``cli/main.py``), for
    ``whole`` (bench scripts that time other revisions look this up: older ones had none)."""
    return EncoderProcess()


def _median(fn: Callable[[], object], repeats: int) -> float:
    return statistics.median(timed(fn) for _ in range(repeats))


def _side_by_side(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The median time of each of ``runs``, timed in turns (the order reversed every other
    turn, so none always follows the same one)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for turn in range(repeats):
        for name in list(runs) if turn % 2 == 0 else reversed(runs):
            times[name].append(timed(runs[name]))
    return {name: statistics.median(t) for name, t in times.items()}


def run(engine: Engine, shared_media: Path | None, repeats: int = 3) -> list[ClipBench]:
    encoder = swap_encoder()  # swapzy swap's, and a worker slot's alike
    try:
        return [bench_clip(engine, item, repeats, encoder) for item in bench_clips(shared_media)]
    finally:
        encoder.close()


def summary(rows: list[ClipBench]) -> dict[str, float]:
    frames = sum(r.frames for r in rows)
    return {
        "engine_fps_overall": frames / sum(r.frames / r.engine_fps for r in rows),
        "engine_fps_min": min(r.engine_fps for r in rows),
        "whole_over_floor_max": max(r.whole_over_floor for r in rows),
        "whole_over_floor_mean": float(np.mean([r.whole_over_floor for r in rows])),
        "whole_one_core_over_floor_max": max(r.whole_one_core_over_floor for r in rows),
        "whole_worker_over_floor_mean": float(np.mean([r.whole_worker_over_floor for r in rows])),
        "whole_worker_over_floor_max": max(r.whole_worker_over_floor for r in rows),
        **_full_summary([r.full_whole_over_floor for r in rows if r.full_whole_over_floor]),
    }


def _full_summary(ratios: list[float]) -> dict[str, float]:
    if not ratios:
        return {}
    return {
        "full_whole_over_floor_mean": float(np.mean(ratios)),
        "full_whole_over_floor_max": max(ratios),
    }


def as_dicts(rows: list[ClipBench]) -> list[dict[str, object]]:
    return [asdict(r) for r in rows]
