"""Faces followed across frames: association by box overlap, short gaps filled in, landmarks
smoothed along each track with a zero-lag filter (the whole clip is known in advance)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Landmarks = NDArray[np.float32]
SAME_FACE_IOU = 0.2  # boxes in two frames overlapping at least this much are one face


@dataclass
class FaceTrack:
    number: int
    raw: dict[int, Landmarks] = field(default_factory=dict)  # frame -> detected landmarks
    smoothed: dict[int, Landmarks] = field(default_factory=dict)
    interpolated: set[int] = field(default_factory=set)

    @property
    def first(self) -> int:
        return min(self.raw)

    @property
    def last(self) -> int:
        return max(self.raw)

    def mean_area(self) -> float:
        return float(np.mean([_area(box(p)) for p in self.raw.values()]))

    def total_area(self) -> float:
        return float(sum(_area(box(p)) for p in self.raw.values()))


def box(points: Landmarks) -> tuple[float, float, float, float]:
    return (
        float(points[:, 0].min()),
        float(points[:, 1].min()),
        float(points[:, 0].max()),
        float(points[:, 1].max()),
    )


def _area(b: tuple[float, float, float, float]) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def build_tracks(detections: list[list[Landmarks]], max_gap: int) -> list[FaceTrack]:
    """Link per-frame detections into tracks, numbered by first appearance then left to right."""
    tracks: list[FaceTrack] = []
    for t, faces in enumerate(detections):
        live = [tr for tr in tracks if t - tr.last <= max_gap + 1]
        pairs = sorted(
            (
                (iou(box(tr.raw[tr.last]), box(f)), ti, fi)
                for ti, tr in enumerate(live)
                for fi, f in enumerate(faces)
            ),
            reverse=True,
        )
        used_t: set[int] = set()
        used_f: set[int] = set()
        for score, ti, fi in pairs:
            if score < SAME_FACE_IOU or ti in used_t or fi in used_f:
                continue
            live[ti].raw[t] = faces[fi]
            used_t.add(ti)
            used_f.add(fi)
        for fi, f in enumerate(faces):
            if fi not in used_f:
                tracks.append(FaceTrack(number=0, raw={t: f}))
    tracks.sort(key=lambda tr: (tr.first, box(tr.raw[tr.first])[0]))
    for n, tr in enumerate(tracks, start=1):
        tr.number = n
    return tracks


def smooth_track(
    track: FaceTrack,
    max_gap: int,
    window: int,
    shape_window: int,
    mobile: NDArray[np.bool_] | None = None,
) -> None:
    """Fill gaps of up to ``max_gap`` frames by interpolation, then smooth each run of frames.

    ``mobile`` marks points that move fast when people talk (lips): they get the pose's
    lighter smoothing instead of the shape's stronger one."""
    frames = sorted(track.raw)
    runs: list[list[int]] = [[frames[0]]]
    for t in frames[1:]:
        if t - runs[-1][-1] <= max_gap + 1:
            runs[-1].append(t)
        else:
            runs.append([t])
    for run in runs:
        span = list(range(run[0], run[-1] + 1))
        known = np.array(run)
        data = np.stack([track.raw[t] for t in run])  # (n, 468, 3)
        if len(run) == len(span):  # no gap: nothing to fill in (most runs)
            filled = data.astype(np.float32, copy=True)
        else:
            filled = interpolate(data, known, np.array(span))
        track.interpolated.update(t for t in span if t not in track.raw)
        if len(span) >= 5:
            filled = smooth_pose_and_shape(filled, window, shape_window, mobile)
        for i, t in enumerate(span):
            track.smoothed[t] = filled[i]


def interpolate(
    data: NDArray[np.float32], known: NDArray[np.int_], wanted: NDArray[np.int_]
) -> NDArray[np.float32]:
    """Linear interpolation along axis 0 of ``data`` (seen at the increasing ``known`` frames)
    at the ``wanted`` frames within them: ``np.interp``'s formula, all points at once."""
    hi = np.clip(np.searchsorted(known, wanted, side="right"), 1, len(known) - 1)
    lo = hi - 1
    flat = data.reshape(len(known), -1).astype(np.float64)
    slope = (flat[hi] - flat[lo]) / (known[hi] - known[lo])[:, None]
    out = slope * (wanted - known[lo])[:, None] + flat[lo]
    exact = known[lo] == wanted  # seen frames keep their own points (and the last one)
    out[exact] = flat[lo[exact]]
    last = wanted == known[-1]
    out[last] = flat[-1]
    return np.asarray(out.reshape(len(wanted), *data.shape[1:]), dtype=np.float32)


def _odd_window(window: int, n: int) -> int:
    w = min(window, n if n % 2 else n - 1)
    return w if w >= 3 else 0


def smooth_pose_and_shape(
    points: NDArray[np.float32],
    window: int,
    shape_window: int,
    mobile: NDArray[np.bool_] | None,
) -> NDArray[np.float32]:
    """Zero-lag smoothing that treats head motion and face shape apart.

    Each frame is split into a pose (similarity from the run's mean shape) and a shape in the
    mean's frame. The pose is smoothed over ``window`` frames, so quick head moves are followed;
    the shape, where detector noise lives and real change is slow, over ``shape_window``. Lips
    keep the pose's window: they move fast when people talk.
    """
    from gpu_worker.engines.classic.shape import similarities

    n = len(points)
    w_pose = _odd_window(window, n)
    w_shape = _odd_window(shape_window, n)
    if not w_pose:
        return points
    mean = points.mean(axis=0)
    scales, rots, trans = similarities(mean, points)
    # Inverse similarity: each frame's shape back in the mean's frame.
    shapes = np.matmul(points - trans[:, None], rots) / scales[:, None, None]
    scales = savgol(scales[:, None], w_pose, 2)[:, 0]
    trans = savgol(trans, w_pose, 2)
    rots = savgol(rots, w_pose, 2)
    u, _, vt = np.linalg.svd(rots)
    rots = (u @ vt).astype(np.float32)  # back to proper rotations
    smooth_shapes = savgol(shapes, w_shape, 2) if w_shape else shapes
    if mobile is not None:
        smooth_shapes[:, mobile] = savgol(shapes[:, mobile], w_pose, 2)
    out = scales[:, None, None] * np.matmul(smooth_shapes, rots.transpose(0, 2, 1)) + trans[:, None]
    return np.asarray(out, dtype=np.float32)


def savgol(series: NDArray[np.float32], window: int, order: int) -> NDArray[np.float32]:
    """Savitzky-Golay smoothing along axis 0 (least-squares polynomial over a sliding window;
    at the ends, the nearest full window's polynomial is evaluated). Zero lag."""
    n = len(series)
    half = window // 2
    x = np.arange(window, dtype=np.float64) - half
    vander = np.vander(x, order + 1, increasing=True)  # (w, p+1)
    hat = vander @ np.linalg.pinv(vander)  # row k: weights giving the fit at offset k
    flat = series.reshape(n, -1).astype(np.float64)
    out = np.empty_like(flat)
    for t in range(n):
        start = min(max(t - half, 0), n - window)
        out[t] = hat[t - start] @ flat[start : start + window]
    return out.reshape(series.shape).astype(np.float32)
