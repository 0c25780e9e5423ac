"""BlazeFace driven directly finds the faces, boxes and eyes mediapipe's own FaceDetection
graph finds, in tall and wide pictures; nothing where there is no face; overlapping boxes are
merged by score as the graph merges them."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from gpu_worker.engines.classic.blazeface import BlazeFace, anchors, weighted_nms
from gpu_worker.engines.classic.landmarks import Detection, FaceDetector
from gpu_worker.media.clip import Clip

U8 = NDArray[np.uint8]
F32 = NDArray[np.float32]

# The same model on the same letterboxed picture (both resampled by OpenCV): on every clip
# and photo of ../shared/media the two agreed to 0.011 % of the face's size at worst.
SAME = 0.001  # largest box or eye difference / face size


def _apart(a: Detection, b: Detection) -> float:
    size = max(a.box[2] - a.box[0], a.box[3] - a.box[1])
    box = np.abs(np.subtract(a.box, b.box)).max()
    eyes = np.abs(np.subtract(a.eyes, b.eyes)).max()
    return float(max(box, eyes) / size)


@pytest.fixture(scope="module")
def detectors() -> tuple[FaceDetector, BlazeFace]:
    return FaceDetector(full_range=False), BlazeFace()


def _same_faces(detectors: tuple[FaceDetector, BlazeFace], picture: U8) -> list[Detection]:
    graph, direct = detectors
    theirs, ours = graph.faces(picture), direct.faces(picture)
    assert len(ours) == len(theirs)
    for a, b in zip(theirs, ours, strict=True):
        assert _apart(a, b) < SAME
    return ours


def test_the_clip_s_faces_are_the_graph_s(
    detectors: tuple[FaceDetector, BlazeFace], sample_clip: Clip
) -> None:
    found = [_same_faces(detectors, frame) for frame in sample_clip.frames]
    assert [len(f) for f in found] == [1] * len(sample_clip)


@pytest.mark.parametrize("pad", ["tall", "wide"])
def test_letterboxed_pictures_map_back_to_their_own_pixels(
    detectors: tuple[FaceDetector, BlazeFace], sample_face: U8, pad: str
) -> None:
    h, w = sample_face.shape[:2]
    extra = max(h, w)
    canvas = np.full((h + extra, w, 3) if pad == "tall" else (h, w + extra, 3), 40, np.uint8)
    canvas[:h, :w] = sample_face
    [face] = _same_faces(detectors, canvas)
    [alone] = detectors[1].faces(sample_face)
    # the same face in the same place (found at half the scale: its box a few % apart)
    size = alone.box[2] - alone.box[0]
    assert np.abs(np.subtract(alone.box, face.box)).max() < 0.05 * size
    (rx, _), (lx, _) = face.eyes
    assert face.box[0] < rx < lx < face.box[2]  # the face's right eye is on the picture's left


def test_no_face_no_detection(detectors: tuple[FaceDetector, BlazeFace]) -> None:
    grey = np.full((240, 320, 3), 127, dtype=np.uint8)
    assert detectors[1].faces(grey) == [] == detectors[0].faces(grey)
    assert detectors[1].detect(grey) == []


def test_anchors_follow_the_model_s_layers() -> None:
    a = anchors()
    assert a.shape == (896, 2)
    np.testing.assert_allclose(a[0], a[1])  # two anchors a cell on the stride-8 layer
    np.testing.assert_allclose(a[0], (1 / 32, 1 / 32))
    np.testing.assert_allclose(a[2], (3 / 32, 1 / 32))  # across first, then down
    np.testing.assert_allclose(a[512], (1 / 16, 1 / 16))  # six a cell on the stride-16 ones
    np.testing.assert_allclose(a[517], a[512])
    np.testing.assert_allclose(a[518], (3 / 16, 1 / 16))


def test_overlapping_boxes_merge_by_score_and_the_rest_stay() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], dtype=np.float32)
    points = np.zeros((3, 6, 2), dtype=np.float32)
    points[:, :, 0] = boxes[:, :1]
    scores = np.array([0.6, 0.9, 0.7], dtype=np.float32)
    (first, first_points, s1), (second, _, s2) = weighted_nms(boxes, points, scores)
    assert (s1, s2) == pytest.approx((0.9, 0.7))  # best first, keeping its own score
    np.testing.assert_allclose(first, [0.6, 0, 10.6, 10])  # (0.6 * 0 + 0.9 * 1) / 1.5
    np.testing.assert_allclose(first_points[:, 0], 0.6)
    np.testing.assert_allclose(second, boxes[2])
