"""FaceMesh's landmark model driven directly finds what mediapipe's own FaceMesh graph finds
(video and photo mode), on a turned face too; faces that leave are dropped and found again
when they come back; regions follow the graph's geometry."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from gpu_worker.engines.classic.landmarks import Detection, FaceMesh
from gpu_worker.engines.classic.mesh_tracker import (
    SIDE,
    MeshTracker,
    Roi,
    StillMesh,
    associate,
    crop_matrix,
    roi_from_detection,
    roi_from_points,
    shared_out,
)
from gpu_worker.engines.classic.tracking import box
from gpu_worker.media.clip import Clip

U8 = NDArray[np.uint8]
F32 = NDArray[np.float32]

# The graph and this module run the same model on the same region; what differs is the crop's
# resampling (OpenCV's warpAffine here, a perspective warp there) and float rounding: on six
# real clips the mean distance was 0.006-0.03 % of the face's size, at worst 0.15 %.
SAME = 0.002  # mean distance / face size


def _deviation(a: F32, b: F32) -> float:
    x0, y0, x1, y1 = box(a)
    return float(np.linalg.norm(a[:, :2] - b[:, :2], axis=1).mean() / max(x1 - x0, y1 - y0))


def test_the_tracker_finds_the_graph_s_landmarks_frame_by_frame(sample_clip: Clip) -> None:
    graph, tracker = FaceMesh(video=True, max_faces=1), MeshTracker(max_faces=1)
    try:
        theirs = [graph.detect(f) for f in sample_clip.frames]
        ours = [tracker.detect(f) for f in sample_clip.frames]
    finally:
        graph.close()
        tracker.close()
    assert [len(f) for f in ours] == [len(f) for f in theirs] == [1] * len(sample_clip)
    worst = max(_deviation(a[0], b[0]) for a, b in zip(theirs, ours, strict=True))
    assert worst < SAME
    assert ours[0][0].dtype == np.float32 and ours[0][0].shape == (468, 3)


def test_a_photo_s_landmarks_are_the_graph_s(sample_face: U8) -> None:
    graph, still = FaceMesh(video=False, max_faces=5), StillMesh(max_faces=5)
    try:
        [theirs] = graph.detect(sample_face)
        [ours] = still.detect(sample_face)
        again = still.detect(sample_face)  # nothing carried over from the call before
    finally:
        graph.close()
        still.close()
    assert _deviation(theirs, ours) < SAME
    np.testing.assert_array_equal(again[0], ours)
    # depth is in pixels at the picture's scale, as the graph's (about the face's width)
    assert np.ptp(ours[:, 2]) == pytest.approx(np.ptp(theirs[:, 2]), rel=0.01)


def _turned(image: U8, degrees: float) -> tuple[U8, NDArray[np.float64]]:
    h, w = image.shape[:2]
    m = np.asarray(cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0), dtype=np.float64)
    turned = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(turned, dtype=np.uint8), m


def test_a_turned_face_gets_the_turned_landmarks(sample_face: U8) -> None:
    still = StillMesh(max_faces=1)
    try:
        [upright] = still.detect(sample_face)
        turned, m = _turned(sample_face, 25.0)  # counter-clockwise on screen
        [found] = still.detect(turned)
    finally:
        still.close()
    expected = upright[:, :2] @ m[:, :2].T.astype(np.float32) + m[:, 2].astype(np.float32)
    assert _deviation(found, np.hstack([expected, found[:, 2:]])) < 0.01
    assert _eye_line_degrees(found) - _eye_line_degrees(upright) == pytest.approx(25.0, abs=1.0)


def _eye_line_degrees(points: F32) -> float:
    """The outer eye corners' line, counter-clockwise on screen."""
    dx, dy = points[263, :2] - points[33, :2]
    return math.degrees(math.atan2(-float(dy), float(dx)))


def test_a_face_that_leaves_is_dropped_and_found_again(sample_clip: Clip) -> None:
    blank = np.full_like(sample_clip.frames[0], 127)
    tracker = MeshTracker(max_faces=1)
    try:
        seen = [len(tracker.detect(f)) for f in [*sample_clip.frames[:3], blank, blank]]
        seen += [len(tracker.detect(f)) for f in sample_clip.frames[3:6]]
    finally:
        tracker.close()
    assert seen == [1, 1, 1, 0, 0, 1, 1, 1]


def test_two_faces_are_tracked_when_asked_for_and_one_otherwise(sample_face: U8) -> None:
    h, w = sample_face.shape[:2]
    small = np.asarray(cv2.resize(sample_face, (w // 2, h // 2)), dtype=np.uint8)
    pair = np.concatenate([small, small[:, ::-1]], axis=1)  # the second one mirrored
    two, one = MeshTracker(max_faces=2), MeshTracker(max_faces=1)
    try:
        found_two = [two.detect(pair) for _ in range(3)]
        found_one = [one.detect(pair) for _ in range(3)]
    finally:
        two.close()
        one.close()
    assert [len(f) for f in found_two] == [2, 2, 2]
    assert [len(f) for f in found_one] == [1, 1, 1]
    centres = sorted(float(p[:, 0].mean()) for p in found_two[-1])
    assert centres[0] < w / 2 < centres[1]  # one face on each side, not one found twice


def test_a_pictures_faces_shared_over_two_models_come_back_as_one_model_finds_them(
    sample_face: U8,
) -> None:
    """Three faces a picture on two models (two on one, one on the other, at once): the
    same landmarks, in the same order, as one model one face after the other."""
    h, w = sample_face.shape[:2]
    small = np.asarray(cv2.resize(sample_face, (w // 3, h // 3)), dtype=np.uint8)
    row = np.concatenate([small, small[:, ::-1], small], axis=1)
    shared, alone = MeshTracker(max_faces=3, models=2), MeshTracker(max_faces=3)
    try:
        found_shared = [shared.detect(np.roll(row, 2 * k, axis=1)) for k in range(3)]
        found_alone = [alone.detect(np.roll(row, 2 * k, axis=1)) for k in range(3)]
    finally:
        shared.close()
        alone.close()
    assert [len(f) for f in found_shared] == [3, 3, 3]
    for got, expected in zip(found_shared, found_alone, strict=True):
        for g, e in zip(got, expected, strict=True):
            assert np.array_equal(g, e)


def test_items_shared_out_over_workers_come_back_in_their_order() -> None:
    threads: dict[int, set[str]] = {}

    def work(w: int, share: Sequence[int]) -> list[tuple[int, int]]:
        threads.setdefault(w, set()).add(threading.current_thread().name)
        return [(w, item) for item in share]

    with ThreadPoolExecutor(2, thread_name_prefix="helper") as pool:
        got = shared_out(list(range(7)), 3, work, pool)
        assert shared_out([5], 3, work, pool) == [(0, 5)]  # one item: this thread alone
        assert shared_out([], 3, work, pool) == []
    assert got == [(k % 3, k) for k in range(7)]
    assert threads[0] == {threading.current_thread().name}
    assert all(name.startswith("helper") for w in (1, 2) for name in threads[w])


def test_regions_are_square_turned_to_the_eyes_and_half_again_the_face() -> None:
    points = np.zeros((468, 3), dtype=np.float32)
    points[:, :2] = [[100, 100], [180, 100], [100, 220], [180, 220]] * 117
    points[33, :2], points[263, :2] = (110, 150), (170, 150 + 60 * math.tan(math.radians(20)))
    roi = roi_from_points(points)
    assert (roi.cx, roi.cy) == pytest.approx((140, 160))
    assert roi.side == pytest.approx(120 * 1.5)
    assert math.degrees(roi.angle) == pytest.approx(20.0)  # right eye lower: turned clockwise
    detection = Detection((100, 100, 180, 200), ((110, 150), (170, 150)))
    assert roi_from_detection(detection) == pytest.approx(Roi(140, 150, 150, 0.0))


def test_the_crop_maps_the_model_s_square_onto_the_region() -> None:
    roi = Roi(200.0, 120.0, 96.0, math.radians(90))
    m = crop_matrix(roi)

    def to_image(u: float, v: float) -> tuple[float, float]:
        x, y = m @ np.array([u, v, 1.0])
        return float(x), float(y)

    assert to_image(SIDE / 2, SIDE / 2) == pytest.approx((200, 120))
    # turned 90 degrees clockwise: the square's top-left corner is the region's top-right
    assert to_image(0, 0) == pytest.approx((248, 72))
    assert to_image(SIDE, 0) == pytest.approx((248, 168))


def test_a_detection_on_a_tracked_face_gives_way_to_it() -> None:
    tracked = [Roi(100, 100, 80, 0.1)]
    same = Roi(104, 98, 84, 0.0)
    other = Roi(300, 100, 80, 0.0)
    assert associate([same, other], tracked) == [other, *tracked]
    assert associate([], tracked) == tracked


def test_two_tracked_regions_that_slid_onto_one_face_become_one() -> None:
    """The graph's association runs on the tracked regions too (three people: a region that
    lost its face drifted onto a neighbour's; kept, that face was found twice and its own
    track was dropped)."""
    left, drifted, right = Roi(100, 100, 80, 0.0), Roi(108, 102, 80, 0.0), Roi(300, 100, 80, 0)
    assert associate([], [left, drifted, right]) == [drifted, right]
    assert associate([], [left, Roi(150, 100, 80, 0.0)]) == [left, Roi(150, 100, 80, 0.0)]


def test_with_several_faces_the_tracker_counts_what_the_graph_counts(sample_face: U8) -> None:
    """Two faces; the right one slides left until the two are one picture of a face: the
    two regions end on it, and as in the graph only one of them is kept."""
    h, w = sample_face.shape[:2]
    small = np.asarray(cv2.resize(sample_face, (w // 2, h // 2)), dtype=np.uint8)
    sh, sw = small.shape[:2]
    frames: list[U8] = []
    for k in range(24):
        canvas = np.full((sh, 2 * sw, 3), 90, dtype=np.uint8)
        x = max(0, sw - k * sw // 12)
        canvas[:, x : x + sw] = small[:, ::-1]
        canvas[:, : sw // 2] = small[:, : sw // 2]  # the left face's left half stays in front
        frames.append(canvas)
    graph, tracker = FaceMesh(video=True, max_faces=2), MeshTracker(max_faces=2)
    try:
        theirs = [len(graph.detect(f)) for f in frames]
        ours = [len(tracker.detect(f)) for f in frames]
    finally:
        graph.close()
        tracker.close()
    assert ours == theirs
    assert ours[0] == 2 and ours[-1] == 1
