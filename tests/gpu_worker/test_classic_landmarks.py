"""mediapipe's native logging is silenced on fd 2 without losing fd 2 when calls overlap, a
video graph that forgets its faces finds what a fresh one finds, and landmarks read off the
message's bytes are its fields exactly."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gpu_worker.engines.classic.landmarks import (
    FaceMesh,
    landmark_points,
    light_mediapipe_import,
    quiet_native_stderr,
)
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


def landmark_list(points: NDArray[np.float32], visibility: bool = False) -> Any:
    """A mediapipe NormalizedLandmarkList of ``points`` (x, y, z in 0..1)."""
    light_mediapipe_import()
    from mediapipe.framework.formats import landmark_pb2

    message = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in points:
        landmark = message.landmark.add()
        landmark.x, landmark.y, landmark.z = float(x), float(y), float(z)
        if visibility:
            landmark.visibility = 0.5
    return message


def test_landmarks_read_off_the_wire_are_the_fields_exactly() -> None:
    rng = np.random.default_rng(7)
    points = rng.random((468, 3)).astype(np.float32) - np.float32(0.25)
    points[5] = 0.0  # zeros are written too (FaceMesh sets every field)
    expected = points * np.array([320, 240, 320], np.float32)
    got = landmark_points(landmark_list(points), 320, 240)
    assert got.dtype == np.float32 and np.array_equal(got, expected)
    # another layout (a landmark with a visibility) is read field by field, to the same values
    assert np.array_equal(
        landmark_points(landmark_list(points, visibility=True), 320, 240), expected
    )


def test_a_face_s_landmarks_come_out_in_pixels(sample_face: NDArray[np.uint8]) -> None:
    mesh = FaceMesh(video=False, max_faces=1)
    try:
        [points] = mesh.detect(sample_face)
    finally:
        mesh.close()
    h, w = sample_face.shape[:2]
    assert points.shape == (468, 3)
    assert 0 <= points[:, 0].min() < points[:, 0].max() <= w
    assert 0 <= points[:, 1].min() < points[:, 1].max() <= h
