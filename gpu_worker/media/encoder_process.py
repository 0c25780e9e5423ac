"""Encoding in a process of its own, beside the engine.

Drawing faces and fitting each GIF frame's palette both hold the GIL for much of their work,
so an encoder *thread* slows down the engine it runs beside (a 30-frame clip: drawing takes
86 ms alone, encoding 82, the two side by side 156, bench/README). A child process has a GIL
of its own. Its start costs ~0.2 s of imports, so it is started early and kept: a worker
starts it while its models load and keeps it for clip after clip; ``swapzy swap`` starts it
first thing, and it imports on the other core while the command imports the engine.

The child is ``python -c`` (never the caller's main script, as in core/sandbox.py). It talks
over its stdin and stdout in messages of one kind byte and a length:

    parent -> child   B <pickled _Header>   a clip starts
                      F <raw RGB bytes>     its next frame
                      A                     the engine failed: drop the clip
    child -> parent   P <frames done>       progress
                      D <encoded bytes>     the clip, encoded
                      E <message>           encoding failed (or the clip was dropped)

A child that dies or breaks the protocol makes the clip raise ``EncoderGone``; the caller
encodes in-process instead (it still has the frames), and the next clip starts a new child.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

import numpy as np
from numpy.typing import NDArray

from gpu_worker.media.clip import Alpha, Clip
from gpu_worker.media.encode import encode_clip
from gpu_worker.media.feed import FeedAborted, FrameFeed

Progress = Callable[[int, int], None]
_HEAD = struct.Struct("!cQ")  # kind, length
# After the last clip the child leaves at once: the interpreter's tidying up on the way out
# is time its parent would wait for.
_CHILD = "from gpu_worker.media.encoder_process import serve; serve(); import os; os._exit(0)"


class EncoderGone(Exception):
    """The encoder process died or broke the protocol: encode this clip in-process."""


class EncodeFailed(Exception):
    """The encoder process could not encode the clip (its message says why)."""


@dataclass(frozen=True)
class _Header:
    ext: str
    frames: int
    width: int
    height: int
    durations_ms: list[float]
    loop: int | None
    alpha: list[Alpha] | None
    palettes: list[NDArray[np.uint8] | None] | None
    source_kind: str
    metadata: dict[str, str] = field(default_factory=dict)


def _write(out: IO[bytes], kind: bytes, body: bytes | memoryview = b"") -> None:
    out.write(_HEAD.pack(kind, len(body)))
    if body:
        out.write(body)
    out.flush()


def _read(inp: IO[bytes]) -> tuple[bytes, bytes]:
    head = inp.read(_HEAD.size)
    if len(head) < _HEAD.size:
        raise EOFError
    kind, length = _HEAD.unpack(head)
    body = inp.read(length) if length else b""
    if len(body) < length:
        raise EOFError
    return kind, body


class EncoderProcess:
    """One encoder child, kept for clip after clip; one clip at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one clip at a time
        self._proc: subprocess.Popen[bytes] | None = None
        self._start()

    def _start(self) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )

    def encode(self, clip: Clip, ext: str) -> EncodeJob:
        """Start encoding ``clip`` (its frames may still be coming: a ``FrameFeed``)."""
        self._lock.acquire()
        try:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            assert self._proc is not None
            return EncodeJob(self._proc, clip, ext, self._lock.release, self._lost)
        except BaseException:
            self._lock.release()
            raise

    @property
    def pid(self) -> int | None:
        """The child's process id (None between a lost child and the next clip)."""
        return None if self._proc is None else self._proc.pid

    def _lost(self) -> None:
        """The child broke: kill it (the next clip starts a new one)."""
        if self._proc is not None:
            with contextlib.suppress(OSError):
                self._proc.kill()
            self._proc.wait()
            self._proc = None

    def close(self, *, wait: bool = True) -> None:
        """End the child: it reads the end of its input and leaves. ``wait=False``: do not
        wait for that (a process about to end itself: a child still importing would keep it
        ~0.2 s, say after a refused input)."""
        with self._lock:
            if self._proc is not None:
                with contextlib.suppress(OSError):
                    assert self._proc.stdin is not None
                    self._proc.stdin.close()  # the child's read ends: it exits
                if wait:
                    try:
                        self._proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        self._lost()
                self._proc = None


class EncodeJob:
    """One clip in the encoder process: its frames are sent on a thread as they come."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        clip: Clip,
        ext: str,
        release: Callable[[], None],
        lost: Callable[[], None],
    ) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self._to, self._from = proc.stdin, proc.stdout
        self._clip, self._ext = clip, ext
        self._release, self._lost = release, lost
        self._sent: BaseException | None = None
        self._finished = False
        self._sender = threading.Thread(target=self._send, name="swapzy-encoder-send")
        self._sender.start()

    def _send(self) -> None:
        clip = self._clip
        try:
            w, h = clip.size
            header = _Header(
                self._ext, len(clip), w, h, list(clip.durations_ms), clip.loop, clip.alpha,
                clip.palettes, clip.source_kind, dict(clip.metadata),
            )  # fmt: skip
            _write(self._to, b"B", pickle.dumps(header, protocol=pickle.HIGHEST_PROTOCOL))
            for frame in clip.frames:
                _write(self._to, b"F", np.ascontiguousarray(frame).data.cast("B"))
        except FeedAborted as exc:
            self._sent = exc
            with contextlib.suppress(OSError, ValueError):
                _write(self._to, b"A")
        except BaseException as exc:  # a broken pipe: the child died
            self._sent = exc

    def result(self, on_progress: Progress | None = None) -> bytes:
        """The encoded clip. Raises ``EncoderGone`` (encode in-process instead),
        ``EncodeFailed``, or the feed's ``FeedAborted``."""
        if self._finished:
            raise RuntimeError("this clip's result was taken already")
        self._finished = True
        try:
            self._sender.join()
            if isinstance(self._sent, FeedAborted):
                with contextlib.suppress(EncodeFailed):  # "dropped", as asked
                    self._answer(None)
                raise self._sent
            if self._sent is not None:
                raise EncoderGone(f"could not send frames: {self._sent!r}") from self._sent
            return self._answer(on_progress)
        except EncoderGone:
            self._lost()  # out of step or dead: the next clip starts a new child
            raise
        finally:
            self._release()

    def discard(self) -> None:
        """The engine failed (the feed is aborted): let the child drop the clip."""
        if not self._finished:
            with contextlib.suppress(BaseException):
                self.result()

    def _answer(self, on_progress: Progress | None) -> bytes:
        total = len(self._clip)
        try:
            while True:
                kind, body = _read(self._from)
                if kind == b"P":
                    if on_progress is not None:
                        on_progress(int(body), total)
                elif kind == b"D":
                    return body
                elif kind == b"E":
                    raise EncodeFailed(body.decode("utf-8", "replace"))
                else:
                    raise EncoderGone(f"unexpected message {kind!r}")
        except (EOFError, OSError, ValueError) as exc:
            raise EncoderGone("the encoder process ended") from exc


def serve() -> None:
    """The child: clips in on stdin, encoded clips out on stdout, until stdin ends."""
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    # Anything else printing to fd 1 would break the protocol: it goes to stderr.
    sys.stdout = sys.stderr
    lock = threading.Lock()

    def send(kind: bytes, body: bytes = b"") -> None:
        with lock:
            _write(out, kind, body)

    while True:
        try:
            kind, body = _read(inp)
        except EOFError:
            return
        if kind != b"B" or not _serve_clip(pickle.loads(body), inp, send):
            return


def _serve_clip(head: _Header, inp: IO[bytes], send: Callable[[bytes, bytes], None]) -> bool:
    """Encode one clip whose frames come on ``inp``, and answer; False when ``inp`` ended."""
    feed = FrameFeed(head.frames)
    clip = Clip(
        frames=feed, durations_ms=head.durations_ms, loop=head.loop, alpha=head.alpha,
        palettes=head.palettes, source_kind=head.source_kind, metadata=head.metadata,
    )  # fmt: skip
    answer: list[tuple[bytes, bytes]] = []

    def work() -> None:
        try:
            data = encode_clip(clip, head.ext, lambda n, _: send(b"P", b"%d" % n))
            answer.append((b"D", data))
        except FeedAborted:
            answer.append((b"E", b"dropped: the engine failed"))
        except Exception as exc:  # told to the parent, which says it to the user
            answer.append((b"E", f"{type(exc).__name__}: {exc}".encode()))

    worker = threading.Thread(target=work, name="swapzy-encoder")
    worker.start()
    shape = (head.height, head.width, 3)
    try:
        for i in range(head.frames):
            kind, body = _read(inp)
            if kind != b"F":  # A: the engine failed
                feed.abort()
                break
            feed.put(i, np.frombuffer(body, dtype=np.uint8).reshape(shape))
    except EOFError:
        feed.abort()
        worker.join()
        return False
    worker.join()
    send(*answer[0])
    return True
