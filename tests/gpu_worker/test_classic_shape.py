"""The batched similarity fit finds what one fit per frame finds, mirrored frames included,
and carries the identity offset into each frame's pose."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gpu_worker.engines.classic.shape import apply_offsets, similarities

F32 = NDArray[np.float32]


def rotation(yaw: float, pitch: float, roll: float) -> NDArray[np.float64]:
    cy, sy, cp, sp, cr, sr = (f(a) for a in (yaw, pitch, roll) for f in (np.cos, np.sin))
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return np.asarray(rz @ rx @ ry, dtype=np.float64)


def umeyama(a: F32, b: F32) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """The textbook fit of one frame (Umeyama 1991), in float64."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ma, mb = a64.mean(0), b64.mean(0)
    u, d, vt = np.linalg.svd((b64 - mb).T @ (a64 - ma) / len(a))
    sign = np.array([1.0, 1.0, -1.0 if np.linalg.det(u) * np.linalg.det(vt) < 0 else 1.0])
    rot = (u * sign) @ vt
    scale = float((d * sign).sum() / ((a64 - ma) ** 2).sum() * len(a))
    return scale, rot, mb - scale * rot @ ma


def test_batched_fits_match_one_fit_per_frame() -> None:
    rng = np.random.default_rng(5)
    mean = rng.normal(0, 50, (468, 3)).astype(np.float32)
    frames = []
    for t in range(12):
        r = rotation(0.05 * t, -0.03 * t, 0.02 * t)
        pts = (
            1.0
            + 0.02 * t * mean @ r.T
            + np.array([160.0, 120.0, 0.0])
            + rng.normal(0, 0.5, (468, 3))
        )
        frames.append(pts)
    frames.append(mean * np.array([-1.0, 1.0, 1.0]))  # a mirror image: the fit stays a rotation
    bs = np.stack(frames).astype(np.float32)
    scales, rots, trans = similarities(mean, bs)
    for t, b in enumerate(bs):
        s, r, tr = umeyama(mean, b)
        assert abs(scales[t] - s) < 1e-4 * s
        np.testing.assert_allclose(rots[t], r, atol=1e-4)
        np.testing.assert_allclose(trans[t], tr, atol=1e-2)
        assert np.linalg.det(rots[t]) > 0


def test_the_offset_turns_and_scales_with_the_face() -> None:
    rng = np.random.default_rng(6)
    mean = rng.normal(0, 50, (468, 3)).astype(np.float32)
    offset = np.zeros_like(mean)
    offset[:, 0] = 2.0  # every point 2 px to the right, in the mean face's frame
    r = rotation(0.0, 0.0, np.pi / 2)  # the face turned a quarter, twice as big
    turned = (2.0 * mean @ r.T + np.array([100.0, 100.0, 0.0])).astype(np.float32)
    moved = apply_offsets(np.stack([mean, turned]), mean, offset)
    np.testing.assert_allclose(moved[0] - mean, offset, atol=1e-3)
    np.testing.assert_allclose(moved[1] - turned, np.tile([0.0, 4.0, 0.0], (468, 1)), atol=1e-3)
