"""The model steps of the pipeline, each around one onnxruntime session: detect (yoloface-style
output), 68-point landmarks (2dfan4), identity embedding (ArcFace), swap (inswapper / hyperswap)
and enhance (GFPGAN). Frames are RGB uint8; models are fed as FaceFusion feeds them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from gpu_worker.engines.facefusion import geometry

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]
    five: F32  # (5, 2) frame pixels
    score: float


def batch_size(session: Any, wanted: int) -> int:
    """How many items one call may take: the model's fixed batch, or ``wanted`` when dynamic."""
    first = session.get_inputs()[0].shape[0]
    return first if isinstance(first, int) and first > 0 else wanted


def run_batched(
    session: Any, name: str, items: F32, limit: int, extra: dict[str, F32] | None = None
) -> list[F32]:
    """Run ``items`` (N, ...) through the session in batches of what it allows; the first
    output per item. ``extra`` inputs are per-item too (sliced alongside)."""
    step = batch_size(session, limit)
    out: list[F32] = []
    for start in range(0, len(items), step):
        feed = {name: np.ascontiguousarray(items[start : start + step])}
        for key, value in (extra or {}).items():
            feed[key] = np.ascontiguousarray(value[start : start + step])
        result = session.run(None, feed)[0]
        out.extend(np.asarray(r, dtype=np.float32) for r in result)
    return out


class Detector:
    """yoloface-style: (1, 3, S, S) -> (1, 4 box + 1 score + 15 landmark, anchors)."""

    def __init__(self, session: Any, size: int, score: float = 0.5, iou: float = 0.4) -> None:
        self.session = session
        self.size = size
        self.score = score
        self.iou = iou
        self.input = session.get_inputs()[0].name

    def detect(self, frame: U8) -> list[Detection]:
        h, w = frame.shape[:2]
        ratio = max(h, w) / self.size
        rw, rh = round(w / ratio), round(h / ratio)
        resized = (
            frame
            if (rw, rh) == (w, h)
            else cv2.resize(frame, (rw, rh), interpolation=cv2.INTER_AREA)
        )
        # Letterboxed top-left on black, BGR, (x - 127.5) / 128 as FaceFusion feeds it, NCHW.
        tensor = np.full((1, 3, self.size, self.size), -127.5 / 128.0, dtype=np.float32)
        for c in range(3):
            plane = tensor[0, c, :rh, :rw]
            np.multiply(resized[..., 2 - c], 1 / 128.0, out=plane, casting="unsafe")
            plane -= 127.5 / 128.0
        raw = np.asarray(self.session.run(None, {self.input: tensor})[0], dtype=np.float32)
        rows = raw[0].T  # (anchors, 20)
        rows = rows[rows[:, 4] > self.score]
        if not len(rows):
            return []
        cx, cy, bw, bh = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], axis=1) * ratio
        keep = cv2.dnn.NMSBoxes(boxes.tolist(), rows[:, 4].tolist(), self.score, self.iou)
        found = []
        for i in np.asarray(keep).reshape(-1):
            x, y, bw_i, bh_i = boxes[i]
            five = rows[i, 5:20].reshape(5, 3)[:, :2] * ratio
            found.append(
                Detection((x, y, x + bw_i, y + bh_i), five.astype(np.float32), float(rows[i, 4]))
            )
        return found


class Landmarker:
    """2dfan4: a 256 crop around the box -> 68 points (on a 64 grid) + heatmaps (the score)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.input = session.get_inputs()[0].name

    def landmarks(self, frame: U8, box: tuple[float, float, float, float]) -> tuple[F32, float]:
        x0, y0, x1, y1 = box
        scale = 195.0 / max(x1 - x0, y1 - y0, 1.0)
        tx, ty = (256 - (x0 + x1) * scale) * 0.5, (256 - (y0 + y1) * scale) * 0.5
        matrix = np.array([[scale, 0, tx], [0, scale, ty]], dtype=np.float64)
        crop = cv2.warpAffine(frame[..., ::-1], matrix, (256, 256), borderMode=cv2.BORDER_REPLICATE)
        tensor = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        points, heatmap = self.session.run(None, {self.input: tensor})[:2]
        pts = np.asarray(points, dtype=np.float32)[0, :, :2] * (256 / 64)
        inverse = cv2.invertAffineTransform(matrix)
        pts = pts @ inverse[:, :2].T + inverse[:, 2]
        score = float(np.amax(np.asarray(heatmap), axis=(2, 3)).mean())
        return pts.astype(np.float32), score


class Embedder:
    """ArcFace: a 112 crop on the arcface_112_v2 template -> 512-d identity (L2-normalised)."""

    def __init__(self, session: Any, limit: int) -> None:
        self.session = session
        self.limit = limit
        self.input = session.get_inputs()[0].name

    def embed(self, frames: Sequence[U8], fives: Sequence[F32]) -> list[F32]:
        crops = [
            geometry.warp_crop(f, geometry.estimate(p, "arcface_112_v2", 112), 112)
            for f, p in zip(frames, fives, strict=True)
        ]
        if not crops:
            return []
        batch = (np.stack(crops).astype(np.float32) / 127.5 - 1.0).transpose(0, 3, 1, 2)
        out = run_batched(self.session, self.input, batch, self.limit)
        return [e / max(float(np.linalg.norm(e)), 1e-6) for e in out]


@dataclass(frozen=True)
class SwapperKind:
    template: str
    mean: float
    std: float
    uses_emap: bool  # inswapper: the source embedding goes through the model's ``emap``


SWAPPER_KINDS = {
    "inswapper": SwapperKind("arcface_128_v2", 0.0, 1.0, uses_emap=True),
    "hyperswap": SwapperKind("arcface_128_v2", 0.5, 0.5, uses_emap=False),
}


class Swapper:
    """target crop + source embedding -> swapped crop, batched where the model allows."""

    def __init__(
        self, session: Any, name: str, size: int, limit: int, emap: F32 | None = None
    ) -> None:
        self.session = session
        self.size = size
        self.limit = limit
        self.kind = SWAPPER_KINDS[name.split("_", maxsplit=1)[0]]
        self.emap = emap
        if self.kind.uses_emap and emap is None:
            raise ValueError(f"{name} needs its emap matrix")

    def source_vector(self, embedding: F32) -> F32:
        """What the model's ``source`` input takes, from the L2-normalised identity."""
        if self.kind.uses_emap and self.emap is not None:
            return np.asarray(embedding @ self.emap, dtype=np.float32)
        return embedding.astype(np.float32)

    def swap(self, crops: Sequence[U8], source: F32) -> list[U8]:
        k = self.kind
        batch = ((np.stack(crops).astype(np.float32) / 255.0 - k.mean) / k.std).transpose(
            0, 3, 1, 2
        )
        sources = np.repeat(source[None], len(crops), axis=0).astype(np.float32)
        out = run_batched(self.session, "target", batch, self.limit, {"source": sources})
        return [
            np.clip((o.transpose(1, 2, 0) * k.std + k.mean) * 255.0, 0, 255).astype(np.uint8)
            for o in out
        ]


class Enhancer:
    """GFPGAN: a 512 crop on the ffhq_512 template, values in [-1, 1], restored face out."""

    def __init__(self, session: Any, size: int, limit: int) -> None:
        self.session = session
        self.size = size
        self.limit = limit
        self.input = session.get_inputs()[0].name

    def enhance(self, crops: Sequence[U8]) -> list[U8]:
        batch = (np.stack(crops).astype(np.float32) / 127.5 - 1.0).transpose(0, 3, 1, 2)
        out = run_batched(self.session, self.input, batch, self.limit)
        return [np.clip((o.transpose(1, 2, 0) + 1.0) * 127.5, 0, 255).astype(np.uint8) for o in out]


def read_emap(path: str) -> F32:
    """inswapper's ``emap``: the graph's last initializer (512 x 512), as FaceFusion reads it."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    return np.asarray(numpy_helper.to_array(model.graph.initializer[-1]), dtype=np.float32)
