"""BlazeFace (short range) driven directly: mediapipe's face detection graph without the graph.

The model (``face_detection_short_range.tflite`` from the mediapipe wheel) takes ~1.0 ms a
picture here, 1.4 ms with these steps; through mediapipe's FaceDetection graph a picture took
~1.8 ms. This module
does the graph's steps with its constants (``face_detection_short_range_common``):

- the picture letterboxed into 128x128 (the long side fits, zeros around it), scaled to
  [-1, 1];
- 896 fixed-size SSD anchors (strides 8, 16, 16, 16; two a cell a layer);
- boxes and six keypoints decoded against the anchors, scores through a sigmoid (logits
  clipped to +-100), kept from ``min_confidence`` (0.5);
- weighted non-maximum suppression: the best box and every box overlapping it by IoU > 0.3
  become one, their corners and keypoints averaged by score, with the best one's score.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from gpu_worker.engines.classic.landmarks import Box, Detection
from gpu_worker.engines.classic.litert import interpreter, mediapipe_model, outputs

SIDE = 128  # the model's input, pixels a side
MIN_SUPPRESSION_IOU = 0.3
F32 = NDArray[np.float32]


def anchors() -> F32:
    """(896, 2) anchor centres in 0..1, in the model's output order: the stride-8 layer's
    16x16 cells, then the three stride-16 layers' 8x8 cells (six anchors a cell)."""
    out: list[F32] = []
    for grid, per_cell in ((SIDE // 8, 2), (SIDE // 16, 6)):
        centres = (np.arange(grid, dtype=np.float32) + 0.5) / grid
        xs, ys = np.meshgrid(centres, centres)  # row by row, then across
        cells = np.stack([xs.reshape(-1), ys.reshape(-1)], axis=1)
        out.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(out).astype(np.float32)


def _iou(box: F32, boxes: F32) -> NDArray[np.float32]:
    """IoU of one (4,) xmin, ymin, xmax, ymax box with each of (N, 4)."""
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0).astype(np.float32)


def weighted_nms(boxes: F32, points: F32, scores: F32) -> list[tuple[F32, F32, float]]:
    """mediapipe's weighted non-maximum suppression, best score first: (box, keypoints,
    score) per face, box and keypoints averaged over the boxes merged into it."""
    order = np.argsort(-scores, kind="stable")
    out: list[tuple[F32, F32, float]] = []
    while len(order):
        best = order[0]
        close = _iou(boxes[best], boxes[order]) > MIN_SUPPRESSION_IOU
        close[0] = True
        merged = order[close]
        w = scores[merged][:, None]
        total = float(w.sum())
        out.append(
            (
                (boxes[merged] * w).sum(axis=0) / total,
                (points[merged] * w[:, :, None]).sum(axis=0) / total,
                float(scores[best]),
            )
        )
        order = order[~close]
    return out


class BlazeFace:
    """Face boxes with their eyes, as mediapipe's short-range FaceDetection finds them.
    One LiteRT interpreter: one user at a time."""

    def __init__(self, *, min_confidence: float = 0.5) -> None:
        self._interpreter = interpreter(
            mediapipe_model("face_detection", "face_detection_short_range.tflite")
        )
        self._input = self._interpreter.get_input_details()[0]["index"]
        named = outputs(self._interpreter)
        self._regressors, self._scores = named["regressors"], named["classificators"]
        self._anchors = anchors()
        self._min_logit = float(np.log(min_confidence / (1 - min_confidence)))
        self._tensor = np.zeros((1, SIDE, SIDE, 3), dtype=np.float32)

    def faces(self, rgb: NDArray[np.uint8]) -> list[Detection]:
        """Faces with their eyes (the face's right eye first), most confident first."""
        h, w = rgb.shape[:2]
        side = max(h, w)  # the letterbox: a square on the long side, centred
        k = side / SIDE
        m = np.array([[k, 0, (w - side) / 2], [0, k, (h - side) / 2]], dtype=np.float64)
        square = cv2.warpAffine(
            rgb,
            m,
            (SIDE, SIDE),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
        np.multiply(square, np.float32(2 / 255), out=self._tensor[0], casting="unsafe")
        self._tensor -= np.float32(1)
        self._interpreter.set_tensor(self._input, self._tensor)
        self._interpreter.invoke()
        logits = np.clip(self._interpreter.get_tensor(self._scores).reshape(-1), -100, 100)
        keep = np.flatnonzero(logits >= self._min_logit)
        if not len(keep):
            return []
        raw = self._interpreter.get_tensor(self._regressors).reshape(-1, 16)[keep] / SIDE
        centre = raw[:, :2] + self._anchors[keep]
        half = raw[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)
        points = (raw[:, 4:].reshape(-1, 6, 2) + self._anchors[keep][:, None]).astype(np.float32)
        scores = (1 / (1 + np.exp(-logits[keep]))).astype(np.float32)
        dx, dy = (w - side) / 2, (h - side) / 2  # the letterbox's offset, in picture pixels
        found: list[Detection] = []
        for box, eyes, _ in weighted_nms(boxes, points, scores):
            x0, y0, x1, y1 = (float(v) * side for v in box)
            (rx, ry), (lx, ly) = (eyes[:2] * side).tolist()
            found.append(
                Detection(
                    (x0 + dx, y0 + dy, x1 + dx, y1 + dy),
                    ((rx + dx, ry + dy), (lx + dx, ly + dy)),
                )
            )
        return found

    def detect(self, rgb: NDArray[np.uint8]) -> list[Box]:
        return [face.box for face in self.faces(rgb)]

    def close(self) -> None:
        """Nothing to let go of (the interpreter goes with the object)."""
