"""The ``facefusion`` engine: detect -> (68-point landmarks) -> track + smooth (shared with
``classic``) -> align to the swapper's template -> swap with the source's identity -> paste back
with a soft mask -> (enhance). Sessions are built once, in the constructor (warm start)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from core.config import Settings
from core.errors import NoFaceInSource, NoFaceInTarget
from gpu_worker.engines.base import (
    FaceSelection,
    Frame,
    FrameFace,
    FrameSink,
    ModelInfo,
    Progress,
    SwapOutput,
)
from gpu_worker.engines.classic.tracking import FaceTrack, box, build_tracks, smooth_track
from gpu_worker.engines.facefusion import geometry
from gpu_worker.engines.facefusion.models import (
    Detector,
    Embedder,
    Enhancer,
    Landmarker,
    Swapper,
    read_emap,
)
from gpu_worker.engines.facefusion.providers import ProviderName, SessionFactory, SessionInfo
from gpu_worker.engines.registry import ModelRegistry
from gpu_worker.engines.selection import select_tracks, selection_notes, summary

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class FaceFusionConfig:
    detector: str = "yoloface_8n"
    landmarker: str = ""  # "2dfan4" or none (the detector's 5 points)
    embedder: str = "arcface_w600k_r50"
    swapper: str = "inswapper_128"
    enhancer: str = ""
    providers: tuple[ProviderName, ...] = ("tensorrt", "cuda", "cpu")
    batch: int = 8
    max_gap_s: float = 0.4
    smooth_window_s: float = 0.5
    shape_window_s: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> FaceFusionConfig:
        return cls(
            detector=settings.facefusion_detector,
            landmarker=settings.facefusion_landmarker,
            embedder=settings.facefusion_embedder,
            swapper=settings.facefusion_swapper,
            enhancer=settings.facefusion_enhancer,
            providers=settings.facefusion_providers,
            batch=settings.facefusion_batch,
        )

    def model_names(self) -> tuple[str, ...]:
        names = (self.detector, self.landmarker, self.embedder, self.swapper, self.enhancer)
        return tuple(n for n in names if n)


@dataclass(frozen=True)
class _Face:
    frame: int
    track: int
    points: F32
    matrix: NDArray[np.float64]
    crop: NDArray[np.uint8]


class FaceFusionEngine:
    name = "facefusion"

    def __init__(self, registry: ModelRegistry, config: FaceFusionConfig | None = None) -> None:
        self.config = cfg = config or FaceFusionConfig()
        paths = {n: registry.path(n) for n in cfg.model_names()}  # fetched + verified first
        factory = SessionFactory(cfg.providers, registry.cache_dir / "tensorrt-cache")
        self.models: tuple[ModelInfo, ...] = tuple(registry.spec(n).info() for n in paths)
        size = registry.spec(cfg.detector).input_size
        self.detector = Detector(factory.session(cfg.detector, paths[cfg.detector]), size)
        self.landmarker = (
            Landmarker(factory.session(cfg.landmarker, paths[cfg.landmarker]))
            if cfg.landmarker
            else None
        )
        self.embedder = Embedder(factory.session(cfg.embedder, paths[cfg.embedder]), cfg.batch)
        swapper_path = paths[cfg.swapper]
        self.swapper = Swapper(
            factory.session(cfg.swapper, swapper_path),
            cfg.swapper,
            registry.spec(cfg.swapper).input_size,
            cfg.batch,
            emap=read_emap(str(swapper_path)) if cfg.swapper.startswith("inswapper") else None,
        )
        self.enhancer = (
            Enhancer(
                factory.session(cfg.enhancer, paths[cfg.enhancer]),
                registry.spec(cfg.enhancer).input_size,
                cfg.batch,
            )
            if cfg.enhancer
            else None
        )
        self.sessions: tuple[SessionInfo, ...] = tuple(factory.built)
        self.device = factory.device  # from the sessions built, not the providers asked for
        self._swap_mask = geometry.box_mask(self.swapper.size)
        self._enhance_mask = geometry.box_mask(self.enhancer.size) if self.enhancer else None
        self._warm_up()

    def _warm_up(self) -> None:
        """One call per model before any job: CUDA allocates, TensorRT builds (or loads from
        its cache) its engines here rather than in the first clip."""
        blank = np.zeros((self.detector.size, self.detector.size, 3), np.uint8)
        self.detector.detect(blank)
        five = geometry.TEMPLATES["arcface_112_v2"] * 112
        embedding = self.embedder.embed([blank], [five])[0]
        crop = np.zeros((self.swapper.size, self.swapper.size, 3), np.uint8)
        self.swapper.swap([crop], self.swapper.source_vector(embedding))
        if self.landmarker is not None:
            self.landmarker.landmarks(blank, (0.0, 0.0, 100.0, 100.0))
        if self.enhancer is not None:
            self.enhancer.enhance([np.zeros((self.enhancer.size,) * 2 + (3,), np.uint8)])

    def close(self) -> None:
        return None  # onnxruntime frees sessions with the objects

    # --- faces ---------------------------------------------------------------------------------

    def faces_in(self, frame: Frame) -> list[F32]:
        """Landmarks (5 or 68 points, as (N, 3) with z = 0) of every face in ``frame``."""
        found = []
        for det in self.detector.detect(frame):
            points = det.five
            if self.landmarker is not None:
                points, _score = self.landmarker.landmarks(frame, det.box)
            found.append(np.hstack([points, np.zeros((len(points), 1), np.float32)]))
        return found

    def source_identity(self, photo: Frame) -> tuple[F32, int]:
        faces = self.faces_in(photo)
        if not faces:
            raise NoFaceInSource(
                "No face found in the photo. Send a clear, front-facing photo of one face."
            )
        largest = max(faces, key=lambda p: _area(box(p)))
        embedding = self.embedder.embed([photo], [geometry.five_points(largest)])[0]
        return embedding, len(faces)

    def identity(self, embedding: F32, output: SwapOutput, samples: int = 4) -> float | None:
        """Mean cosine similarity between the source identity and the swapped faces of a few
        evenly spread output frames (the quality gate); None when nothing was swapped."""
        picked = [i for i, per in enumerate(output.faces) if any(f.swapped for f in per)]
        if not picked:
            return None
        step = max(1, len(picked) // samples)
        frames: list[Frame] = []
        fives: list[F32] = []
        for i in picked[::step][:samples]:
            for face in output.faces[i]:
                if face.swapped:
                    frames.append(output.frames[i])
                    fives.append(geometry.five_points(face.landmarks))
        found = self.embedder.embed(frames, fives)
        return float(np.mean([float(e @ embedding) for e in found]))

    # --- clip ----------------------------------------------------------------------------------

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
        embedding, photo_faces = self.source_identity(source)
        vector = self.swapper.source_vector(embedding)
        n = len(frames)
        detections = []
        for i, frame in enumerate(frames):
            detections.append(self.faces_in(frame))
            if on_progress is not None:
                on_progress(i + 1, 2 * n)
        frame_ms = float(np.median(durations_ms)) if durations_ms else 80.0
        frame_ms = frame_ms if frame_ms > 0 else 80.0
        cfg = self.config
        max_gap = max(1, round(cfg.max_gap_s * 1000 / frame_ms))
        tracks = build_tracks(detections, max_gap)
        if not tracks:
            raise NoFaceInTarget("No face found in any frame of the GIF/video.")
        chosen = select_tracks(tracks, faces)
        for tr in chosen:
            smooth_track(
                tr,
                max_gap,
                _window(cfg.smooth_window_s, frame_ms),
                _window(cfg.shape_window_s, frame_ms),
            )
        out: list[Frame] = []
        per_frame: list[list[FrameFace]] = []
        for start in range(0, n, cfg.batch):
            chunk = range(start, min(n, start + cfg.batch))
            done, info = self._swap_chunk(frames, chunk, chosen, vector)
            for i in chunk:
                out.append(done[i])
                per_frame.append(info[i])
                if on_frame is not None:
                    on_frame(i, done[i])
                if on_progress is not None:
                    on_progress(n + i + 1, 2 * n)
        return SwapOutput(
            frames=out,
            faces=per_frame,
            tracks=[summary(tr, tr in chosen) for tr in tracks],
            source_faces_found=photo_faces,
            notes=selection_notes(photo_faces, tracks, chosen, faces),
        )

    def _swap_chunk(
        self, frames: Sequence[Frame], chunk: range, chosen: list[FaceTrack], vector: F32
    ) -> tuple[dict[int, Frame], dict[int, list[FrameFace]]]:
        """Swap every chosen face of the frames in ``chunk``: one batched model call per step."""
        size = self.swapper.size
        template = self.swapper.kind.template
        todo: list[_Face] = []
        for i in chunk:
            for tr in chosen:
                pts = tr.smoothed.get(i)
                if pts is None:
                    continue
                matrix = geometry.estimate(geometry.five_points(pts), template, size)
                crop = geometry.warp_crop(frames[i], matrix, size)
                todo.append(_Face(i, tr.number, pts, matrix, crop))
        done = {i: frames[i] for i in chunk}
        info: dict[int, list[FrameFace]] = {i: [] for i in chunk}
        swapped = self.swapper.swap([f.crop for f in todo], vector) if todo else []
        for face, crop in zip(todo, swapped, strict=True):
            done[face.frame] = geometry.paste_back(
                done[face.frame], crop, self._swap_mask, face.matrix
            )
        if self.enhancer is not None and todo:
            self._enhance(done, todo)
        tracks = {tr.number: tr for tr in chosen}
        for face in todo:
            x0, y0, x1, y1 = geometry.crop_box(face.matrix, size)
            info[face.frame].append(
                FrameFace(
                    track=face.track,
                    box=(int(x0), int(y0), int(x1), int(y1)),
                    landmarks=face.points[:, :2].copy(),
                    swapped=True,
                    interpolated=face.frame in tracks[face.track].interpolated,
                )
            )
        return done, info

    def _enhance(self, done: dict[int, Frame], todo: list[_Face]) -> None:
        assert self.enhancer is not None and self._enhance_mask is not None
        size = self.enhancer.size
        matrices = [
            geometry.estimate(geometry.five_points(f.points), "ffhq_512", size) for f in todo
        ]
        crops = [
            geometry.warp_crop(done[f.frame], m, size) for f, m in zip(todo, matrices, strict=True)
        ]
        for face, matrix, crop in zip(todo, matrices, self.enhancer.enhance(crops), strict=True):
            done[face.frame] = geometry.paste_back(
                done[face.frame], crop, self._enhance_mask, matrix
            )


def _window(seconds: float, frame_ms: float) -> int:
    return max(5, 2 * round(seconds * 1000 / frame_ms / 2) + 1)


def _area(b: tuple[float, float, float, float]) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])
