"""The face photo: its largest face found, cropped and its landmarks found again on the crop
(the source texture the engine warps onto every face it swaps)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from core.errors import NoFaceInSource
from gpu_worker.engines.base import Frame
from gpu_worker.engines.classic.landmarks import FaceDetector, landmarks_in_box
from gpu_worker.engines.classic.mesh import FaceTopology
from gpu_worker.engines.classic.mesh_tracker import StillMesh
from gpu_worker.engines.classic.tracking import box

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class SourceFace:
    image: NDArray[np.uint8]  # crop around the face
    points: F32  # (471, 3) extended landmarks in crop pixels
    faces_found: int


class PhotoFaces:
    """FaceMesh's landmark model in photo mode, and for group photos with small faces the
    full-range detector (built on first use: ~25 ms of start-up only those photos need).
    Photos are searched at most ``detect_side`` pixels large; the face texture is kept at
    most ``face_px`` tall."""

    def __init__(self, topology: FaceTopology, detect_side: int, face_px: int) -> None:
        self._topology = topology
        self._detect_side = detect_side
        self._face_px = face_px
        self._mesh = StillMesh(max_faces=5)
        self._far: FaceDetector | None = None

    def close(self) -> None:
        self._mesh.close()
        if self._far is not None:
            self._far.close()

    def prepare(self, photo: Frame) -> SourceFace:
        """The photo's largest face, cropped, with its landmarks. Raises ``NoFaceInSource``."""
        h, w = photo.shape[:2]
        scale = min(1.0, self._detect_side / max(h, w))
        small = np.asarray(
            cv2.resize(photo, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA),
            dtype=np.uint8,
        )
        found = self._mesh.detect(small)
        if not found:  # small faces (group photos): full-range detector, then landmarks per box
            if self._far is None:
                self._far = FaceDetector(full_range=True)
            boxes = self._far.detect(small)
            found = [
                pts for b in boxes if (pts := landmarks_in_box(self._mesh, small, b)) is not None
            ]
        if not found:
            raise NoFaceInSource(
                "No face found in the photo. Send a clear, front-facing photo of one face."
            )
        pts = max(found, key=_box_area) / scale
        x0, y0, x1, y1 = box(pts)
        size = max(x1 - x0, y1 - y0)
        m = 0.3 * size
        cx0, cy0 = max(0, int(x0 - m)), max(0, int(y0 - m))
        cx1, cy1 = min(w, int(x1 + m) + 1), min(h, int(y1 + m) + 1)
        crop = photo[cy0:cy1, cx0:cx1]
        pts = pts - np.array([cx0, cy0, 0], dtype=np.float32)
        k = min(1.0, self._face_px / max(1.0, y1 - y0))
        if k < 1.0:
            crop = np.asarray(
                cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_AREA), dtype=np.uint8
            )
            pts = pts * k
        refined = self._mesh.detect(crop)
        if refined:
            guess = pts
            pts = min(refined, key=lambda p: float(np.abs(p[:, :2] - guess[:, :2]).mean()))
        return SourceFace(
            image=np.ascontiguousarray(crop),
            points=self._topology.extend(pts),
            faces_found=len(found),
        )


def _box_area(points: F32) -> float:
    x0, y0, x1, y1 = box(points)
    return (x1 - x0) * (y1 - y0)
