"""mediapipe's native logging is silenced on fd 2 without losing fd 2 when calls overlap, and
a video graph that forgets its faces finds what a fresh one finds."""

from __future__ import annotations

import os

import numpy as np

from gpu_worker.engines.classic.landmarks import FaceMesh, quiet_native_stderr
from gpu_worker.media.clip import Clip


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


def test_a_graph_that_forgets_finds_what_a_fresh_graph_finds(sample_clip: Clip) -> None:
    frames = sample_clip.frames
    used, fresh = FaceMesh(video=True, max_faces=1), FaceMesh(video=True, max_faces=1)
    try:
        for frame in frames[::-1]:  # a clip before: the face is tracked at its last frame
            used.detect(frame)
        used.forget()
        again = [used.detect(frame) for frame in frames]
        first = [fresh.detect(frame) for frame in frames]
    finally:
        used.close()
        fresh.close()
    assert [len(f) for f in again] == [len(f) for f in first] == [1] * len(frames)
    for a, b in zip(again, first, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
