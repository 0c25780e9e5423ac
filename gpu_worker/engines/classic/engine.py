"""The classic engine object: models loaded once in the constructor, ``swap`` per clip."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from core.errors import NoFaceInTarget
from gpu_worker.engines.base import (
    Arriving,
    FaceSelection,
    Frame,
    FrameFace,
    FrameSink,
    ModelInfo,
    Progress,
    SwapOutput,
)
from gpu_worker.engines.classic import shape
from gpu_worker.engines.classic.blazeface import BlazeFace
from gpu_worker.engines.classic.holds import Drawn, Pictures
from gpu_worker.engines.classic.landmark_pass import LandmarkPass, Looked, look_between
from gpu_worker.engines.classic.landmarks import FACE_DETECTION_MODEL, FACE_MESH_MODEL
from gpu_worker.engines.classic.mesh import MESH_POINTS, FaceTopology, build_topology
from gpu_worker.engines.classic.photo import PhotoFaces, SourceFace
from gpu_worker.engines.classic.render import (
    ColourState,
    RenderParams,
    finish_face,
    prepare_face,
)
from gpu_worker.engines.classic.tracking import FaceTrack, box, build_tracks, smooth_track
from gpu_worker.engines.selection import select_tracks, selection_notes, summary

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class ClassicParams:
    shape_strength: float = 0.6  # how far inner features move toward the source's proportions
    shading_strength: float = 0.6  # how much of the target's lighting the face takes on
    mouth_open_ratio: float = 0.02  # lip gap / face size where the target's mouth starts to show
    # (fully shown at twice that)
    max_gap_s: float = 0.4  # detector misses up to this long are filled in
    # Savitzky-Golay window for head pose (and lips) along a track. 1.5 s: the judge's jitter
    # delta -0.00009 -> -0.00041 over 1.0 s, same look on the fastest head moves (bench/README).
    smooth_window_s: float = 1.5
    shape_window_s: float = 1.6  # ... and for the rest of the face's shape (noise, slow change)
    # Landmarks on every this many pictures, the rest interpolated (and the pictures between
    # two looked at where the faces change: landmark_pass.look_between). 2: the judge's
    # figures as with 1 (jitter delta -0.0004 both), half the landmark pass (bench/README).
    landmark_step: int = 2
    detect_side: int = 1024  # photos are searched for faces at most this large
    source_face_px: int = 320  # the source face texture is kept at most this tall


@dataclass(frozen=True)
class _Faces:
    """What every frame of one clip draws: the source face, the chosen tracks, and each
    track's landmarks moved toward the source's proportions (track -> picture -> points)."""

    src: SourceFace
    chosen: list[FaceTrack]
    adjusted: dict[int, dict[int, F32]]


Emit = Callable[[int, Drawn], None]


class _FaceCount:
    """The most faces seen so far in the frames the face count sampled (at least 1): written
    by the side thread, read by the landmark pass while it runs."""

    def __init__(self) -> None:
        self.most = 1

    def update(self, faces: int) -> None:
        self.most = max(self.most, faces)


class ClassicEngine:
    name = "classic"
    device = "cpu"
    models: tuple[ModelInfo, ...] = (FACE_DETECTION_MODEL, FACE_MESH_MODEL)

    def __init__(
        self,
        *,
        max_faces: int = 4,
        params: ClassicParams | None = None,
        render_threads: int = 1,
        landmark_spans: int = 2,
    ) -> None:
        self.params = params or ClassicParams()
        self._render = RenderParams(self.params.shading_strength, self.params.mouth_open_ratio)
        # Frames are drawn on this many threads besides the caller's; the result is the same
        # as one after the other (see render.py). One: drawing a face is ~100 small numpy and
        # OpenCV calls that hold the GIL between them, so a second thread drew no faster, and
        # beside the encoder's two threads it made whole clips 0-15 % slower (bench/README).
        self._render_threads = max(1, render_threads)
        # Per-face crops are small: OpenCV's thread pool costs more than it saves there (5x on
        # a 160-px LAB conversion, seen here), and a worker runs one clip per core anyway.
        cv2.setNumThreads(1)
        # The same for numpy's BLAS: its threads spin for a while after each small product
        # (the smoothing's and the shape fit's), which took 80 ms of CPU from a 30-frame
        # clip's 190, and from the encoder beside the engine (bench/README).
        threadpool_limits(1, user_api="blas")
        self._topology: FaceTopology = build_topology()
        self._max_faces = max_faces
        # The clip's landmarks, in up to this many spans at once, or with a picture's faces on
        # this many models at once (landmark_pass.py).
        self._landmarks = LandmarkPass(landmark_spans)
        self._landmarks.warm()
        self._source = PhotoFaces(
            self._topology, self.params.detect_side, self.params.source_face_px
        )
        self._near_detector = BlazeFace()
        self._lips = np.zeros(MESH_POINTS, dtype=bool)
        self._lips[self._topology.lips] = True
        self._weights = shape.feature_weights(
            self._topology.inner_points, _neighbours(self._topology), self.params.shape_strength
        )

    def close(self) -> None:
        self._landmarks.close()
        self._source.close()
        self._near_detector.close()

    # --- source -----------------------------------------------------------------------------

    def prepare_source(self, photo: Frame) -> SourceFace:
        return self._source.prepare(photo)

    def _count_faces(self, frames: Sequence[Frame], seen: _FaceCount) -> int:
        """How many faces the clip's tracker follows: the most seen in every ``len // 8``-th
        frame (8 to 15 of them; every frame of a clip of fewer than 8), at most
        ``max_faces``; ``seen`` holds the most so far meanwhile. (Not one more for someone
        who might walk in: a tracker with a free place runs the detector on every frame, 2x
        the three-person clip's time.)"""
        step = max(1, len(frames) // 8)
        for i in range(0, len(frames), step):
            seen.update(min(self._max_faces, len(self._near_detector.detect(frames[i]))))
        return seen.most

    def _detect_clip(
        self,
        frames: Looked,
        counting: Future[int],
        seen: _FaceCount,
        preparing: Future[SourceFace],
        on_progress: Progress | None,
        total: int,
    ) -> tuple[list[list[F32]], int]:
        """Landmarks per frame, in frame order (landmark_pass.py), and how many faces the
        tracker followed.

        The tracker is sized by ``_count_faces``, which runs meanwhile on the side thread
        (``counting``): the one-face tracker runs first, as nearly every clip needs, and
        starts over with a bigger one as soon as a sampled frame shows more faces (``seen``),
        so a clip with several wastes one detector call's time, not the whole count's. A
        pass is kept once the finished count agrees with it. It stops early when the photo
        turns out to have no face (``preparing`` failed).
        """
        shown = 0

        def show(done: int) -> None:
            nonlocal shown
            if on_progress is not None and done > shown:
                shown = done
                on_progress(shown, total)

        def photo_failed() -> bool:
            return preparing.done() and preparing.exception() is not None

        faces = 1
        while True:
            wanted = faces

            def give_up(wanted: int = wanted) -> bool:
                return photo_failed() or seen.most > wanted

            detections = self._landmarks.track(frames, wanted, give_up, show, frames.expected)
            if photo_failed():
                return [], wanted
            if detections is not None and counting.result() == wanted:
                return detections, wanted
            faces = max(seen.most, counting.result() if counting.done() else 1)

    # --- clip -------------------------------------------------------------------------------

    def swap(
        self,
        source: Frame,
        frames: Sequence[Frame],
        *,
        faces: FaceSelection = "largest",
        on_progress: Progress | None = None,
        durations_ms: Sequence[float] | None = None,
        on_frame: FrameSink | None = None,
    ) -> SwapOutput:
        n = len(frames)
        step = max(1, self.params.landmark_step)
        # The frames may still be decoding (a FrameFeed): the pass starts on the first ones.
        pictures = Pictures(frames)  # each picture once (holds.py)
        if not isinstance(frames, Arriving) or frames.complete():
            pictures.count()  # all there: the spans are planned on the pictures themselves
        looked = Looked(pictures, n, step)
        total = looked.expected + n
        # The photo's face and the count of faces to track are found on a side thread while
        # the clip's landmarks are (the models let go of the GIL; each has one user).
        with ThreadPoolExecutor(1, thread_name_prefix="swapzy-source") as side:
            count = _FaceCount()
            counting = side.submit(self._count_faces, frames, count)
            preparing = side.submit(self.prepare_source, source)
            seen, wanted = self._detect_clip(looked, counting, count, preparing, on_progress, total)
            src = preparing.result()
        holds = pictures.holds(durations_ms)
        frame_ms = float(np.median(holds.durations_ms)) if holds.durations_ms else 80.0
        frame_ms = frame_ms if frame_ms > 0 else 80.0
        max_gap = max(1, step - 1, round(self.params.max_gap_s * 1000 / frame_ms))
        window = _frames_window(self.params.smooth_window_s, frame_ms)
        shape_window = _frames_window(self.params.shape_window_s, frame_ms)
        every, at = pictures.all(), looked.indices()
        detections: list[list[F32]] = [[] for _ in every]
        for i, faces_seen in zip(at, seen, strict=False):
            detections[i] = faces_seen
        look_between(
            detections,
            at,
            lambda gaps: self._landmarks.follow_each(
                [(detections[g.start], [every[i] for i in g.skipped]) for g in gaps], wanted
            ),
        )
        found = build_tracks(detections, max_gap)
        if not found:
            raise NoFaceInTarget("No face found in any frame of the GIF/video.")
        picked = {tr.number for tr in select_tracks(found, faces)}
        for tr in found:
            if tr.number in picked:
                smooth_track(tr, max_gap, window, shape_window, self._lips)
        tracks = [holds.expand(tr) for tr in found]  # over every frame, for the report
        notes = selection_notes(
            src.faces_found, tracks, [tr for tr in tracks if tr.number in picked], faces
        )
        chosen = [tr for tr in found if tr.number in picked]  # over the pictures, to draw
        adjusted = {tr.number: self._adjusted(src, tr) for tr in chosen}
        out: list[Frame] = []
        per_frame: list[list[FrameFace]] = []

        def emit(i: int, result: Frame, info: list[FrameFace]) -> None:
            out.append(result)
            per_frame.append(info)
            if on_frame is not None:
                on_frame(i, result)
            if on_progress is not None:
                on_progress(total - n + i + 1, total)

        def emit_picture(p: int, drawn: Drawn) -> None:
            """Picture ``p`` drawn: its frame and the frames that hold it show it alike."""
            for i in holds.frames_of(p):
                emit(i, drawn.frame, drawn.info)

        self._render_frames(every, _Faces(src, chosen, adjusted), emit_picture)
        return SwapOutput(
            frames=out,
            faces=per_frame,
            tracks=[summary(tr, tr.number in picked) for tr in tracks],
            source_faces_found=src.faces_found,
            notes=notes,
        )

    def _render_frames(self, frames: Sequence[Frame], faces: _Faces, emit: Emit) -> None:
        """Draw every frame on the render threads; ``emit`` gets them in order, on this thread.
        A few frames are in flight at a time, so memory stays flat and the encoder is fed."""
        colour = {tr.number: ColourState() for tr in faces.chosen}
        pending: deque[Future[Drawn]] = deque()
        pool = ThreadPoolExecutor(self._render_threads, thread_name_prefix="swapzy-render")
        try:
            for i, frame in enumerate(frames):
                pending.append(pool.submit(self._render_frame, i, frame, faces, colour))
                if len(pending) > 2 * self._render_threads:
                    emit(i - len(pending) + 1, pending.popleft().result())
            while pending:
                emit(len(frames) - len(pending), pending.popleft().result())
        except BaseException:
            for state in colour.values():
                state.abort()
            for future in pending:
                future.cancel()
            raise
        finally:
            pool.shutdown(wait=True)

    def _render_frame(
        self, i: int, frame: Frame, faces: _Faces, colour: dict[int, ColourState]
    ) -> Drawn:
        """Frame ``i`` with every chosen face drawn in (one after the other, as they may
        overlap). Each track's colour state takes its turn even where nothing is drawn."""
        try:
            result = frame
            info: list[FrameFace] = []
            for tr in faces.chosen:
                pts = tr.smoothed.get(i)
                prepared = None
                if pts is not None:
                    src = faces.src
                    adjusted = faces.adjusted[tr.number][i]
                    prepared = prepare_face(
                        result, src.image, src.points, pts, adjusted, self._topology, self._render
                    )
                stats = colour[tr.number].update(i, None if prepared is None else prepared.stats)
                if prepared is not None and stats is not None:
                    result = finish_face(result, prepared, stats, self._render)
                if pts is not None:
                    x0, y0, x1, y1 = box(pts)
                    info.append(
                        FrameFace(
                            track=tr.number,
                            box=(int(x0), int(y0), int(x1), int(y1)),
                            landmarks=pts[:, :2].copy(),
                            swapped=True,
                            interpolated=i in tr.interpolated,
                        )
                    )
            return Drawn(result, info)
        except BaseException:
            for state in colour.values():
                state.abort()
            raise

    def _adjusted(self, src: SourceFace, track: FaceTrack) -> dict[int, F32]:
        """The track's smoothed landmarks with the identity offset (the source's proportions
        against the track's mean shape) carried into each picture's pose, all at once."""
        frames = list(track.smoothed)
        points = np.stack([track.smoothed[i] for i in frames])
        mean = np.mean(points, axis=0).astype(np.float32)
        offset = shape.identity_offset(src.points[:MESH_POINTS], mean, self._weights)
        return dict(zip(frames, shape.apply_offsets(points, mean, offset), strict=True))


def _frames_window(seconds: float, frame_ms: float) -> int:
    """An odd Savitzky-Golay window (at least 5 frames) covering about ``seconds``."""
    return max(5, 2 * round(seconds * 1000 / frame_ms / 2) + 1)


def _neighbours(topo: FaceTopology) -> list[set[int]]:
    out: list[set[int]] = [set() for _ in range(MESH_POINTS)]
    for tri in topo.triangles:
        for a in tri:
            for b in tri:
                if a != b and a < MESH_POINTS and b < MESH_POINTS:
                    out[a].add(int(b))
    return out
