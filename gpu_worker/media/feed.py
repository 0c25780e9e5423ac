"""A clip's output frames handed from the engine to the encoder as they are made.

The engine renders frame after frame; the encoder, in another thread, reads them in order as
soon as each is ready, so encoding runs alongside the engine instead of after it. ``FrameFeed``
is a sequence of a known length whose items block until they are put (or the feed is aborted).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import overload

from gpu_worker.media.clip import Frame


class FeedAborted(Exception):
    """The producer gave up (the engine failed); the consumer stops with this."""


class FrameFeed(Sequence[Frame]):
    def __init__(self, length: int) -> None:
        self._frames: list[Frame | None] = [None] * length
        self._missing = length
        self._ready = threading.Condition()
        self._aborted: BaseException | None = None

    def put(self, index: int, frame: Frame) -> None:
        with self._ready:
            self._missing -= self._frames[index] is None
            self._frames[index] = frame
            self._ready.notify_all()

    def fill(self, frames: Sequence[Frame]) -> None:
        """Put every frame not put yet (for engines that hand over all frames at the end)."""
        with self._ready:
            for i, frame in enumerate(frames):
                if self._frames[i] is None:
                    self._frames[i] = frame
                    self._missing -= 1
            self._ready.notify_all()

    def complete(self) -> bool:
        """Whether every frame has been put."""
        return self._missing == 0

    def abort(self, error: BaseException | None = None) -> None:
        """The producer gave up: readers waiting for a frame get ``error`` (FeedAborted if
        None), raised in each of them."""
        with self._ready:
            self._aborted = error or FeedAborted("the engine stopped before this frame was made")
            self._ready.notify_all()

    def __len__(self) -> int:
        return len(self._frames)

    @overload
    def __getitem__(self, index: int) -> Frame: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Frame]: ...

    def __getitem__(self, index: int | slice) -> Frame | Sequence[Frame]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        with self._ready:
            while (frame := self._frames[index]) is None:
                if self._aborted is not None:
                    raise self._aborted
                self._ready.wait()
            return frame

    def __iter__(self) -> Iterator[Frame]:
        for i in range(len(self)):
            yield self[i]
