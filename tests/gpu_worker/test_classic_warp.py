"""The piecewise-affine warp: the rasteriser covers exactly the pixels whose centres lie in a
triangle, leaves no cracks between neighbours, puts the nearer triangle on top, and a warp
onto the source's own landmarks gives the source back."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gpu_worker.engines.classic.mesh import build_topology
from gpu_worker.engines.classic.warp import rasterise_ids, warp_face

F32 = NDArray[np.float32]


def inside(points: F32, shape: tuple[int, int], grow: float = 0.0) -> NDArray[np.bool_]:
    """Pixel centres inside the closed triangle ``points`` (3, 2), or within ``grow`` px of
    it, by signed distances to its edges."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    sides = []
    for i in range(3):
        (ax, ay), (bx, by) = points[i].astype(np.float64), points[(i + 1) % 3].astype(np.float64)
        length = max(1e-9, float(np.hypot(bx - ax, by - ay)))
        sides.append(((bx - ax) * (ys - ay) - (by - ay) * (xs - ax)) / length)
    s = np.stack(sides)
    return np.asarray((s >= -grow).all(axis=0) | (s <= grow).all(axis=0))


def test_a_triangle_covers_the_pixel_centres_inside_it() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        pts = rng.uniform(-5, 45, size=(3, 2)).astype(np.float32)
        ids = rasterise_ids(pts, np.zeros(3, np.float32), np.array([[0, 1, 2]]), (40, 40))
        covered = ids == 1
        # every centre inside, and none further out than a hair (no cracks on shared edges)
        assert not (inside(pts, (40, 40)) & ~covered).any(), pts.tolist()
        assert not (covered & ~inside(pts, (40, 40), grow=0.01)).any(), pts.tolist()


def test_neighbouring_triangles_leave_no_crack() -> None:
    # a fan of 12 thin triangles around a centre: every pixel centre of the disc is covered
    angles = np.linspace(0, 2 * np.pi, 13)[:-1]
    rim = np.stack([20 + 17.3 * np.cos(angles), 20 + 17.3 * np.sin(angles)], axis=1)
    pts = np.vstack([[[20.2, 19.7]], rim]).astype(np.float32)
    tris = np.array([[0, 1 + i, 1 + (i + 1) % 12] for i in range(12)], dtype=np.int32)
    ids = rasterise_ids(pts, np.zeros(len(pts), np.float32), tris, (40, 40))
    union = np.zeros((40, 40), dtype=bool)
    for t in tris:
        union |= inside(pts[t], (40, 40))
    assert np.array_equal(ids > 0, union)


def test_the_nearer_triangle_is_drawn_on_top() -> None:
    pts = np.array([[2, 2], [30, 2], [2, 30], [8, 8], [38, 8], [8, 38]], dtype=np.float32)
    tris = np.array([[0, 1, 2], [3, 4, 5]], dtype=np.int32)
    overlap = (10, 10)  # (y, x) inside both
    for near, far in ((0, 1), (1, 0)):
        depth = np.zeros(6, dtype=np.float32)
        depth[tris[far]] = 5.0  # larger z = farther away
        ids = rasterise_ids(pts, depth, tris, (40, 40))
        assert ids[overlap] == near + 1


def test_a_warp_onto_the_same_landmarks_gives_the_source_back() -> None:
    topo = build_topology()
    # a smooth test picture and a synthetic "face" of mesh points spread over it
    ys, xs = np.mgrid[0:120, 0:100]
    image = np.stack([xs * 2, ys * 2, (xs + ys)], axis=2).astype(np.uint8)
    rng = np.random.default_rng(3)
    pts = np.zeros((topo.point_count, 2), dtype=np.float32)
    pts[:468] = rng.uniform([10, 10], [90, 110], size=(468, 2))
    pts = topo.extend(np.concatenate([pts[:468], np.zeros((468, 1), np.float32)], axis=1))[:, :2]
    warped, coverage = warp_face(
        image, pts, pts, np.zeros(len(pts), np.float32), topo.triangles, (120, 100)
    )
    covered = coverage > 0
    assert covered.mean() > 0.3
    diff = np.abs(warped.astype(np.int16) - image)[covered]
    assert diff.max() <= 1
