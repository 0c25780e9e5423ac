"""The ``facefusion`` engine run for real on onnxruntime (CPU here) with tiny stand-ins of
FaceFusion's models (same input/output names and shapes; see ``onnx_standins``): providers,
detection, alignment to the swapper's template, batching, paste-back with a soft mask, the
enhancer, the tracking and smoothing shared with ``classic``, and the errors a user sees.

The stand-in detector finds bright 88-px squares ("faces") on a dark frame; the stand-in
swapper keeps 40% of the face and tints it from the source identity, so a swapped face is a
visible change confined to the swapper's crop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from core.errors import FaceNotFound, NoFaceInSource, NoFaceInTarget
from gpu_worker.engines.facefusion import geometry
from gpu_worker.engines.facefusion.engine import FaceFusionConfig, FaceFusionEngine
from gpu_worker.engines.facefusion.models import batch_size
from gpu_worker.engines.facefusion.providers import provider_list
from gpu_worker.engines.registry import ModelMissing, ModelRegistry
from tests.gpu_worker.onnx_standins import FACE_PX, build_cache

U8 = NDArray[np.uint8]
DARK, BRIGHT = 30, 220


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    folder = tmp_path_factory.mktemp("models")
    return ModelRegistry(folder, build_cache(folder), offline=True)


@pytest.fixture(scope="module")
def engine(registry: ModelRegistry) -> Iterator[FaceFusionEngine]:
    built = FaceFusionEngine(registry, FaceFusionConfig(batch=4))
    yield built
    built.close()


def frame_with(
    *faces: tuple[int, int], side: int = FACE_PX, shape: tuple[int, int] = (480, 640)
) -> U8:
    frame = np.full((*shape, 3), DARK, np.uint8)
    for x, y in faces:
        frame[y : y + side, x : x + side] = BRIGHT
        frame[y + side // 3, x + side // 4 : x + 3 * side // 4] = 120  # some texture
    return frame


def photo(stripe: tuple[int, int, int] = (200, 90, 40)) -> U8:
    """A 320-px photo: the detector works at 640, so its face square is half as large."""
    img = np.full((320, 320, 3), DARK, np.uint8)
    side = FACE_PX // 2
    img[110 : 110 + side, 120 : 120 + side] = BRIGHT
    img[120:126, 124 : 120 + side - 4] = stripe
    return img


def clip(n: int = 10, step: int = 6) -> list[U8]:
    return [frame_with((200 + step * i, 150)) for i in range(n)]


def test_providers_are_tensorrt_cuda_cpu_in_order_with_an_engine_cache(tmp_path: Path) -> None:
    everything = ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"]
    chosen = provider_list(("tensorrt", "cuda", "cpu"), everything, tmp_path / "trt")
    assert [name for name, _ in chosen] == everything[::-1]
    assert chosen[0][1]["trt_engine_cache_enable"] is True
    assert chosen[0][1]["trt_engine_cache_path"] == str(tmp_path / "trt")
    cpu_only = provider_list(("tensorrt", "cuda", "cpu"), ["CPUExecutionProvider"], tmp_path)
    assert cpu_only == [("CPUExecutionProvider", {})]
    no_trt = provider_list(("cuda",), everything, tmp_path)
    assert [name for name, _ in no_trt] == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_warm_start_builds_every_session_once(engine: FaceFusionEngine) -> None:
    assert [s.model for s in engine.sessions] == [
        "yoloface_8n",
        "arcface_w600k_r50",
        "inswapper_128",
    ]
    assert all(s.providers == ("CPUExecutionProvider",) for s in engine.sessions)  # no GPU here
    assert engine.device == "cpu"
    assert [m.name for m in engine.models] == ["yoloface_8n", "arcface_w600k_r50", "inswapper_128"]
    assert not any(m.commercial_use for m in engine.models)


def test_swaps_the_face_and_nothing_else(engine: FaceFusionEngine) -> None:
    frames = clip()
    handed: list[tuple[int, U8]] = []
    progress: list[tuple[int, int]] = []

    out = engine.swap(
        photo(),
        frames,
        on_frame=lambda i, f: handed.append((i, f)),
        on_progress=lambda d, t: progress.append((d, t)),
        durations_ms=[80.0] * len(frames),
    )

    assert out.frames_swapped == len(frames)
    assert [t.number for t in out.tracks] == [1] and out.tracks[0].selected
    assert [i for i, _ in handed] == list(range(len(frames)))
    assert all(f is out.frames[i] for i, f in handed)  # the final frames, handed over in order
    assert progress[-1] == (2 * len(frames), 2 * len(frames))
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    for i, (before, after) in enumerate(zip(frames, out.frames, strict=True)):
        x = 200 + 6 * i
        face = np.abs(after[150 : 150 + FACE_PX, x : x + FACE_PX].astype(int) - BRIGHT).mean()
        assert face > 20, f"frame {i}: the face did not change ({face:.1f})"
        x0, y0, x1, y1 = out.faces[i][0].box
        outside = np.ones(before.shape[:2], bool)
        outside[max(0, y0 - 1) : y1 + 2, max(0, x0 - 1) : x1 + 2] = False
        assert np.array_equal(before[outside], after[outside]), f"frame {i}: changed off the face"
        assert x0 <= x + 10 and x1 >= x + FACE_PX - 10  # the reported box covers the face


def test_the_source_identity_decides_the_result(engine: FaceFusionEngine) -> None:
    frames = clip(4)
    a = engine.swap(photo(), frames)
    b = engine.swap(photo(stripe=(40, 90, 200)), frames)
    face = np.s_[150 : 150 + FACE_PX, 200 : 200 + FACE_PX]
    assert np.abs(a.frames[0][face].astype(int) - b.frames[0][face]).mean() > 2


def test_alignment_puts_the_five_points_on_the_swapper_template() -> None:
    five = np.array([[110, 120], [150, 118], [131, 140], [115, 162], [148, 160]], np.float32)
    matrix = geometry.estimate(five, "arcface_128_v2", 128)
    moved = five @ matrix[:, :2].T + matrix[:, 2]
    error = np.abs(moved - geometry.TEMPLATES["arcface_128_v2"] * 128).max()
    assert error < 3.0  # a similarity cannot fit 5 points exactly; a face is close


def test_paste_back_blends_a_soft_mask_inside_the_crop_only() -> None:
    frame = np.full((200, 200, 3), 10, np.uint8)
    crop = np.full((128, 128, 3), 250, np.uint8)
    matrix = np.array([[2.0, 0.0, -100.0], [0.0, 2.0, -100.0]])  # crop = frame[50:114, 50:114]
    out = geometry.paste_back(frame, crop, geometry.box_mask(128), matrix)
    assert tuple(out[82, 82]) == (250, 250, 250)  # the centre takes the swapped face
    assert 10 < out[55, 82, 0] < 250  # the edge fades between the two
    assert np.array_equal(out[:49], frame[:49]) and np.array_equal(out[:, 116:], frame[:, 116:])


def test_batches_as_the_model_allows_with_identical_results(registry: ModelRegistry) -> None:
    config = FaceFusionConfig(swapper="hyperswap_1a_256", batch=5)
    batched = FaceFusionEngine(registry, config)
    single = FaceFusionEngine(registry, FaceFusionConfig(swapper="hyperswap_1a_256", batch=1))
    assert batch_size(batched.swapper.session, 5) == 5  # dynamic batch: 5 crops per call
    assert batch_size(batched.embedder.session, 5) == 5
    assert batch_size(batched.detector.session, 5) == 1  # yoloface: fixed batch of 1
    frames = clip(7)
    a, b = batched.swap(photo(), frames), single.swap(photo(), frames)
    assert a.frames_swapped == 7
    for fa, fb in zip(a.frames, b.frames, strict=True):
        assert np.abs(fa.astype(int) - fb).max() <= 1


def test_landmarker_and_enhancer(registry: ModelRegistry) -> None:
    config = FaceFusionConfig(landmarker="2dfan4", enhancer="gfpgan_1.4", batch=3)
    full = FaceFusionEngine(registry, config)
    frames = clip(5)
    out = full.swap(photo(), frames)
    plain = FaceFusionEngine(registry, FaceFusionConfig(landmarker="2dfan4")).swap(photo(), frames)
    assert [s.model for s in full.sessions][-1] == "gfpgan_1.4"
    assert out.frames_swapped == 5
    assert out.faces[0][0].landmarks.shape == (68, 2)
    face = np.s_[150 : 150 + FACE_PX, 200 : 200 + FACE_PX]
    assert np.abs(out.frames[0][face].astype(int) - plain.frames[0][face]).mean() > 1  # enhanced


def test_tracking_and_smoothing_are_shared_with_classic(engine: FaceFusionEngine) -> None:
    rng = np.random.default_rng(3)
    jitter = rng.integers(-4, 5, size=(16, 2))
    frames = [frame_with((250 + dx, 170 + dy)) for dx, dy in jitter]
    out = engine.swap(photo(), frames, durations_ms=[40.0] * 16)
    raw = [engine.faces_in(f)[0][:, :2].mean(axis=0) for f in frames]
    smooth = [faces[0].landmarks.mean(axis=0) for faces in out.faces]
    raw_jitter = np.abs(np.diff(raw, axis=0)).mean()
    out_jitter = np.abs(np.diff(smooth, axis=0)).mean()
    assert out_jitter < 0.5 * raw_jitter


def test_faces_selection(engine: FaceFusionEngine) -> None:
    frames = [frame_with((100, 150), (400, 150)) for _ in range(5)]
    both = engine.swap(photo(), frames, faces="all")
    assert [len(f) for f in both.faces] == [2] * 5
    second = engine.swap(photo(), frames, faces=2)
    assert {f.track for per in second.faces for f in per} == {2}
    assert second.faces[0][0].box[0] > 300  # face 2 is the right-hand one
    with pytest.raises(FaceNotFound, match=r"The clip has 2 faces; there is no face number 3\."):
        engine.swap(photo(), frames, faces=3)
    largest = engine.swap(photo(), frames)
    assert "The clip has 2 faces" in largest.notes[0]


def test_no_face_errors(engine: FaceFusionEngine) -> None:
    blank = np.full((320, 320, 3), DARK, np.uint8)
    with pytest.raises(NoFaceInSource, match="No face found in the photo"):
        engine.swap(blank, clip(2))
    with pytest.raises(NoFaceInTarget, match="No face found in any frame"):
        engine.swap(photo(), [np.full((480, 640, 3), DARK, np.uint8)] * 3)


def test_warm_start_fails_naming_the_missing_model(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    specs = build_cache(folder, ["yoloface_8n", "arcface_w600k_r50"])  # no swapper
    from gpu_worker.engines.registry import MODELS

    registry = ModelRegistry(
        folder, (*specs, *[m for m in MODELS if m.name == "inswapper_128"]), offline=True
    )
    with pytest.raises(ModelMissing, match="`swapzy models fetch inswapper_128`"):
        FaceFusionEngine(registry)
