"""One face drawn into one frame, in two halves around the track's colour state, so frames can
be rendered on several threads with the same result as one after the other.

``prepare_face`` (warp, mask, colour statistics) and ``finish_face`` (colour transfer, shading,
blend) depend on nothing but their frame; the colour state between them is a running average
along the track, so ``ColourState.update`` takes its turns in frame order: frame ``i`` waits until
frames ``0 .. i-1`` have passed (each frame passes every selected track exactly once, with or
without a measurement).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gpu_worker.engines.base import Frame
from gpu_worker.engines.classic import blend
from gpu_worker.engines.classic.mesh import LOWER_LIP_INNER, UPPER_LIP_INNER, FaceTopology
from gpu_worker.engines.classic.tracking import box
from gpu_worker.engines.classic.warp import warp_face

F32 = NDArray[np.float32]
Stats = tuple[F32, F32]


class RenderAborted(Exception):
    """Another frame's rendering failed; frames waiting for their turn stop with this."""


class ColourState:
    """Colour statistics of one track, smoothed over time so the face's tone cannot flicker
    when the mouth opens or the lighting of one frame is odd. Updated in frame order."""

    def __init__(self, keep: float = 0.7) -> None:
        self.keep = keep
        self.values: list[F32] | None = None
        self._next = 0
        self._turn = threading.Condition()
        self._aborted = False

    def update(
        self, index: int, measured: tuple[Stats, Stats] | None
    ) -> tuple[Stats, Stats] | None:
        """Frame ``index``'s turn: fold in its (source, target) statistics and return the
        smoothed ones, or pass (None: nothing drawn there). Blocks until every earlier frame
        has had its turn."""
        with self._turn:
            while self._next != index:
                if self._aborted:
                    raise RenderAborted("an earlier frame failed")
                self._turn.wait()
            try:
                if measured is None:
                    return None
                v = self._fold(measured)
                return (v[0], v[1]), (v[2], v[3])
            finally:
                self._next = index + 1
                self._turn.notify_all()

    def abort(self) -> None:
        with self._turn:
            self._aborted = True
            self._turn.notify_all()

    def _fold(self, measured: tuple[Stats, Stats]) -> list[F32]:
        (s0, s1), (d0, d1) = measured
        new = [s0, s1, d0, d1]
        if self.values is None:
            self.values = new
        else:
            k = self.keep
            self.values = [k * old + (1 - k) * n for old, n in zip(self.values, new, strict=True)]
        return self.values


@dataclass(frozen=True)
class RenderParams:
    shading_strength: float
    mouth_open_ratio: float


@dataclass(frozen=True)
class Prepared:
    """One face's warped source and mask on a crop of the frame, ready for its colour turn."""

    crop_box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the frame
    crop: Frame
    mask: F32
    core: NDArray[np.uint8]
    src_ycc: NDArray[np.uint8]
    dst_ycc: NDArray[np.uint8]
    face_size: float
    stats: tuple[Stats, Stats]  # (source, target) colour statistics under ``core``


def prepare_face(
    frame: Frame,
    src_image: NDArray[np.uint8],
    src_points: F32,
    target: F32,
    adjusted: F32,
    topo: FaceTopology,
    p: RenderParams,
) -> Prepared | None:
    """Warp and mask one face on a crop of ``frame``; None where nothing would be drawn."""
    fh, fw = frame.shape[:2]
    x0, y0, x1, y1 = box(target)
    face_size = float(np.sqrt(max(1.0, (x1 - x0) * (y1 - y0))))
    m = 0.15 * face_size
    cx0, cy0 = max(0, int(x0 - m)), max(0, int(y0 - m))
    cx1, cy1 = min(fw, int(x1 + m) + 1), min(fh, int(y1 + m) + 1)
    if cx1 - cx0 < 8 or cy1 - cy0 < 8:
        return None
    crop = frame[cy0:cy1, cx0:cx1]
    hw = (cy1 - cy0, cx1 - cx0)
    shift = np.array([cx0, cy0, 0], dtype=np.float32)
    dst = topo.extend(adjusted - shift)
    tgt = target - shift
    warped, coverage = warp_face(
        src_image, src_points[:, :2], dst[:, :2], dst[:, 2], topo.triangles, hw
    )
    gap = float(np.linalg.norm(tgt[UPPER_LIP_INNER, :2] - tgt[LOWER_LIP_INNER, :2]))
    opening = (gap / face_size - p.mouth_open_ratio) / p.mouth_open_ratio
    mask = blend.face_mask(
        tgt[topo.oval, :2],
        tgt[topo.mouth_inner, :2],
        float(np.clip(opening, 0.0, 1.0)),
        coverage,
        face_size,
        hw,
    )
    if float(mask.max()) <= 0:
        return None
    dst_ycc = blend.to_ycc(crop)
    src_ycc = blend.to_ycc(warped)
    core = ((mask > 0.5) * 255).astype(np.uint8)
    stats = (blend.channel_stats(src_ycc, core), blend.channel_stats(dst_ycc, core))
    return Prepared((cx0, cy0, cx1, cy1), crop, mask, core, src_ycc, dst_ycc, face_size, stats)


def finish_face(frame: Frame, face: Prepared, stats: tuple[Stats, Stats], p: RenderParams) -> Frame:
    """``frame`` with the prepared face drawn in, coloured with the track's ``stats``."""
    ycc = blend.transfer_colour(face.src_ycc, *stats)
    ycc = blend.match_shading(ycc, face.dst_ycc, face.core, face.face_size / 8, p.shading_strength)
    merged = blend.multiband_blend(blend.from_ycc(ycc), face.crop, face.mask)
    cx0, cy0, cx1, cy1 = face.crop_box
    result = frame.copy()
    result[cy0:cy1, cx0:cx1] = merged
    return result
