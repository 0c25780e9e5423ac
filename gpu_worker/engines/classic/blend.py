"""Masks, colour transfer and multi-band blending, all on a crop around one face."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]


def polygon_mask(points: F32, shape: tuple[int, int]) -> U8:
    mask = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], (255,), cv2.LINE_AA, shift=4)
    return mask


def face_mask(
    oval: F32,
    mouth: F32 | None,
    mouth_opacity: float,
    coverage: U8,
    face_size: float,
    shape: tuple[int, int],
    *,
    erode: float = 0.04,
    feather: float = 0.06,
) -> F32:
    """Feathered mask in [0, 1]: the face outline shrunk a little, minus the open mouth
    (``mouth_opacity`` 0..1 fades the target's mouth in as it opens, with no sudden switch)."""
    limit = cv2.bitwise_and(polygon_mask(oval, shape), coverage)
    mask = limit
    k = max(1, round(face_size * erode))
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    if mouth is not None and mouth_opacity > 0:
        hole = polygon_mask(mouth, shape)
        d = max(1, round(face_size * 0.01))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * d + 1, 2 * d + 1))
        hole = np.asarray(cv2.dilate(hole, kernel), dtype=np.uint8)
        mask = cv2.subtract(mask, (hole.astype(np.float32) * mouth_opacity).astype(np.uint8))
    sigma = max(1.0, face_size * feather)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), sigma)
    # Keep the feather inside the outline: nothing bleeds past the face edge.
    return soft * (limit > 0)


def channel_stats(ycc: U8, mask: U8) -> tuple[F32, F32]:
    """Mean and standard deviation of each YCrCb channel where ``mask`` is set."""
    mean, std = cv2.meanStdDev(ycc, mask=mask)
    return mean.reshape(3).astype(np.float32), np.maximum(std.reshape(3), 1.0).astype(np.float32)


def to_ycc(rgb: U8) -> U8:
    """8-bit YCrCb: luma first, like LAB, without LAB's 0.1 s table set-up per process."""
    return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb), dtype=np.uint8)


def from_ycc(ycc: F32) -> U8:
    rgb = cv2.cvtColor(np.clip(ycc + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2RGB)
    return np.asarray(rgb, dtype=np.uint8)


def transfer_colour(
    src_ycc: U8,
    src_stats: tuple[F32, F32],
    dst_stats: tuple[F32, F32],
    *,
    max_gain: float = 1.5,
) -> F32:
    """Move the source face's YCrCb mean and spread onto the target face's."""
    (ms, ss), (mt, st) = src_stats, dst_stats
    gain = np.clip(st / ss, 1 / max_gain, max_gain).astype(np.float32)
    return (src_ycc.astype(np.float32) - ms) * gain + mt


def match_shading(src_ycc: F32, dst_ycc: U8, weight: U8, sigma: float, strength: float) -> F32:
    """Carry the target's low-frequency lighting (luma only) onto the source face.

    Computed at a quarter of the size: only broad shading is wanted, and it is 16x cheaper.
    """
    if strength <= 0:
        return src_ycc
    h, w = weight.shape
    small = (max(1, w // 4), max(1, h // 4))
    wt = cv2.resize(weight, small, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    ls = cv2.resize(src_ycc[..., 0], small, interpolation=cv2.INTER_AREA)
    ld = cv2.resize(dst_ycc[..., 0], small, interpolation=cv2.INTER_AREA).astype(np.float32)
    s = max(0.5, sigma / 4)
    norm = cv2.GaussianBlur(wt, (0, 0), s) + 1e-4
    diff = (cv2.GaussianBlur(ld * wt, (0, 0), s) - cv2.GaussianBlur(ls * wt, (0, 0), s)) / norm
    out = src_ycc.copy()
    out[..., 0] += strength * cv2.resize(diff, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def multiband_blend(fg: U8, bg: U8, mask: F32, levels: int = 4) -> U8:
    """Laplacian-pyramid blend: wide transitions for low frequencies, sharp for detail."""
    h, w = mask.shape
    levels = max(1, min(levels, int(np.log2(max(8, min(h, w)))) - 2))
    a = fg.astype(np.float32)
    b = bg.astype(np.float32)
    m = mask.astype(np.float32)
    ga, gb, gm = [a], [b], [m]
    for _ in range(levels):
        ga.append(np.asarray(cv2.pyrDown(ga[-1]), dtype=np.float32))
        gb.append(np.asarray(cv2.pyrDown(gb[-1]), dtype=np.float32))
        gm.append(np.asarray(cv2.pyrDown(gm[-1]), dtype=np.float32))
    out = np.asarray(ga[-1] * gm[-1][..., None] + gb[-1] * (1 - gm[-1][..., None]), np.float32)
    for i in range(levels - 1, -1, -1):
        size = (ga[i].shape[1], ga[i].shape[0])
        la = ga[i] - cv2.pyrUp(ga[i + 1], dstsize=size)
        lb = gb[i] - cv2.pyrUp(gb[i + 1], dstsize=size)
        mi = gm[i][..., None]
        up = np.asarray(cv2.pyrUp(out, dstsize=size), dtype=np.float32)
        out = np.asarray(up + la * mi + lb * (1 - mi), dtype=np.float32)
    # Outside the mask the result must be the background exactly.
    outside = mask <= 0
    res = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    res[outside] = bg[outside]
    return res
