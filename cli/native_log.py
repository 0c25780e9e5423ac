"""Keep mediapipe's native logging off the user's terminal while ``swapzy`` runs the engine."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null meanwhile; Python's ``sys.stderr`` (our messages,
    the progress display) keeps writing to the real stderr through a duplicate.

    mediapipe's C++ code logs (absl: "W0000 ... inference_feedback_manager.cc ...") from its
    own threads, at moments no per-call redirection covers, so a refused clip could print a
    native line before its one-line message. Nothing changes where fd 2 cannot be duplicated
    (no stderr at all) or ``sys.stderr`` is not fd 2 (a test runner's capture).
    """
    try:
        if sys.stderr is None or sys.stderr.fileno() != 2:
            yield
            return
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    previous = sys.stderr
    stream = os.fdopen(
        real, "w", buffering=1, encoding=previous.encoding, errors="backslashreplace"
    )
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = stream
    try:
        yield
    finally:
        stream.flush()
        os.dup2(stream.fileno(), 2)
        sys.stderr = previous
        stream.close()
