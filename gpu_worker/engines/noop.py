"""The ``noop`` engine: returns every frame unchanged, optionally taking a fixed time per frame.

It exercises everything around an engine (queue, storage, delivery) at full speed; the
benchmarks use it to measure the pipeline alone, and the crash drills use its delay to have a
job running long enough to kill its worker mid-clip.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from gpu_worker.engines.base import (
    FaceSelection,
    Frame,
    FrameSink,
    ModelInfo,
    Progress,
    SwapOutput,
)


class NoopEngine:
    name = "noop"
    device = "cpu"
    models: tuple[ModelInfo, ...] = ()

    def __init__(self, frame_delay_ms: float = 0.0) -> None:
        self.frame_delay_s = frame_delay_ms / 1000.0

    def swap(
        self,
        source: Frame,
        frames: Sequence[Frame],
        *,
        faces: FaceSelection = "largest",
        on_progress: Progress | None = None,
        durations_ms: Sequence[float] | None = None,
        on_frame: FrameSink | None = None,
    ) -> SwapOutput:
        total = len(frames)
        for i in range(total):
            if self.frame_delay_s:
                time.sleep(self.frame_delay_s)  # stands in for the work of a real engine
            if on_frame is not None:
                on_frame(i, frames[i])
            if on_progress is not None:
                on_progress(i + 1, total)
        return SwapOutput(
            frames=list(frames), faces=[[] for _ in frames], tracks=[], source_faces_found=0
        )

    def close(self) -> None:
        return None
