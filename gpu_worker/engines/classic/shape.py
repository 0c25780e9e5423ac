"""Identity shape transfer: move the target's inner features (eyes, brows, nose, mouth) toward
the source's proportions, in the target's pose, while keeping the target's expression.

The source's neutral shape is aligned (3-D similarity) to the track's mean shape; the offset
between them is the identity difference. Each frame adds that offset, rotated and scaled into
the frame's pose. The face outline stays where the target's head is.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]


def similarity(a: F32, b: F32) -> tuple[float, F32, F32]:
    """Umeyama: scale s, rotation R, translation t with s R a + t ≈ b (rows are points)."""
    ma, mb = a.mean(axis=0), b.mean(axis=0)
    ca, cb = a - ma, b - mb
    cov = cb.T @ ca / len(a)
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(len(d), dtype=np.float64)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rot = (u * sign) @ vt
    var_a = float((ca**2).sum() / len(a))
    scale = float((d * sign).sum() / var_a) if var_a > 0 else 1.0
    trans = mb - scale * (rot @ ma)
    return scale, rot.astype(np.float32), trans.astype(np.float32)


def identity_offset(source: F32, mean_target: F32, weights: F32) -> F32:
    """Per-point offset (468, 3), in the mean target's frame, scaled by ``weights``."""
    s, r, t = similarity(source, mean_target)
    aligned = (s * (r @ source.T)).T + t
    return ((aligned - mean_target) * weights[:, None]).astype(np.float32)


def apply_offset(frame_pts: F32, mean_target: F32, offset: F32) -> F32:
    """``frame_pts`` plus ``offset`` carried from the mean shape's pose into this frame's."""
    s, r, _ = similarity(mean_target, frame_pts)
    return (frame_pts + s * (r @ offset.T).T).astype(np.float32)


def feature_weights(inner: NDArray[np.bool_], neighbours: list[set[int]], strength: float) -> F32:
    """``strength`` on inner points, half of it next to the outline, zero on the outline."""
    w = np.where(inner, strength, 0.0).astype(np.float32)
    for i in np.nonzero(inner)[0]:
        if any(not inner[j] for j in neighbours[i]):
            w[i] = strength * 0.5
    return w
