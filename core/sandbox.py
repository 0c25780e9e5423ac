"""Untrusted media is probed and decoded in a child process with an address-space limit
(RLIMIT_AS), a CPU-time limit (RLIMIT_CPU), no core dumps, and a wall-clock timeout after which
it is killed. Whatever a decoder does with hostile bytes (a bomb, an endless loop, a crash in
native code), the caller gets one ``InputError`` with a clear sentence and carries on.

Children are forked by a *zygote*: a small single-threaded helper process (``python -c``, so it
never re-runs the caller's main script) that imported PIL, PyAV and numpy once. Forking the
caller itself would be unsafe (a worker holds threads and warm models), and multiprocessing's
``forkserver`` re-imports the caller's ``__main__`` in every child on Python 3.11 (~175 ms for
``swapzy``). One zygote per process, started on first use (like multiprocessing's own server).

Protocol, per call: a fresh socket pair; one end goes to the zygote (SCM_RIGHTS), which forks a
child on it. The child sends ``P`` + its pid, reads the request, and sends ``R`` + the pickled
outcome (big arrays written out of band to a spill file: ~3x faster than the pipe). The zygote
reaps the child and sends ``X`` + its wait status, so a child killed by a limit is told apart.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from core.config import DecodeSandbox, MediaLimits
from core.errors import CorruptMedia, InputError, TooManyPixels
from core.media import MediaInfo, failure_reason, probe_source, probe_target

T = TypeVar("T")

BASE_PRELOAD = (
    "numpy",
    "PIL.Image",
    "PIL.GifImagePlugin",
    "PIL.PngImagePlugin",
    "PIL.JpegImagePlugin",
    "av",
    "core.media",
)
_MB = 1024 * 1024
_HEAD = struct.Struct("!cQ")  # kind, length or number


@dataclass(frozen=True)
class Outcome:
    """What came back from the child: a value, an input error, or a memory failure."""

    value: Any = None
    error: InputError | None = None
    out_of_memory: bool = False


# --- the child ------------------------------------------------------------------------------


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _send(sock: socket.socket, kind: bytes, payload: bytes = b"", number: int = 0) -> None:
    sock.sendall(_HEAD.pack(kind, len(payload) if payload else number) + payload)


def _run_child(sock: socket.socket) -> None:
    """In the forked child: limits, the request, the call, the outcome."""
    _send(sock, b"P", number=os.getpid())
    (size,) = struct.unpack("!Q", _recv_exact(sock, 8))
    fn, args, spill, memory, cpu = pickle.loads(_recv_exact(sock, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # soft: SIGXCPU, hard: SIGKILL
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        outcome = Outcome(value=fn(*args))
    except InputError as exc:
        outcome = Outcome(error=type(exc)(exc.message))
    except MemoryError:
        outcome = Outcome(out_of_memory=True)
    except Exception as exc:  # a decoder failure on hostile bytes is damaged input
        outcome = Outcome(error=CorruptMedia(f"The file is damaged ({failure_reason(exc)})."))
    try:
        packed = _pack(outcome, Path(spill))
    except MemoryError:
        packed = _pack(Outcome(out_of_memory=True), Path(spill))
    _send(sock, b"R", packed)


def _pack(outcome: Outcome, spill: Path) -> bytes:
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(outcome, protocol=5, buffer_callback=buffers.append)
    lengths = []
    with spill.open("wb") as out:
        for buffer in buffers:
            view = buffer.raw()
            out.write(view)
            lengths.append(view.nbytes)
    return pickle.dumps((data, lengths), protocol=5)


def _unpack(raw: bytes, spill: Path) -> Outcome:
    data, lengths = pickle.loads(raw)
    blob = bytearray(sum(lengths))
    if lengths:
        with spill.open("rb") as found:
            found.readinto(blob)
    views, at, whole = [], 0, memoryview(blob)
    for n in lengths:
        views.append(whole[at : at + n])
        at += n
    outcome: Outcome = pickle.loads(data, buffers=views)
    return outcome


# --- the zygote -----------------------------------------------------------------------------


def zygote_main(control_fd: int, preload: Sequence[str]) -> None:
    """The helper's loop: fork a child per received socket, report each child's exit status."""
    import importlib

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent
    for name in preload:
        importlib.import_module(name)
    control = socket.socket(fileno=control_fd)
    children: dict[int, socket.socket] = {}
    while True:
        ready, _, _ = select.select([control], [], [], 0.05)
        if ready:
            _, fds, _, _ = socket.recv_fds(control, 1, 1)
            if not fds:  # the parent is gone: so are the children it would have killed
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                os._exit(0)
            sock = socket.socket(fileno=fds[0])
            pid = os.fork()
            if pid == 0:
                control.close()
                code = 0
                try:
                    _run_child(sock)
                except BaseException:  # our own failure (e.g. fn not importable): say why
                    traceback.print_exc()
                    code = 70
                finally:
                    os._exit(code)
            children[pid] = sock
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            sock = children.pop(pid)
            with contextlib.suppress(OSError):
                _send(sock, b"X", number=status)
            sock.close()


class Zygote:
    """The parent's handle on its zygote (started on first use, restarted if it died)."""

    def __init__(self, preload: Sequence[str]) -> None:
        self.preload = tuple(preload)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None

    def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        code = (
            "import sys; from core.sandbox import zygote_main; "
            f"zygote_main({theirs.fileno()}, {list(self.preload)!r})"
        )
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self._proc = subprocess.Popen(
            [sys.executable, "-c", code], pass_fds=[theirs.fileno()], env=env, close_fds=True
        )
        theirs.close()
        self._control = ours
        return ours

    def fork(self) -> socket.socket:
        """A socket connected to a fresh child of the zygote."""
        mine, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with self._lock:
            for attempt in (1, 2):
                control = self._control
                if control is None or self._proc is None or self._proc.poll() is not None:
                    control = self._start()
                try:
                    socket.send_fds(control, [b"F"], [child.fileno()])
                    break
                except OSError:
                    self._control = None
                    if attempt == 2:
                        raise
        child.close()
        return mine


@cache
def _zygote(preload: tuple[str, ...]) -> Zygote:
    return Zygote((*BASE_PRELOAD, *preload))


# --- the caller -----------------------------------------------------------------------------


def run_limited(
    fn: Callable[..., T],
    *args: Any,
    box: DecodeSandbox,
    what: str,
    preload: Sequence[str] = (),
) -> T:
    """``fn(*args)`` in a limited child process (``fn`` and its arguments must pickle; ``fn``
    importable by name). ``what`` names the input in errors ("GIF/video"). ``preload``: modules
    the zygote imports once. Raises ``InputError``."""
    if not box.enabled:
        return fn(*args)
    folder = Path(tempfile.mkdtemp(prefix="swapzy-sandbox-"))
    spill = folder / "result.bin"
    sock = _zygote(tuple(preload)).fork()
    deadline = time.monotonic() + box.timeout_s
    pid, finished = 0, False
    try:
        sock.settimeout(box.timeout_s)
        kind, pid = _HEAD.unpack(_recv_exact(sock, _HEAD.size))
        request = pickle.dumps((fn, args, str(spill), box.memory_mb * _MB, box.cpu_s), protocol=5)
        sock.sendall(struct.pack("!Q", len(request)) + request)
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        kind, size = _HEAD.unpack(_recv_exact(sock, _HEAD.size))
        finished = True  # the child has answered or is dead: it exits on its own
        if kind == b"X":
            raise _died(size, what, box)
        outcome = _unpack(_recv_exact(sock, size), spill)
    except TimeoutError:
        raise CorruptMedia(
            f"The {what} took longer than {box.timeout_s:.0f} s to decode; it is damaged or "
            "built to stall decoders."
        ) from None
    except (EOFError, ConnectionError):
        raise CorruptMedia(f"The {what} is damaged: the decoder gave up on it.") from None
    finally:
        if pid and not finished:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # overdue: never left running
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)
    if outcome.out_of_memory:
        raise TooManyPixels(
            f"The {what} needs more than {box.memory_mb} MB to decode; use a shorter or smaller "
            "clip."
        )
    if outcome.error is not None:
        raise outcome.error
    value: T = outcome.value
    return value


def _died(status: int, what: str, box: DecodeSandbox) -> InputError:
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL):
        return CorruptMedia(
            f"The {what} took more than {box.cpu_s} s of processor time to decode; it is damaged "
            "or built to stall decoders."
        )
    return CorruptMedia(f"The {what} is damaged: the decoder gave up on it.")


def _probe_pair(target: Path, source: Path, limits: MediaLimits) -> tuple[MediaInfo, MediaInfo]:
    return probe_target(target, limits), probe_source(source, limits)


def probe_inputs(
    target: Path, source: Path, limits: MediaLimits, box: DecodeSandbox
) -> tuple[MediaInfo, MediaInfo]:
    """``probe_target`` and ``probe_source`` in one limited child (the submit-time check)."""
    return run_limited(_probe_pair, target, source, limits, box=box, what="upload")
