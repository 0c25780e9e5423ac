"""Alignment to a model's 5-point template and paste-back with a soft mask (FaceFusion's warp
templates, normalised to the crop side)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]
Matrix = NDArray[np.float64]  # 2x3 affine

# Eyes, nose tip, mouth corners, as fractions of the crop side.
TEMPLATES: dict[str, F32] = {
    "arcface_112_v2": np.array(
        [
            [0.34191607, 0.46157411],
            [0.65653393, 0.45983393],
            [0.50022500, 0.64050536],
            [0.37097589, 0.82469196],
            [0.63151696, 0.82325089],
        ],
        dtype=np.float32,
    ),
    "arcface_128_v2": np.array(
        [
            [0.36167656, 0.40387734],
            [0.63696719, 0.40235469],
            [0.50019687, 0.56044219],
            [0.38710391, 0.72160547],
            [0.61507734, 0.72034453],
        ],
        dtype=np.float32,
    ),
    "ffhq_512": np.array(
        [
            [0.37691676, 0.46864664],
            [0.62285697, 0.46912813],
            [0.50123859, 0.61331904],
            [0.39308822, 0.72541100],
            [0.61150205, 0.72490465],
        ],
        dtype=np.float32,
    ),
}

# 68-point (iBUG) indices that make the 5 points: eye centres, nose tip, mouth corners.
LEFT_EYE_68 = list(range(36, 42))
RIGHT_EYE_68 = list(range(42, 48))


def five_from_68(points: F32) -> F32:
    five = np.stack(
        [
            points[LEFT_EYE_68, :2].mean(axis=0),
            points[RIGHT_EYE_68, :2].mean(axis=0),
            points[30, :2],
            points[48, :2],
            points[54, :2],
        ]
    )
    return np.asarray(five, dtype=np.float32)


def five_points(points: F32) -> F32:
    return np.asarray(points[:, :2], np.float32) if len(points) == 5 else five_from_68(points)


def estimate(five: F32, template: str, size: int) -> Matrix:
    """The similarity taking the face's 5 points onto ``template`` at ``size`` pixels."""
    target = TEMPLATES[template] * size
    matrix, _ = cv2.estimateAffinePartial2D(
        five.astype(np.float32), target, method=cv2.RANSAC, ransacReprojThreshold=100
    )
    if matrix is None:  # degenerate points: fall back to least squares on all five
        matrix, _ = cv2.estimateAffinePartial2D(five.astype(np.float32), target, method=cv2.LMEDS)
    return np.asarray(matrix, dtype=np.float64)


def warp_crop(frame: U8, matrix: Matrix, size: int) -> U8:
    return np.asarray(
        cv2.warpAffine(
            frame, matrix, (size, size), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_AREA
        ),
        dtype=np.uint8,
    )


def box_mask(size: int, blur: float = 0.3, padding: float = 0.0) -> F32:
    """FaceFusion's static box mask: 1 inside, fading to 0 over ``blur`` of the side."""
    blur_px = int(size * 0.5 * blur)
    border = max(blur_px // 2, int(size * padding))
    mask = np.ones((size, size), dtype=np.float32)
    if border:
        mask[:border, :] = 0
        mask[-border:, :] = 0
        mask[:, :border] = 0
        mask[:, -border:] = 0
    if blur_px > 0:
        mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), blur_px * 0.25), dtype=np.float32)
    return mask


def crop_box(matrix: Matrix, size: int) -> tuple[float, float, float, float]:
    """Where a ``size`` crop taken through ``matrix`` lies in the frame (x0, y0, x1, y1)."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64)
    pts = corners @ inverse.T
    return (
        float(pts[:, 0].min()),
        float(pts[:, 1].min()),
        float(pts[:, 0].max()),
        float(pts[:, 1].max()),
    )


def paste_back(frame: U8, crop: U8, mask: F32, matrix: Matrix) -> U8:
    """Warp ``crop`` back into ``frame`` through ``matrix``'s inverse, blended by ``mask``.
    Only the face's bounding box is warped and blended (a frame can be large)."""
    h, w = frame.shape[:2]
    bx0, by0, bx1, by1 = crop_box(matrix, crop.shape[0])
    x0, y0 = max(0, int(np.floor(bx0))), max(0, int(np.floor(by0)))
    x1, y1 = min(w, int(np.ceil(bx1)) + 1), min(h, int(np.ceil(by1)) + 1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return frame
    shifted = np.asarray(cv2.invertAffineTransform(matrix), dtype=np.float64)
    shifted[:, 2] -= (x0, y0)
    region = (x1 - x0, y1 - y0)
    face = cv2.warpAffine(crop, shifted, region, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(
        mask, shifted, region, borderMode=cv2.BORDER_CONSTANT, borderValue=(0.0,)
    )
    alpha = np.clip(alpha, 0.0, 1.0)[..., None]
    out = frame.copy()
    patch = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(patch * (1 - alpha) + face * alpha, 0, 255).astype(np.uint8)
    return out
