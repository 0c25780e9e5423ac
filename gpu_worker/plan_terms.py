"""The plan's terms applied to a clip (stored on the job row by billing's admission; the worker
reads them from the row and never imports billing): a resolution cap before the engine runs (so
a capped clip also costs less to swap) and a small visible "swapzy" mark after it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import overload

import cv2
import numpy as np
from numpy.typing import NDArray

from gpu_worker.media.clip import Clip, Frame

MARK = "swapzy"
MARK_OPACITY = 0.75


@dataclass(frozen=True)
class ClipTerms:
    watermark: bool = False
    max_side: int | None = None  # longest side in pixels; None: as the input

    def before_swap(self, clip: Clip) -> Clip:
        return cap_resolution(clip, self.max_side)

    def resizes(self, size: tuple[int, int]) -> bool:
        """Whether ``before_swap`` scales a clip of this (width, height) down."""
        return capped_size(size, self.max_side) != size

    def after_swap(self, clip: Clip, frames: Sequence[Frame]) -> Clip:
        """``clip`` with the swapped ``frames`` as the encoder should see them: marked when the
        plan says so. Where the clip is see-through under the mark, the mark's pixels are
        made opaque (drawn on black there), or a transparent corner would hide it."""
        if not self.watermark:
            return clip.with_frames(frames)
        if clip.alpha is None:
            return clip.with_frames(Watermarked(frames))
        footprint = mark_footprint(clip.size)
        hidden = [(a < 128) & footprint for a in clip.alpha]  # see-through under the mark
        opaque = [np.where(footprint, np.uint8(255), a).astype(np.uint8) for a in clip.alpha]
        return replace(clip.with_frames(Watermarked(frames, hidden)), alpha=opaque)


class Watermarked(Sequence[Frame]):
    """``frames`` with the mark drawn on each as it is read (in the encoder's thread, so it
    follows the engine frame by frame); each frame is marked once."""

    def __init__(
        self, frames: Sequence[Frame], hidden: Sequence[NDArray[np.bool_]] | None = None
    ) -> None:
        self._frames = frames
        self._hidden = hidden  # per frame: the mark's pixels that were see-through
        self._marked: dict[int, Frame] = {}

    def __len__(self) -> int:
        return len(self._frames)

    @overload
    def __getitem__(self, index: int) -> Frame: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Frame]: ...

    def __getitem__(self, index: int | slice) -> Frame | Sequence[Frame]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = index % len(self) if -len(self) <= index < len(self) else index
        if i not in self._marked:
            hidden = None if self._hidden is None else self._hidden[i]
            self._marked[i] = watermark(self._frames[i], hidden)
        return self._marked[i]


def capped_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """(width, height) scaled down so the longest side is at most ``max_side`` (even numbers,
    as video encoders want); unchanged when it already fits."""
    w, h = size
    if max_side is None or max(w, h) <= max_side:
        return size
    scale = max_side / max(w, h)
    return max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2)


def cap_resolution(clip: Clip, max_side: int | None) -> Clip:
    size = capped_size(clip.size, max_side)
    if size == clip.size:
        return clip
    frames = [_resize(f, size, cv2.INTER_AREA) for f in clip.frames]
    alpha = None
    if clip.alpha is not None:
        alpha = [_resize(a, size, cv2.INTER_NEAREST) for a in clip.alpha]
    return Clip(
        frames=frames,
        durations_ms=list(clip.durations_ms),
        loop=clip.loop,
        alpha=alpha,
        palettes=None,  # the input's colours no longer match resampled pixels
        source_kind=clip.source_kind,
        metadata=dict(clip.metadata),
    )


def _resize(image: Frame, size: tuple[int, int], interpolation: int) -> Frame:
    return np.asarray(cv2.resize(image, size, interpolation=interpolation), dtype=np.uint8)


def watermark(frame: Frame, hidden: NDArray[np.bool_] | None = None) -> Frame:
    """``frame`` with a small "swapzy" in its bottom-right corner: white text with a dark
    outline (readable on any background), ~1/30 of the frame's height, slightly see-through.
    ``hidden`` (the mark's pixels where the frame was see-through) are drawn on black (the
    encoder makes them opaque: ``ClipTerms.after_swap``)."""
    h, w = frame.shape[:2]
    scale, thickness, origin = _mark_layout(w, h)
    base = np.ascontiguousarray(frame)
    if hidden is not None and hidden.any():
        base = base.copy()
        base[hidden] = 0
    marked = base.copy()
    for colour, extra in (((0, 0, 0), 2), ((255, 255, 255), 0)):
        cv2.putText(
            marked, MARK, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour,
            thickness + extra, cv2.LINE_AA,
        )  # fmt: skip
    blended = cv2.addWeighted(marked, MARK_OPACITY, base, 1 - MARK_OPACITY, 0)
    return np.asarray(blended, dtype=np.uint8)


def mark_footprint(size: tuple[int, int]) -> NDArray[np.bool_]:
    """(H, W): the pixels the mark (its outline) covers at least half of, for a frame of
    ``size`` (width, height)."""
    w, h = size
    scale, thickness, origin = _mark_layout(w, h)
    canvas = np.zeros((h, w), dtype=np.uint8)
    cv2.putText(
        canvas, MARK, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255,), thickness + 2,
        cv2.LINE_AA,
    )  # fmt: skip
    return canvas >= 128


def _mark_layout(w: int, h: int) -> tuple[float, int, tuple[int, int]]:
    """(font scale, stroke thickness, text origin) of the mark on a w x h frame."""
    scale = max(0.3, min(w, h) / 480)
    thickness = max(1, round(scale * 1.5))
    (tw, th), base = cv2.getTextSize(MARK, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    margin = max(3, round(4 * scale))
    return scale, thickness, (max(0, w - tw - margin), max(th, h - base - margin))
