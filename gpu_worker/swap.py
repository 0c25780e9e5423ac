"""One local swap from files to a file: decode, swap, encode, with progress per stage."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.config import MediaLimits
from gpu_worker.engines.base import Engine, FaceSelection, SwapOutput
from gpu_worker.media import Clip, load_clip, load_face_photo, save_clip
from gpu_worker.media.encode import check_output_path

StageProgress = Callable[[str, int, int], None]  # stage, done, total


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
) -> SwapReport:
    """Swap the face in ``source`` into ``target`` and write ``output``. Raises ``InputError``."""
    check_output_path(output)
    t0 = time.perf_counter()
    face = load_face_photo(source, limits)
    clip = load_clip(target, limits)
    t1 = time.perf_counter()

    def engine_progress(done: int, total: int) -> None:
        if on_progress is not None:
            on_progress("swap", done, total)

    result: SwapOutput = engine.swap(
        face, clip.frames, faces=faces, on_progress=engine_progress, durations_ms=clip.durations_ms
    )
    t2 = time.perf_counter()

    def encode_progress(done: int, total: int) -> None:
        if on_progress is not None:
            on_progress("encode", done, total)

    swapped: Clip = clip.with_frames(result.frames)
    save_clip(swapped, output, encode_progress)
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
