"""One local swap from files to a file: decode, swap, encode, with progress per stage."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from core.config import DecodeSandbox, MediaLimits
from gpu_worker.engines.base import Engine, FaceSelection, SwapOutput
from gpu_worker.media import Clip
from gpu_worker.media.clip import Frame
from gpu_worker.media.encode import check_output_path, encode_clip
from gpu_worker.media.encoder_process import EncoderGone, EncoderProcess
from gpu_worker.media.feed import FrameFeed
from gpu_worker.media.sandbox import load_inputs
from gpu_worker.media.stream import ClipStream
from gpu_worker.plan_terms import ClipTerms

StageProgress = Callable[[str, int, int], None]  # stage, done, total
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SwapReport:
    output: Path
    frames: int
    size: tuple[int, int]
    duration_ms: float
    frames_swapped: int
    people_in_clip: int
    source_faces_found: int
    decode_s: float
    engine_s: float
    encode_s: float
    notes: tuple[str, ...]


def swap_files(
    target: Path,
    source: Path,
    output: Path,
    *,
    engine: Engine,
    limits: MediaLimits,
    faces: FaceSelection = "largest",
    on_progress: StageProgress | None = None,
    terms: ClipTerms | None = None,
    sandbox: DecodeSandbox | None = None,
    inputs: tuple[Frame, Clip | ClipStream] | None = None,
    encoder: EncoderProcess | None = None,
) -> SwapReport:
    """Swap the face in ``source`` into ``target`` and write ``output``. Raises ``InputError``.

    The encoder runs alongside the engine, fed each output frame as soon as the engine has
    made it: in ``encoder``'s process where one is given (a worker keeps one), else in a thread
    of this one. ``encode_s`` is the part of encoding left after the engine is done.

    The inputs are decoded in a limited child process (``core/sandbox.py``, ``sandbox``'s
    limits, the defaults if None), unless the caller hands them over already decoded
    (``inputs``: the face photo and the clip of ``source`` and ``target``). Only ``swapzy swap``
    does, for local files the operator chose (decoded in its own process while the models
    load; the sandbox's helper costs more to start than swapping a short clip). Uploads (the
    worker) are always decoded here, in the sandbox. The clip handed over may still be
    decoding (a ``ClipStream``): the engine starts on its first frames, and the encoder once
    it has decoded (unless the plan's resolution cap needs the whole clip first).
    """
    ext = check_output_path(output)
    t0 = time.perf_counter()
    face, given = inputs or load_inputs(target, source, limits, sandbox or DecodeSandbox())
    terms = terms or ClipTerms()  # the plan's: resolution cap before the engine, mark after it
    stream: ClipStream | None = None
    decoded: Clip | None = None
    frames: Sequence[Frame]
    if isinstance(given, ClipStream) and not terms.resizes(given.size):
        stream = given
        frames, durations = given.frames, given.durations_ms
    else:  # decoded whole (a stream waited for: the cap needs every frame)
        decoded = terms.before_swap(given.clip() if isinstance(given, ClipStream) else given)
        frames, durations = decoded.frames, decoded.durations_ms

    def whole() -> Clip:
        """The clip the engine swaps, once it has decoded."""
        if decoded is not None:
            return decoded
        assert stream is not None
        return stream.clip()

    t1 = time.perf_counter()
    feed = FrameFeed(len(frames))

    def start_coder() -> _Encoder | _Child:
        """The encoder, once the clip has decoded (it needs every frame's palette)."""
        encoding = terms.after_swap(whole(), feed)
        if encoder is None:
            return _Encoder(encoding, ext, on_progress)
        return _Child(encoder, encoding, ext, on_progress)

    def engine_progress(done: int, total: int) -> None:
        if on_progress is not None:
            on_progress("swap", done, total)

    with ThreadPoolExecutor(1, thread_name_prefix="swapzy-coder") as starter:
        # A streamed clip's encoder starts once it has decoded; any other's, before the engine.
        starting = starter.submit(start_coder) if stream is not None else _now(start_coder)
        try:
            result: SwapOutput = engine.swap(
                face,
                frames,
                faces=faces,
                on_progress=engine_progress,
                durations_ms=durations,
                on_frame=feed.put,
            )
        except BaseException:
            feed.abort()
            if stream is not None:
                stream.cancel()
            with contextlib.suppress(BaseException):
                starting.result().discard()
            raise
        coder = starting.result()
    clip = whole()
    feed.fill(result.frames)  # engines that hand their frames over only at the end
    t2 = time.perf_counter()
    try:
        data = coder.result()
    except EncoderGone:  # the encoder process died: the frames are all here
        log.warning("encoder process gone: encoding %s in this process", output.name)
        data = encode_clip(terms.after_swap(clip, result.frames), ext)
    tmp = output.with_name(f".{output.name}.partial")
    tmp.write_bytes(data)
    tmp.replace(output)
    t3 = time.perf_counter()
    return SwapReport(
        output=output,
        frames=len(clip),
        size=clip.size,
        duration_ms=clip.duration_ms,
        frames_swapped=result.frames_swapped,
        people_in_clip=len(result.tracks),
        source_faces_found=result.source_faces_found,
        decode_s=t1 - t0,
        engine_s=t2 - t1,
        encode_s=t3 - t2,
        notes=tuple(result.notes),
    )


def _now(start: Callable[[], _Encoder | _Child]) -> Future[_Encoder | _Child]:
    """``start()``'s result, as a future that is done."""
    done: Future[_Encoder | _Child] = Future()
    done.set_result(start())
    return done


class _Child:
    """The clip encoded in an ``EncoderProcess``, progress as stage ``encode`` once the
    engine has finished (like ``_Encoder``)."""

    def __init__(
        self, process: EncoderProcess, clip: Clip, ext: str, on_progress: StageProgress | None
    ) -> None:
        self._on_progress = on_progress
        self._job = process.encode(clip, ext)

    def _progress(self, done: int, total: int) -> None:
        if self._on_progress is not None:
            self._on_progress("encode", done, total)

    def result(self) -> bytes:
        return self._job.result(self._progress)

    def discard(self) -> None:
        self._job.discard()


class _Encoder:
    """``encode_clip`` in a thread of its own. Its progress reaches ``on_progress`` (as stage
    ``encode``) once the engine has finished, so a progress display shows one stage at a time."""

    def __init__(self, clip: Clip, ext: str, on_progress: StageProgress | None) -> None:
        self._on_progress = on_progress
        self._done = 0
        self._showing = False
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="swapzy-encode")
        self._future = self._pool.submit(encode_clip, clip, ext, self._progress)
        self._total = len(clip)

    def _progress(self, done: int, total: int) -> None:
        with self._lock:
            self._done = done
            if self._showing and self._on_progress is not None:
                self._on_progress("encode", done, total)

    def result(self) -> bytes:
        with self._lock:
            self._showing = True
            if self._on_progress is not None:
                self._on_progress("encode", self._done, self._total)
        try:
            return self._future.result()
        finally:
            self._pool.shutdown(wait=True)

    def discard(self) -> None:
        """The engine failed: wait for the encoder to stop (it stops at the aborted feed)."""
        with contextlib.suppress(BaseException):
            self._future.result()
        self._pool.shutdown(wait=True)
