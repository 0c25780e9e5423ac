"""FaceMesh's landmark model driven directly: the video-mode tracker without its graph.

mediapipe's FaceMesh graph runs ``face_landmark.tflite`` (192x192 in, 468 points and a
face-presence logit out) on a rotated square around each face, found by BlazeFace on the
first picture (blazeface.py) and, after that, from the landmarks of the picture before. The
model itself takes ~1.1 ms a picture here; through the graph a picture took ~2.3 ms (more
beside the side thread): packets, the detector's gate and loop calculators, the result's
protobuf. This module does the graph's steps itself, with the graph's own constants (mediapipe's
``face_landmark_front_cpu``, ``face_detection_front_detection_to_roi`` and
``face_landmark_landmarks_to_roi``):

- a face's region: the axis-aligned box of the detection (or of the previous landmarks),
  turned so the eyes (detector keypoints 0 and 1, landmarks 33 and 263) lie level, made
  square on its long side and enlarged 1.5x;
- the detector runs only while fewer faces are tracked than asked for; of two regions that
  overlap (IoU > 0.5) the tracked one stays, or the later of two tracked ones (mediapipe's
  AssociationNormRectCalculator);
- a face whose presence score (sigmoid of the logit) is under 0.5 is dropped.

The model runs on a LiteRT (TFLite) interpreter, which lets go of the GIL while it works.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray

from gpu_worker.engines.classic.blazeface import BlazeFace
from gpu_worker.engines.classic.landmarks import Detection, Landmarks
from gpu_worker.engines.classic.litert import interpreter, mediapipe_model, outputs
from gpu_worker.engines.classic.tracking import box, iou

SIDE = 192  # the model's input, pixels a side
ROI_SCALE = 1.5  # the region around a face, as a multiple of its box's long side
SAME_REGION_IOU = 0.5  # a detection overlapping a tracked face this much is that face
EYE_POINTS = (33, 263)  # the outer eye corners, which level the next picture's region
T = TypeVar("T")
R = TypeVar("R")


class Roi(NamedTuple):
    """A square region in image pixels, turned by ``angle`` radians (clockwise on screen)."""

    cx: float
    cy: float
    side: float
    angle: float


def _level(box: tuple[float, float, float, float], a: NDArray[Any], b: NDArray[Any]) -> Roi:
    """The region for a face with this box and eye points ``a`` -> ``b`` (pixels)."""
    x0, y0, x1, y1 = box
    angle = -math.atan2(-(float(b[1]) - float(a[1])), float(b[0]) - float(a[0]))
    angle = (angle + math.pi) % (2 * math.pi) - math.pi
    side = max(x1 - x0, y1 - y0) * ROI_SCALE
    return Roi((x0 + x1) / 2, (y0 + y1) / 2, side, angle)


def roi_from_detection(face: Detection) -> Roi:
    return _level(face.box, np.asarray(face.eyes[0]), np.asarray(face.eyes[1]))


def roi_from_points(points: Landmarks) -> Roi:
    return _level(box(points), points[EYE_POINTS[0]], points[EYE_POINTS[1]])


def _square(roi: Roi) -> tuple[float, float, float, float]:
    """A region's axis-aligned square (the graph's association ignores the turn)."""
    r = roi.side / 2
    return roi.cx - r, roi.cy - r, roi.cx + r, roi.cy + r


def associate(found: list[Roi], tracked: list[Roi]) -> list[Roi]:
    """The graph's association: regions taken in turn (detected ones, then tracked ones), each
    replacing those before it that it overlaps (IoU > 0.5). So a detection on a tracked face
    gives way to it, and two tracked regions that slid onto one face become one."""
    kept: list[Roi] = []
    for roi in [*found, *tracked]:
        kept = [k for k in kept if iou(_square(roi), _square(k)) <= SAME_REGION_IOU]
        kept.append(roi)
    return kept


def crop_matrix(roi: Roi) -> NDArray[np.float64]:
    """The 2x3 affine map from model-input pixels to image pixels for ``roi``."""
    k = roi.side / SIDE
    c, s = math.cos(roi.angle) * k, math.sin(roi.angle) * k
    half = SIDE / 2
    return np.array(
        [[c, -s, roi.cx - half * (c - s)], [s, c, roi.cy - half * (s + c)]], dtype=np.float64
    )


class LandmarkModel:
    """face_landmark.tflite on one LiteRT interpreter (one thread; one user at a time)."""

    def __init__(self) -> None:
        self._interpreter = interpreter(mediapipe_model("face_landmark", "face_landmark.tflite"))
        self._input = self._interpreter.get_input_details()[0]["index"]
        named = outputs(self._interpreter)
        self._points, self._flag = named["conv2d_21"], named["conv2d_31"]  # 1404, 1 values
        self._tensor = np.zeros((1, SIDE, SIDE, 3), dtype=np.float32)

    def run(self, rgb: NDArray[np.uint8], roi: Roi) -> tuple[Landmarks, float]:
        """The face's 468 points in image pixels (z in pixels too) and its presence logit."""
        m = crop_matrix(roi)
        crop = cv2.warpAffine(
            rgb,
            m,
            (SIDE, SIDE),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        np.multiply(crop, np.float32(1 / 255), out=self._tensor[0], casting="unsafe")
        self._interpreter.set_tensor(self._input, self._tensor)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._points).reshape(-1, 3)[:468]
        logit = float(self._interpreter.get_tensor(self._flag).reshape(-1)[0])
        points = np.empty((raw.shape[0], 3), dtype=np.float32)
        points[:, :2] = raw[:, :2] @ m[:, :2].T.astype(np.float32) + m[:, 2].astype(np.float32)
        points[:, 2] = raw[:, 2] * np.float32(roi.side / SIDE)
        return points, logit


class MeshTracker:
    """Landmarks of up to ``max_faces`` faces per picture, each found from the one before
    (FaceMesh's video mode); ``forget`` between clips.

    With ``models`` > 1 a picture's faces are shared out over that many models, each on a
    thread of its own (the model lets go of the GIL): several faces of one picture at once,
    with the same results as one after the other."""

    def __init__(self, *, max_faces: int = 1, models: int = 1) -> None:
        self.max_faces = max_faces
        self._models = [LandmarkModel() for _ in range(max(1, models))]
        self._pool = (
            ThreadPoolExecutor(len(self._models) - 1, thread_name_prefix="swapzy-faces")
            if len(self._models) > 1
            else None
        )
        self._detector = BlazeFace()
        self._tracked: list[Roi] = []

    def forget(self, max_faces: int | None = None) -> None:
        """Start over (a new clip), following up to ``max_faces`` faces from now on."""
        self._tracked = []
        if max_faces is not None:
            self.max_faces = max_faces

    def resume(self, faces: list[Landmarks]) -> None:
        """Go on from a picture whose faces were ``faces`` (as ``detect`` gave them)."""
        self._tracked = [roi_from_points(points) for points in faces]

    def detect(self, rgb: NDArray[np.uint8]) -> list[Landmarks]:
        found: list[Roi] = []
        if len(self._tracked) < self.max_faces:
            found = [roi_from_detection(d) for d in self._detector.faces(rgb)[: self.max_faces]]
        faces: list[Landmarks] = []
        tracked: list[Roi] = []
        for points, logit in self._run(rgb, associate(found, self._tracked)):
            if logit >= 0.0:  # sigmoid(logit) >= 0.5
                faces.append(points)
                tracked.append(roi_from_points(points))
        self._tracked = tracked
        return faces

    def _run(self, rgb: NDArray[np.uint8], regions: list[Roi]) -> list[tuple[Landmarks, float]]:
        """The model on each region, in order (``shared_out`` over the models)."""
        if self._pool is None:
            return [self._models[0].run(rgb, roi) for roi in regions]
        return shared_out(
            regions,
            len(self._models),
            lambda m, share: [self._models[m].run(rgb, roi) for roi in share],
            self._pool,
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        self._detector.close()


def shared_out(
    items: Sequence[T],
    workers: int,
    work: Callable[[int, Sequence[T]], list[R]],
    pool: Executor,
) -> list[R]:
    """``work(w, share)`` for each worker ``w`` with its share of ``items`` (item k goes to
    worker k mod ``workers``): worker 0 on this thread, the others on ``pool`` (which has a
    thread for each); the results in the items' order."""
    count = min(workers, len(items))
    if count <= 1:
        return work(0, items)
    others = [pool.submit(work, w, items[w::count]) for w in range(1, count)]
    parts = [work(0, items[::count]), *(f.result() for f in others)]
    return [parts[k % count][k // count] for k in range(len(items))]


class StillMesh:
    """Landmarks of up to ``max_faces`` faces in a picture on its own (a photo; FaceMesh's
    static mode): the detector, then the model, every time."""

    def __init__(self, *, max_faces: int) -> None:
        self._tracker = MeshTracker(max_faces=max_faces)

    def detect(self, rgb: NDArray[np.uint8]) -> list[Landmarks]:
        self._tracker.forget()
        return self._tracker.detect(rgb)

    def close(self) -> None:
        self._tracker.close()
