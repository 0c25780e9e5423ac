"""A clip still being decoded while the engine already runs on its first frames.

Decoding a GIF and finding its faces' landmarks each take about as long as the other, and the
landmark pass only needs frames in order, so the engine starts on the first frames while the
rest decode in a thread (``swapzy swap``; the decode holds the GIL for much of its work, so
this wins 3-16 ms of a 320-px whole, bench/README.md). ``ClipStream`` is what the engine
reads: ``frames``, a ``FrameFeed`` of the probed frame count, and ``durations_ms``, filled in
frame by frame; ``clip()`` waits for the end and is the whole clip (palettes, transparency,
loop: what the encoder needs before it starts).

Only clips whose frame count is known exactly before decoding are streamed: GIFs (the probe
walks their blocks). A decoder that ends with fewer or more frames than that fails the stream
as damaged input, and so does any decoder error: the engine, waiting for a frame, raises it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from core.config import MediaLimits
from core.errors import CorruptMedia
from core.media import MediaKind, probe_target
from gpu_worker.media.clip import Clip
from gpu_worker.media.decode import ClipFrames, Decoded, decode_errors, load_clip, read_image
from gpu_worker.media.feed import FrameFeed

STREAMED = frozenset({MediaKind.GIF})  # kinds whose frame count the probe knows exactly


class Cancelled(BaseException):
    """The stream's reader gave up (the engine failed): the decoder stops. Not an
    ``Exception``, so ``decode_errors`` does not take it for damaged input."""


class ClipStream:
    """A clip arriving frame by frame (a ``DecodeSink`` for ``read_image``)."""

    def __init__(self, kind: MediaKind, frames: int, size: tuple[int, int]) -> None:
        self.size = size  # (width, height), from the probe
        self.frames = FrameFeed(frames)
        self._kept = ClipFrames(kind)
        self.durations_ms = self._kept.durations_ms  # filled before each frame is put
        self._done = threading.Event()
        self._clip: Clip | None = None
        self._error: BaseException | None = None
        self._cancelled = False

    def begin(self, loop: int | None) -> None:
        self._kept.begin(loop)

    def add(self, frame: Decoded) -> None:
        if self._cancelled:
            raise Cancelled
        index = len(self._kept.frames)
        if index >= len(self.frames):
            raise CorruptMedia("The GIF is damaged: it has more frames than its blocks say.")
        self._kept.add(frame)
        self.frames.put(index, frame.rgb)

    def finish(self) -> None:
        """The decoder is done: the clip is whole (or, short of frames, damaged)."""
        if len(self._kept.frames) != len(self.frames):
            self.fail(CorruptMedia("The GIF is damaged: some of its frames cannot be decoded."))
            return
        self._clip = self._kept.clip()
        self._done.set()

    def fail(self, error: BaseException) -> None:
        """The decoder failed with ``error``: whoever waits for a frame or the clip gets it."""
        self._error = error
        self.frames.abort(error)
        self._done.set()

    def cancel(self) -> None:
        """Stop the decoder at its next frame (nobody will read the rest)."""
        self._cancelled = True

    def clip(self) -> Clip:
        """The whole clip, once decoded; raises the decoder's error."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._clip is not None
        return self._clip


def stream_clip(path: Path, limits: MediaLimits) -> Clip | ClipStream:
    """The clip at ``path``: streamed from a decoder thread where its kind allows, else decoded
    whole here. Raises ``InputError`` for a bad header; a stream's later errors come with its
    frames. For the operator's own files only (``swapzy swap``), like ``load_clip``."""
    info = probe_target(path, limits)
    if info.kind not in STREAMED:
        return load_clip(path, limits)
    stream = ClipStream(info.kind, info.frames, (info.width, info.height))

    def decode() -> None:
        try:
            with decode_errors():
                read_image(path, limits, stream)
        except Cancelled:
            stream.fail(Cancelled())
        except BaseException as exc:
            stream.fail(exc)
        else:
            stream.finish()

    threading.Thread(target=decode, name="swapzy-decode", daemon=True).start()
    return stream
