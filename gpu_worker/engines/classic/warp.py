"""Piecewise-affine warp of the source face onto target landmarks in one ``cv2.remap``.

Triangles are rasterised far-to-near (by landmark depth) into an id image, so on a turned
head the near side hides the far side; each pixel then maps through its triangle's affine.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]


def triangle_affines(dst: F32, src: F32, triangles: NDArray[np.int32]) -> F32:
    """(K, 2, 3) affines taking each destination triangle onto its source triangle."""
    d = dst[triangles].astype(np.float64)  # (K, 3, 2)
    s = src[triangles].astype(np.float64)
    # Solve in edge coordinates: p = d0 + u (d1 - d0) + v (d2 - d0), closed-form 2x2 inverse.
    e1, e2 = d[:, 1] - d[:, 0], d[:, 2] - d[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    ok = np.abs(det) > 1e-6
    det = np.where(ok, det, 1.0)
    inv = (
        np.stack([np.stack([e2[:, 1], -e2[:, 0]], -1), np.stack([-e1[:, 1], e1[:, 0]], -1)], axis=1)
        / det[:, None, None]
    )  # (K, 2, 2): (u, v) = inv @ (p - d0)
    f1, f2 = s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]
    lin = np.stack([f1, f2], axis=-1) @ inv  # (K, 2, 2): source = s0 + lin @ (p - d0)
    trans = s[:, 0] - np.einsum("kij,kj->ki", lin, d[:, 0])
    aff = np.concatenate([lin, trans[:, :, None]], axis=2)
    aff[~ok] = 0.0
    return np.asarray(aff, dtype=np.float32)


def rasterise_ids(
    dst: F32, depth: F32, triangles: NDArray[np.int32], shape: tuple[int, int]
) -> NDArray[np.int32]:
    """(H, W) triangle index + 1 per pixel (0 = not covered), nearer triangles on top."""
    ids = np.zeros(shape, dtype=np.uint16)
    order = np.argsort(-depth[triangles].mean(axis=1), kind="stable")  # far (large z) first
    pts = np.round(dst[triangles[order]] * 16).astype(np.int32)  # 4 bits of sub-pixel precision
    # ~900 calls a frame: the loop is kept lean (rows pre-sorted, plain ints, positional args).
    fill = cv2.fillConvexPoly
    for poly, colour in zip(pts, (order + 1).tolist(), strict=True):
        fill(ids, poly, colour, cv2.LINE_8, 4)
    return ids.astype(np.int32)


def warp_face(
    src_img: NDArray[np.uint8],
    src_pts: F32,
    dst_pts: F32,
    depth: F32,
    triangles: NDArray[np.int32],
    shape: tuple[int, int],
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """The source face warped onto ``dst_pts`` in an (H, W) canvas, and its coverage (0/255)."""
    ids = rasterise_ids(dst_pts, depth, triangles, shape)
    aff = triangle_affines(dst_pts, src_pts, triangles)
    ys, xs = np.nonzero(ids)
    k = ids[ys, xs] - 1
    a = aff[k]  # (N, 2, 3)
    xf = xs.astype(np.float32)
    yf = ys.astype(np.float32)
    map_x = np.full(shape, -1.0, dtype=np.float32)
    map_y = np.full(shape, -1.0, dtype=np.float32)
    map_x[ys, xs] = a[:, 0, 0] * xf + a[:, 0, 1] * yf + a[:, 0, 2]
    map_y[ys, xs] = a[:, 1, 0] * xf + a[:, 1, 1] * yf + a[:, 1, 2]
    warped = cv2.remap(
        src_img, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    coverage = ((ids > 0) * 255).astype(np.uint8)
    return np.asarray(warped, dtype=np.uint8), coverage
