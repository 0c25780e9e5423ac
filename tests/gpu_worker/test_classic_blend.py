"""The multi-band blend: the background stays exactly as it was outside the mask, the face is
the face well inside it, and the transition is the same as blending both pyramids."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from gpu_worker.engines.classic.blend import multiband_blend, to_ycc, transfer_colour
from tests.media_files import U8


def test_the_blend_keeps_the_background_outside_the_mask_and_the_face_inside() -> None:
    fg: U8 = np.full((160, 160, 3), 200, dtype=np.uint8)
    rng = np.random.default_rng(5)
    bg: U8 = rng.integers(0, 120, size=(160, 160, 3), dtype=np.uint8)
    mask = np.zeros((160, 160), dtype=np.float32)
    mask[16:144, 16:144] = 1.0
    out = multiband_blend(fg, bg, mask)
    assert np.array_equal(out[mask == 0], bg[mask == 0])
    # the coarsest band blends over ~16 px: well inside, the face is the face
    assert np.abs(out[56:104, 56:104].astype(np.int16) - 200).max() <= 2


def reference_blend(fg: U8, bg: U8, mask: NDArray[np.float32], levels: int) -> U8:
    """The textbook form: both Laplacian pyramids blended level by level, then collapsed."""
    ga: list[Any] = [fg.astype(np.float32)]
    gb: list[Any] = [bg.astype(np.float32)]
    gm: list[Any] = [mask.astype(np.float32)]
    for _ in range(levels):
        ga.append(cv2.pyrDown(ga[-1]))
        gb.append(cv2.pyrDown(gb[-1]))
        gm.append(cv2.pyrDown(gm[-1]))
    out = ga[-1] * gm[-1][..., None] + gb[-1] * (1 - gm[-1][..., None])
    for i in range(levels - 1, -1, -1):
        size = (ga[i].shape[1], ga[i].shape[0])
        la = ga[i] - cv2.pyrUp(ga[i + 1], dstsize=size)
        lb = gb[i] - cv2.pyrUp(gb[i + 1], dstsize=size)
        m: Any = gm[i][..., None]
        out = cv2.pyrUp(out, dstsize=size) + la * m + lb * (1 - m)
    res: U8 = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    res[mask <= 0] = bg[mask <= 0]
    return res


def test_the_blend_is_the_textbook_pyramid_blend() -> None:
    rng = np.random.default_rng(11)
    fg: U8 = rng.integers(0, 255, size=(115, 97, 3), dtype=np.uint8)
    bg: U8 = np.asarray(cv2.GaussianBlur(fg[::-1], (0, 0), 2), dtype=np.uint8)
    hard = np.zeros((115, 97), dtype=np.uint8)
    cv2.ellipse(hard, (48, 57), (35, 45), 0, 0, 360, (255,), -1)
    mask = cv2.GaussianBlur(hard.astype(np.float32) / 255, (0, 0), 6) * (hard > 0)
    ours = multiband_blend(fg, bg, mask, levels=4)
    assert np.abs(ours.astype(np.int16) - reference_blend(fg, bg, mask, 4)).max() <= 1


def test_colour_transfer_moves_each_channel_mean_and_spread() -> None:
    rng = np.random.default_rng(2)
    face: U8 = rng.integers(60, 200, size=(40, 30, 3), dtype=np.uint8)
    ycc = to_ycc(face)
    src = (
        ycc.reshape(-1, 3).mean(0).astype(np.float32),
        ycc.reshape(-1, 3).std(0).astype(np.float32),
    )
    dst = (np.array([100, 140, 120], np.float32), src[1] * np.array([1.2, 0.9, 1.0], np.float32))
    moved = transfer_colour(ycc, src, dst).reshape(-1, 3)
    assert np.allclose(moved.mean(0), dst[0], atol=0.01)
    assert np.allclose(moved.std(0), dst[1], rtol=0.001)
