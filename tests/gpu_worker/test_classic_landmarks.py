"""mediapipe's native logging is silenced on fd 2 without losing fd 2 when calls overlap."""

from __future__ import annotations

import os

from gpu_worker.engines.classic.landmarks import quiet_native_stderr


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def test_overlapping_silences_give_fd2_back_when_the_last_one_ends() -> None:
    before = os.fstat(2)
    devnull = os.stat(os.devnull)
    first, second = quiet_native_stderr(), quiet_native_stderr()
    first.__enter__()  # e.g. the photo's thread
    second.__enter__()  # a landmark span starts meanwhile
    assert _same_file(os.fstat(2), devnull)
    first.__exit__(None, None, None)  # the photo is done; the span still runs
    assert _same_file(os.fstat(2), devnull)
    second.__exit__(None, None, None)
    assert _same_file(os.fstat(2), before)
