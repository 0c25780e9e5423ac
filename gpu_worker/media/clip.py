"""The in-memory clip: RGB frames plus everything needed to write them back unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Frame = NDArray[np.uint8]  # (H, W, 3) RGB
Alpha = NDArray[np.uint8]  # (H, W), 255 = opaque


@dataclass
class Clip:
    """Frames with their display durations.

    ``durations_ms[i]`` is how long frame ``i`` shows (GIF delays are whole centiseconds, video
    durations come from presentation timestamps). ``loop`` is the GIF/WebP loop count as stored
    in the file (0 = forever) or None when the file has none (plays once; a WebP's loop count 1,
    its "play once", also reads as None and is written back as 1).
    ``alpha`` holds per-frame transparency when the input had any. ``palettes`` holds the
    colours (K, 3) of each input frame's visible pixels when there are at most 256, so a GIF
    written back keeps every untouched pixel exact.
    """

    frames: Sequence[Frame]  # a list, or a FrameFeed filled while the engine runs
    durations_ms: list[float]
    loop: int | None = 0
    alpha: list[Alpha] | None = None
    palettes: list[NDArray[np.uint8] | None] | None = None
    source_kind: str = "gif"
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.frames) != len(self.durations_ms):
            raise ValueError("one duration per frame")
        if self.alpha is not None and len(self.alpha) != len(self.frames):
            raise ValueError("one alpha mask per frame")
        if self.palettes is not None and len(self.palettes) != len(self.frames):
            raise ValueError("one palette (or None) per frame")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        h, w = self.frames[0].shape[:2]
        return w, h

    @property
    def duration_ms(self) -> float:
        return float(sum(self.durations_ms))

    def __len__(self) -> int:
        return len(self.frames)

    def with_frames(self, frames: Sequence[Frame]) -> Clip:
        """The same clip (timing, loop, transparency) with new pixels."""
        return Clip(
            frames=frames,
            durations_ms=list(self.durations_ms),
            loop=self.loop,
            alpha=self.alpha,
            palettes=self.palettes,
            source_kind=self.source_kind,
            metadata=dict(self.metadata),
        )
