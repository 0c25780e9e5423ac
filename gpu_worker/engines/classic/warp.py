"""Piecewise-affine warp of the source face onto target landmarks in one ``cv2.remap``.

Triangles are rasterised far-to-near (by landmark depth) into an id image, so on a turned
head the near side hides the far side; each pixel then maps through its triangle's affine.

The rasteriser is a scanline fill written as a few numpy operations over all ~900 triangles
at once: a pixel belongs to a triangle when its centre lies in the closed triangle (the last
one drawn, the nearest, wins). One ``cv2.fillConvexPoly`` call per triangle cost 1.8x as much
on one thread, and it let go of the GIL ~900 times a face, so two render threads ran it at
half the speed of one (measured in bench/README.md).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
I32 = NDArray[np.int32]
EDGE = 1e-3  # pixel centres this close outside an edge still count as inside (no cracks)


def triangle_affines(dst: F32, src: F32, triangles: I32) -> F32:
    """(K, 6) row-major 2x3 affines taking each destination triangle onto its source
    triangle (all zero for a degenerate destination triangle)."""
    d: NDArray[np.float64] = dst[triangles].astype(np.float64)  # (K, 3, 2)
    s: NDArray[np.float64] = src[triangles].astype(np.float64)
    # Edge coordinates: p = d0 + u (d1 - d0) + v (d2 - d0), closed-form 2x2 inverse.
    e1x, e1y = d[:, 1, 0] - d[:, 0, 0], d[:, 1, 1] - d[:, 0, 1]
    e2x, e2y = d[:, 2, 0] - d[:, 0, 0], d[:, 2, 1] - d[:, 0, 1]
    area: NDArray[np.float64] = e1x * e2y - e1y * e2x
    ok = np.abs(area) > 1e-6
    det: NDArray[np.float64] = np.where(ok, area, 1.0)
    ia, ib, ic, id_ = e2y / det, -e2x / det, -e1y / det, e1x / det  # (u, v) = inv @ (p - d0)
    out = np.zeros((len(triangles), 6), dtype=np.float64)
    for row in (0, 1):  # source x, then y: s0 + f1 u + f2 v
        f1 = s[:, 1, row] - s[:, 0, row]
        f2 = s[:, 2, row] - s[:, 0, row]
        gx, gy = f1 * ia + f2 * ic, f1 * ib + f2 * id_
        out[:, 3 * row] = gx
        out[:, 3 * row + 1] = gy
        out[:, 3 * row + 2] = s[:, 0, row] - gx * d[:, 0, 0] - gy * d[:, 0, 1]
    out[~ok] = 0.0
    return np.asarray(out, dtype=np.float32)


def rasterise_ids(dst: F32, depth: F32, triangles: I32, shape: tuple[int, int]) -> I32:
    """(H, W) triangle index + 1 per pixel (0 = not covered), nearer triangles on top."""
    h, w = shape
    z = depth[triangles]
    order = np.argsort(-(z[:, 0] + z[:, 1] + z[:, 2]), kind="stable")  # far (large z) first
    tri = triangles[order]
    xs, ys = dst[tri, 0].astype(np.float32), dst[tri, 1].astype(np.float32)  # (K, 3)
    # Each triangle's vertices from top to bottom: a, b (middle), c.
    k = np.arange(len(tri))
    ia, ic = ys.argmin(axis=1), ys.argmax(axis=1)
    ib = np.where(ia == ic, 1, 3 - ia - ic)  # a flat triangle (ia == ic) has no rows anyway
    ax, ay, bx, by, cx, cy = xs[k, ia], ys[k, ia], xs[k, ib], ys[k, ib], xs[k, ic], ys[k, ic]
    long_, upper, lower = _slope(ax, ay, cx, cy), _slope(ax, ay, bx, by), _slope(bx, by, cx, cy)
    top = np.maximum(np.ceil(ay - EDGE), 0).astype(np.int32)
    rows = np.maximum(np.minimum(np.floor(cy + EDGE), h - 1).astype(np.int32) - top + 1, 0)
    # One entry per (triangle, row), triangles in drawing order.
    t = np.repeat(np.arange(len(tri), dtype=np.int32), rows)
    y = (np.arange(len(t), dtype=np.int32) - (np.cumsum(rows) - rows - top)[t]).astype(np.float32)
    # Each row's triangle's values, in one take (7 gathers by row cost 8 % more).
    pax, pay, pbx, pby, pl, pu, plo = np.take(
        np.stack([ax, ay, bx, by, long_, upper, lower]), t, axis=1
    )
    x1 = pax + (y - pay) * pl
    above = y < pby
    x2 = np.where(above, pax + (y - pay) * pu, pbx + (y - pby) * plo)
    lo = np.clip(np.ceil(np.minimum(x1, x2) - EDGE), 0, w).astype(np.int32)
    hi = np.clip(np.floor(np.maximum(x1, x2) + EDGE), -1, w - 1).astype(np.int32)
    n = np.maximum(hi - lo + 1, 0)
    # One entry per pixel of each row; later rows (nearer triangles) overwrite earlier ones.
    r = np.repeat(np.arange(len(t), dtype=np.int32), n)
    flat = np.arange(len(r), dtype=np.int32) + (y.astype(np.int32) * w + lo - np.cumsum(n) + n)[r]
    ids = np.zeros(h * w, dtype=np.int32)
    ids[flat] = (order.astype(np.int32) + 1)[t[r]]
    return ids.reshape(h, w)


def _slope(x0: F32, y0: F32, x1: F32, y1: F32) -> F32:
    """dx/dy along an edge going down; 0 for a horizontal edge."""
    dy = y1 - y0
    flat = dy <= 0
    return np.where(flat, 0.0, (x1 - x0) / np.where(flat, 1.0, dy)).astype(np.float32)


def warp_face(
    src_img: NDArray[np.uint8],
    src_pts: F32,
    dst_pts: F32,
    depth: F32,
    triangles: I32,
    shape: tuple[int, int],
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """The source face warped onto ``dst_pts`` in an (H, W) canvas, and its coverage (0/255)."""
    ids = rasterise_ids(dst_pts, depth, triangles, shape)
    # Row 0 of the table maps uncovered pixels to (-1, -1): outside the source.
    table = np.empty((len(triangles) + 1, 6), dtype=np.float32)
    table[0] = (0.0, 0.0, -1.0, 0.0, 0.0, -1.0)
    table[1:] = triangle_affines(dst_pts, src_pts, triangles)
    coef = np.take(table.T, ids, axis=1)  # (6, H, W): each a plane (1.7x a gather by pixel)
    h, w = shape
    xf = np.arange(w, dtype=np.float32)[None, :]
    yf = np.arange(h, dtype=np.float32)[:, None]
    map_x = coef[0] * xf
    map_x += coef[1] * yf
    map_x += coef[2]
    map_y = coef[3] * xf
    map_y += coef[4] * yf
    map_y += coef[5]
    warped = cv2.remap(
        src_img, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    coverage = np.where(ids > 0, np.uint8(255), np.uint8(0))
    return np.asarray(warped, dtype=np.uint8), coverage
