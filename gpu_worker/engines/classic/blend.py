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
    # (src - ms) * gain + mt per channel, as one 3x4 matrix (numpy's broadcast over a last
    # axis of 3 took 15x as long).
    affine = np.zeros((3, 4), dtype=np.float32)
    affine[[0, 1, 2], [0, 1, 2]] = gain
    affine[:, 3] = mt - ms * gain
    return np.asarray(cv2.transform(src_ycc.astype(np.float32), affine), dtype=np.float32)


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
    """Laplacian-pyramid blend: wide transitions for low frequencies, sharp for detail.

    Blending each level, ``L(fg) m + L(bg) (1 - m)``, is ``L(bg) + L(fg - bg) m``, and the
    pyramid of ``bg`` alone collapses back to ``bg``: so only the difference and the mask
    are taken apart, half the work.
    """
    h, w = mask.shape
    levels = max(1, min(levels, int(np.log2(max(8, min(h, w)))) - 2))
    gd = [np.asarray(cv2.subtract(fg, bg, dtype=cv2.CV_32F), dtype=np.float32)]
    gm = [np.asarray(cv2.cvtColor(mask.astype(np.float32), cv2.COLOR_GRAY2RGB), np.float32)]
    for _ in range(levels):
        gd.append(np.asarray(cv2.pyrDown(gd[-1]), dtype=np.float32))
        gm.append(np.asarray(cv2.pyrDown(gm[-1]), dtype=np.float32))
    out = np.asarray(cv2.multiply(gd[-1], gm[-1]), dtype=np.float32)
    for i in range(levels - 1, -1, -1):
        size = (gd[i].shape[1], gd[i].shape[0])
        detail = cv2.subtract(gd[i], cv2.pyrUp(gd[i + 1], dstsize=size))
        out = np.asarray(
            cv2.add(cv2.pyrUp(out, dstsize=size), cv2.multiply(detail, gm[i])), np.float32
        )
    merged = np.asarray(cv2.add(out, bg, dtype=cv2.CV_8U), dtype=np.uint8)  # rounds, saturates
    # Outside the mask the result must be the background exactly.
    res = bg.copy()
    cv2.copyTo(merged, (mask > 0).astype(np.uint8), res)
    return res
