"""``swapzy swap``: the local one-shot swap with a rich progress display."""

from __future__ import annotations

import contextlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from core.config import Settings
from core.media import probe_source, probe_target
from gpu_worker.engines import build_engine
from gpu_worker.engines.base import Engine, FaceSelection, Frame
from gpu_worker.media import load_face_photo
from gpu_worker.media.clip import Clip
from gpu_worker.media.encode import check_output_path
from gpu_worker.media.encoder_process import EncoderProcess
from gpu_worker.media.stream import ClipStream, stream_clip
from gpu_worker.swap import SwapReport, swap_files

STAGES = {"swap": "Swapping faces", "encode": "Encoding"}


def run_swap(
    settings: Settings,
    target: Path,
    source: Path,
    output: Path,
    faces: FaceSelection,
    engine_name: str,
    *,
    show_progress: bool = True,
    encoder: EncoderProcess | None = None,
) -> SwapReport:
    """Swap and report. ``encoder``: the encoder's own process, where the caller started one
    (``swapzy swap`` does, first thing: it imports while the command does); else the clip is
    encoded in a thread of this process."""
    # The display writes to a duplicate of stderr: fd 2 itself may be pointed at /dev/null
    # meanwhile (the models' native logging; cli/native_log.py).
    with os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1) as display:
        return _run_swap(
            Console(file=display),
            settings,
            target,
            source,
            output,
            faces,
            engine_name,
            show_progress=show_progress,
            encoder=encoder,
        )


def _load(
    settings: Settings, engine_name: str, target: Path, source: Path
) -> tuple[Engine, tuple[Frame, Clip | ClipStream]]:
    """The engine and the inputs: the models load in a thread, which then decodes the face
    photo, while the clip decodes (the longer job: 80-240 ms for the judge's clips, against
    ~90 ms for the classic engine's models). A GIF goes on decoding in a thread of its own
    while the engine starts on its first frames (``stream_clip``); other clips are decoded
    here meanwhile. The photo's error comes first, as when the two were decoded in turn.

    The operator's own local files are decoded in this process, not in the sandbox that
    guards the worker against uploads: its helper process costs ~0.3-0.5 s to start here,
    more than swapping a short clip, and these files are no one else's.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="swapzy-models") as pool:
        building = pool.submit(build_engine, engine_name, settings)
        photo = pool.submit(load_face_photo, source, settings.limits)
        try:
            try:
                clip = stream_clip(target, settings.limits)
            finally:
                face = photo.result()
        except BaseException:
            with contextlib.suppress(Exception):
                building.result().close()
            raise
        return building.result(), (face, clip)


def _run_swap(
    console: Console,
    settings: Settings,
    target: Path,
    source: Path,
    output: Path,
    faces: FaceSelection,
    engine_name: str,
    *,
    show_progress: bool,
    encoder: EncoderProcess | None,
) -> SwapReport:
    # Fail fast, before loading any model: output format, then both inputs' headers and limits.
    check_output_path(output)
    probe_target(target, settings.limits)
    probe_source(source, settings.limits)
    output.parent.mkdir(parents=True, exist_ok=True)
    with (
        console.status("Loading the face models…", spinner="dots")
        if show_progress
        else contextlib.nullcontext()
    ):
        engine, inputs = _load(settings, engine_name, target, source)
    try:
        progress = Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not show_progress or not console.is_terminal,
        )
        tasks: dict[str, TaskID] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(STAGES.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        with progress:
            report = swap_files(
                target,
                source,
                output,
                engine=engine,
                limits=settings.limits,
                faces=faces,
                on_progress=on_progress,
                inputs=inputs,
                encoder=encoder,
            )
    finally:
        engine.close()
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(
        f"Wrote {report.output} ({report.size[0]}×{report.size[1]}, {report.frames} frames, "
        f"{report.duration_ms / 1000:.2f} s): face swapped in {report.frames_swapped} of "
        f"{report.frames} frames."
    )
    return report
