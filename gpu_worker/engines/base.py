"""The engine contract: built once per process (models loaded in the constructor), then
``swap`` per clip with a progress callback. Engines declare their device and every model they
use with its licence, so a paid tier can refuse non-commercial models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

Frame = NDArray[np.uint8]
Progress = Callable[[int, int], None]
# Called with (index, frame) as soon as an output frame is final, in order, so encoding can
# run alongside the engine. Engines that cannot say early may call it at the end, or never.
FrameSink = Callable[[int, Frame], None]
FaceSelection = Literal["largest", "all"] | int


@dataclass(frozen=True)
class ModelInfo:
    name: str
    role: str
    file: str
    licence: str
    commercial_use: bool
    source: str


@dataclass(frozen=True)
class FrameFace:
    """One face in one frame: which person (track), where, and whether it was swapped."""

    track: int
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels
    landmarks: NDArray[np.float32]  # (N, 2) after temporal smoothing
    swapped: bool
    interpolated: bool = False  # filled in from neighbouring frames (detector missed it)


@dataclass(frozen=True)
class Track:
    """One person across the clip. ``number`` is what ``--faces N`` selects (1-based, by first
    appearance, then left to right)."""

    number: int
    first_frame: int
    last_frame: int
    frames_seen: int
    mean_area: float
    selected: bool


@dataclass
class SwapOutput:
    frames: list[Frame]
    faces: list[list[FrameFace]]  # per frame
    tracks: list[Track]
    source_faces_found: int
    notes: list[str] = field(default_factory=list)

    @property
    def frames_swapped(self) -> int:
        return sum(1 for per_frame in self.faces if any(f.swapped for f in per_frame))


@runtime_checkable
class Arriving(Protocol):
    """Frames that may still be decoding (``gpu_worker.media.feed.FrameFeed``): reading one
    waits until it is there. An engine may start on the first ones while the rest arrive."""

    def complete(self) -> bool:
        """Whether every frame is there."""
        ...


class Engine(Protocol):
    name: str
    device: str
    models: tuple[ModelInfo, ...]

    def swap(
        self,
        source: Frame,
        frames: Sequence[Frame],
        *,
        faces: FaceSelection = "largest",
        on_progress: Progress | None = None,
        durations_ms: Sequence[float] | None = None,
        on_frame: FrameSink | None = None,
    ) -> SwapOutput: ...

    def close(self) -> None: ...
