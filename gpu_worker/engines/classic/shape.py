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
    scales, rots, trans = similarities(a, b[None])
    return float(scales[0]), rots[0], trans[0]


def similarities(a: F32, bs: F32) -> tuple[F32, F32, F32]:
    """``similarity(a, b)`` for each ``b`` of ``bs`` (T, P, D) at once: scales (T,), rotations
    (T, D, D), translations (T, D). One batched SVD, not T small ones (a track's frames)."""
    ma, mb = a.mean(axis=0), bs.mean(axis=1)
    ca, cb = a - ma, bs - mb[:, None]
    cov = np.matmul(cb.transpose(0, 2, 1), ca) / len(a)
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(d.shape, dtype=np.float64)
    sign[np.linalg.det(u) * np.linalg.det(vt) < 0, -1] = -1.0
    rot = np.matmul(u * sign[:, None, :], vt)
    var_a = float((ca**2).sum() / len(a))
    scale = (d * sign).sum(axis=1) / var_a if var_a > 0 else np.ones(len(bs))
    trans = mb - scale[:, None] * np.matmul(rot, ma)
    return scale.astype(np.float32), rot.astype(np.float32), trans.astype(np.float32)


def identity_offset(source: F32, mean_target: F32, weights: F32) -> F32:
    """Per-point offset (468, 3), in the mean target's frame, scaled by ``weights``."""
    s, r, t = similarity(source, mean_target)
    aligned = (s * (r @ source.T)).T + t
    return ((aligned - mean_target) * weights[:, None]).astype(np.float32)


def apply_offsets(frames_pts: F32, mean_target: F32, offset: F32) -> F32:
    """Each frame's points (T, P, 3) plus ``offset`` carried from the mean shape's pose into
    that frame's."""
    s, r, _ = similarities(mean_target, frames_pts)
    carried = np.matmul(offset[None], r.transpose(0, 2, 1))  # R @ offset per frame
    return np.asarray(frames_pts + s[:, None, None] * carried, dtype=np.float32)


def feature_weights(inner: NDArray[np.bool_], neighbours: list[set[int]], strength: float) -> F32:
    """``strength`` on inner points, half of it next to the outline, zero on the outline."""
    w = np.where(inner, strength, 0.0).astype(np.float32)
    for i in np.nonzero(inner)[0]:
        if any(not inner[j] for j in neighbours[i]):
            w[i] = strength * 0.5
    return w
