"""FaceMesh and FaceDetection (mediapipe 0.10.21 legacy solutions, Apache-2.0, models inside
the wheel)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any, NamedTuple, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from gpu_worker.engines.base import ModelInfo

FACE_MESH_MODEL = ModelInfo(
    name="mediapipe-face-mesh",
    role="landmarker",
    file="mediapipe/modules/face_landmark/face_landmark.tflite",
    licence="Apache-2.0",
    commercial_use=True,
    source="pip: mediapipe==0.10.21",
)
FACE_DETECTION_MODEL = ModelInfo(
    name="mediapipe-blazeface",
    role="detector",
    file="mediapipe/modules/face_detection/face_detection_{short_range,full_range_sparse}.tflite",
    licence="Apache-2.0",
    commercial_use=True,
    source="pip: mediapipe==0.10.21",
)

Landmarks = NDArray[np.float32]  # (468, 3): x, y in pixels; z in pixels, smaller = nearer
Box = tuple[float, float, float, float]


class Detection(NamedTuple):
    """A detector's face: its box and eye centres (the face's right eye first), in pixels."""

    box: Box
    eyes: tuple[tuple[float, float], tuple[float, float]]


class _QuietStderr:
    """Silence the C++ logging (glog / TFLite INFO lines) that mediapipe writes to fd 2.

    fd 2 belongs to the whole process and several threads call mediapipe at once (the clip's
    landmark spans, the photo beside them), so this is one object for the process: the first
    caller in points fd 2 at /dev/null, the last one out puts it back. (Each caller saving and
    restoring fd 2 on its own left it at /dev/null for good when two calls overlapped.)

    Python-level output meant for the user must not go through fd 2 meanwhile: the CLI's
    progress display writes to a duplicate of it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved = -1

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                try:
                    saved = os.dup(2)
                except OSError:
                    saved = -1
                if saved >= 0:
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    sys.stderr.flush()
                    os.dup2(devnull, 2)
                    os.close(devnull)
                self._saved = saved
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._saved >= 0:
                    os.dup2(self._saved, 2)
                    os.close(self._saved)
                    self._saved = -1


quiet_native_stderr = _QuietStderr()


def light_mediapipe_import() -> None:
    """Let ``mediapipe.python.solutions.*`` modules import without mediapipe's package
    ``__init__`` files.

    ``import mediapipe`` also imports its drawing utilities and so ``matplotlib.pyplot``
    (0.7 s of a 1.1 s import, seen here). When mediapipe is not imported yet, its two package
    ``__init__`` files are skipped (empty package modules with the right ``__path__``); the
    solution modules themselves load as usual. Call before any mediapipe import.
    """
    if "mediapipe" in sys.modules:
        return
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or spec.origin is None:
        return
    root = os.path.dirname(spec.origin)
    for name, path in (
        ("mediapipe", root),
        ("mediapipe.python.solutions", os.path.join(root, "python", "solutions")),
    ):
        module = types.ModuleType(name)
        module.__path__ = [path]
        module.__package__ = name
        sys.modules[name] = module


def _solutions() -> tuple[Any, Any]:
    """mediapipe's face_mesh and face_detection modules (imported the light way)."""
    light_mediapipe_import()
    from mediapipe.python.solutions import face_detection, face_mesh

    return face_mesh, face_detection


# One NormalizedLandmark as FaceMesh writes it on the wire: a length-delimited record (key 1,
# 15 bytes) of x, y and z as float32 fields (keys 1, 2, 3) and nothing else.
_WIRE = np.dtype(
    [
        ("key", "u1"),
        ("size", "u1"),
        ("kx", "u1"),
        ("x", "<f4"),
        ("ky", "u1"),
        ("y", "<f4"),
        ("kz", "u1"),
        ("z", "<f4"),
    ]
)
_WIRE_KEYS = (("key", 0x0A), ("size", 15), ("kx", 0x0D), ("ky", 0x15), ("kz", 0x1D))


def landmark_points(face: Any, w: int, h: int) -> Landmarks:
    """A NormalizedLandmarkList's first 468 points in pixels (x, y, z as x).

    Read straight off the message's bytes where they have the layout FaceMesh writes: 6x
    faster than 1404 attribute reads (0.04 against 0.23 ms a face), with the GIL held that
    much less beside the other landmark span; any other layout is read field by field.
    """
    raw = face.SerializeToString()
    points: NDArray[np.float32] | None = None
    if len(raw) % _WIRE.itemsize == 0:
        records = np.frombuffer(raw, _WIRE)
        if all(bool((records[k] == v).all()) for k, v in _WIRE_KEYS):
            points = np.stack([records["x"], records["y"], records["z"]], axis=1)[:468]
    if points is None:
        points = np.array([(p.x, p.y, p.z) for p in face.landmark[:468]], dtype=np.float32)
    return np.asarray(points * np.array([w, h, w], dtype=np.float32), dtype=np.float32)


class FaceMesh:
    """Landmarks of up to ``max_faces`` faces per image, through mediapipe's own FaceMesh
    graph. The engine runs the graph's model itself (mesh_tracker.py, 2x faster); this is the
    reference the tests hold that to.

    ``video=True`` lets mediapipe track faces between consecutive frames (faster, steadier);
    call ``forget`` between clips. ``video=False`` treats every image on its own (photos).
    """

    def __init__(self, *, video: bool, max_faces: int, min_confidence: float = 0.5) -> None:
        face_mesh, _ = _solutions()
        self._make = lambda: face_mesh.FaceMesh(
            static_image_mode=not video,
            max_num_faces=max_faces,
            refine_landmarks=False,
            min_detection_confidence=min_confidence,
            min_tracking_confidence=0.5,
        )
        self._mesh = self._start()

    def _start(self) -> Any:
        with quiet_native_stderr():
            mesh = self._make()  # type: ignore[no-untyped-call]  # mediapipe is untyped
            mesh.process(np.zeros((64, 64, 3), dtype=np.uint8))  # builds the interpreters
        return mesh

    def reset(self) -> None:
        """Forget tracked faces by restarting the graph (its models with it)."""
        self._mesh.reset()

    def forget(self) -> None:
        """Forget tracked faces (a new clip starts), the cheap way: show the graph a small
        blank picture. A tracked face that is not found is dropped, so the next picture runs
        the detector, as after ``reset``: the same landmarks (checked on six clips) for
        2-6 ms less a clip than restarting the graph. Should a face ever be "found" in the
        blank, the graph is restarted after all."""
        if self.detect(np.zeros((32, 32, 3), dtype=np.uint8)):
            self.reset()

    def detect(self, rgb: NDArray[np.uint8]) -> list[Landmarks]:
        h, w = rgb.shape[:2]
        with quiet_native_stderr():
            result = self._mesh.process(np.ascontiguousarray(rgb))
        return [landmark_points(f, w, h) for f in result.multi_face_landmarks or []]

    def close(self) -> None:
        self._mesh.close()


class Mesh(Protocol):
    def detect(self, rgb: NDArray[np.uint8]) -> list[Landmarks]: ...


class FaceDetector:
    """Face boxes. ``full_range`` finds small faces (group photos) at ~4x the cost."""

    def __init__(self, *, full_range: bool, min_confidence: float = 0.5) -> None:
        _, face_detection = _solutions()
        with quiet_native_stderr():
            self._det = face_detection.FaceDetection(
                model_selection=1 if full_range else 0, min_detection_confidence=min_confidence
            )
            self._det.process(np.zeros((64, 64, 3), dtype=np.uint8))

    def detect(self, rgb: NDArray[np.uint8]) -> list[Box]:
        return [face.box for face in self.faces(rgb)]

    def faces(self, rgb: NDArray[np.uint8]) -> list[Detection]:
        """Faces with their eyes, most confident first."""
        h, w = rgb.shape[:2]
        with quiet_native_stderr():
            result = self._det.process(np.ascontiguousarray(rgb))
        found: list[Detection] = []
        for d in result.detections or []:
            b = d.location_data.relative_bounding_box
            right, left = d.location_data.relative_keypoints[:2]
            found.append(
                Detection(
                    (b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h),
                    ((right.x * w, right.y * h), (left.x * w, left.y * h)),
                )
            )
        return found

    def close(self) -> None:
        self._det.close()


def landmarks_in_box(mesh: Mesh, rgb: NDArray[np.uint8], face: Box) -> Landmarks | None:
    """Landmarks of the face in ``face`` (a detector box), found on an enlarged crop."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = face
    side = max(x1 - x0, y1 - y0) * 2.2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax0, ay0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    ax1, ay1 = min(w, int(cx + side / 2)), min(h, int(cy + side / 2))
    crop = rgb[ay0:ay1, ax0:ax1]
    if crop.shape[0] < 8 or crop.shape[1] < 8:
        return None
    k = max(1.0, 256 / max(crop.shape[:2]))
    if k > 1.0:
        crop = np.asarray(
            cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC), dtype=np.uint8
        )
    found = mesh.detect(crop)
    if not found:
        return None
    best = max(found, key=lambda p: float(np.ptp(p[:, 0]) * np.ptp(p[:, 1])))
    return (best / k + np.array([ax0, ay0, 0], dtype=np.float32)).astype(np.float32)
