"""Tiny ONNX stand-ins for FaceFusion's models, built with ``onnx.helper``: the real models' input
and output names, layouts and sizes, with a few operators inside instead of the trained network.

- ``yoloface_8n``: (1, 3, 640, 640) -> (1, 20, 8400). It really finds bright squares: the score of
  each stride-32 anchor is the mean brightness of the 128-px window around it, its box is that
  window and its 5 points sit at the ArcFace template inside it.
- ``2dfan4``: (1, 3, 256, 256) -> (1, 68, 3) points on a 64 grid + (1, 68, 64, 64) heatmaps.
- ``arcface_w600k_r50``: (N, 3, 112, 112) -> (N, 512): average-pool to 8x8, then a fixed
  random projection (so the identity depends on the face's pixels).
- ``inswapper_128``: ``target`` (1, 3, 128, 128) + ``source`` (1, 512) -> (1, 3, 128, 128), with
  the 512x512 ``emap`` as the graph's last initializer; the face keeps 40% of the target and
  takes a tint computed from the source.
- ``hyperswap_1a_256``: the same at 256 in [-1, 1], with a dynamic batch.
- ``gfpgan_1.4``: (1, 3, 512, 512) -> the same, 0.9x (values in [-1, 1]).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from gpu_worker.engines.facefusion.geometry import TEMPLATES
from gpu_worker.engines.registry import MODELS, ModelSpec

F32 = NDArray[np.float32]
OPSET = 17
FACE_PX = 88  # the stand-in detector finds bright squares of this side (at 640 px)
Dim = int | str


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _io(name: str, shape: Sequence[Dim]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def _const(name: str, value: NDArray[np.generic]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def yoloface(path: Path, size: int = 640) -> Path:
    cells = size // 8  # the stride-8 anchors come first, as in YOLOv8's output
    anchors = cells**2 + (size // 16) ** 2 + (size // 32) ** 2
    boxes = np.zeros((1, 4, anchors), np.float32)
    points = np.zeros((1, 15, anchors), np.float32)
    template = TEMPLATES["arcface_128_v2"]
    j, i = np.mgrid[0:cells, 0:cells]
    cx, cy = (8 * i + 4).reshape(-1), (8 * j + 4).reshape(-1)
    boxes[0, 0, : cells**2], boxes[0, 1, : cells**2] = cx, cy
    boxes[0, 2:4, : cells**2] = FACE_PX
    for p in range(5):
        points[0, 3 * p, : cells**2] = cx - FACE_PX / 2 + template[p, 0] * FACE_PX
        points[0, 3 * p + 1, : cells**2] = cy - FACE_PX / 2 + template[p, 1] * FACE_PX
        points[0, 3 * p + 2, : cells**2] = 1.0
    half = FACE_PX // 16  # 11 cells of 8 px: an 88-px window centred on each anchor
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["grey"], axes=[1], keepdims=1),
        helper.make_node("AveragePool", ["grey"], ["cell"], kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node(
            "AveragePool",
            ["cell"],
            ["window"],
            kernel_shape=[2 * half + 1, 2 * half + 1],
            pads=[half, half, half, half],
            count_include_pad=1,
        ),
        helper.make_node("Reshape", ["window", "flat_shape"], ["fine"]),
        helper.make_node("Concat", ["fine", "zeros"], ["score"], axis=2),
        helper.make_node("Concat", ["boxes", "score", "points"], ["output"], axis=1),
    ]
    inits = [
        _const("flat_shape", np.array([1, 1, cells**2], np.int64)),
        _const("zeros", np.zeros((1, 1, anchors - cells**2), np.float32)),
        _const("boxes", boxes),
        _const("points", points),
    ]
    graph = helper.make_graph(
        nodes,
        "yoloface_standin",
        [_io("input", [1, 3, size, size])],
        [_io("output", [1, 20, anchors])],
        inits,
    )
    return _save(graph, path)


def mean_face_68() -> F32:
    """68 iBUG points on 2dfan4's 64 grid for a frontal face filling its 195/256 crop."""
    pts = np.zeros((68, 2), np.float32)
    angles = np.linspace(np.pi * 0.95, np.pi * 0.05, 17)
    pts[0:17] = np.stack([32 - 22 * np.cos(angles), 30 + 24 * np.sin(angles)], axis=1)
    pts[17:27] = np.stack([np.linspace(16, 48, 10), np.full(10, 22.0)], axis=1)
    pts[27:31] = np.stack([np.full(4, 32.0), np.linspace(27, 39, 4)], axis=1)
    pts[31:36] = np.stack([np.linspace(28, 36, 5), np.full(5, 41.0)], axis=1)
    for start, cx in ((36, 24.0), (42, 40.0)):
        a = np.linspace(0, 2 * np.pi, 6, endpoint=False)
        pts[start : start + 6] = np.stack([cx + 4 * np.cos(a), 28 + 1.5 * np.sin(a)], axis=1)
    a = np.linspace(np.pi, -np.pi, 20, endpoint=False)
    pts[48:68] = np.stack([32 + 7 * np.cos(a), 48 + 3 * np.sin(a)], axis=1)
    return pts


def fan68(path: Path) -> Path:
    points = np.hstack([mean_face_68(), np.ones((68, 1), np.float32)])[None]
    heat = np.zeros((1, 68, 64, 64), np.float32)
    heat[0, :, 32, 32] = 0.9
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["level"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["level", "zero"], ["nothing"]),
        helper.make_node("Add", ["points", "nothing"], ["landmarks_xyscore"]),
        helper.make_node("Add", ["heat", "nothing"], ["heatmaps"]),
    ]
    graph = helper.make_graph(
        nodes,
        "fan68_standin",
        [_io("input", [1, 3, 256, 256])],
        [_io("landmarks_xyscore", [1, 68, 3]), _io("heatmaps", [1, 68, 64, 64])],
        [
            _const("zero", np.zeros((1,), np.float32)),
            _const("points", points),
            _const("heat", heat),
        ],
    )
    return _save(graph, path)


def arcface(path: Path, seed: int = 7) -> Path:
    projection = np.random.default_rng(seed).normal(size=(192, 512)).astype(np.float32)
    nodes = [
        helper.make_node(
            "AveragePool", ["input"], ["pooled"], kernel_shape=[14, 14], strides=[14, 14]
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "projection"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "arcface_standin",
        [_io("input", ["N", 3, 112, 112])],
        [_io("output", ["N", 512])],
        [_const("projection", projection)],
    )
    return _save(graph, path)


def swapper(path: Path, size: int, *, signed: bool, batch: Dim, seed: int = 11) -> Path:
    """inswapper (``signed`` False: values in [0, 1], emap last) or hyperswap ([-1, 1])."""
    rng = np.random.default_rng(seed)
    tint = (rng.normal(size=(512, 3)) * 0.2).astype(np.float32)
    base, amp = (0.0, 0.5) if signed else (0.3, 0.3)
    nodes = [
        helper.make_node("MatMul", ["source", "tint"], ["mix"]),
        helper.make_node("Tanh", ["mix"], ["bounded"]),
        helper.make_node("Reshape", ["bounded", "as_image"], ["colour"]),
        helper.make_node("Mul", ["colour", "amp"], ["shift"]),
        helper.make_node("Mul", ["target", "keep"], ["kept"]),
        helper.make_node("Add", ["kept", "shift"], ["partial"]),
        helper.make_node("Add", ["partial", "base"], ["output"]),
    ]
    inits = [
        _const("tint", tint),
        _const("as_image", np.array([-1, 3, 1, 1], np.int64)),
        _const("amp", np.array(amp, np.float32)),
        _const("keep", np.array(0.4, np.float32)),
        _const("base", np.array(base, np.float32)),
    ]
    if not signed:
        inits.append(_const("emap", rng.normal(size=(512, 512)).astype(np.float32) / 22.6))
    graph = helper.make_graph(
        nodes,
        "swapper_standin",
        [_io("target", [batch, 3, size, size]), _io("source", [batch, 512])],
        [_io("output", [batch, 3, size, size])],
        inits,
    )
    return _save(graph, path)


def gfpgan(path: Path, size: int = 512) -> Path:
    nodes = [helper.make_node("Mul", ["input", "gain"], ["output"])]
    graph = helper.make_graph(
        nodes,
        "gfpgan_standin",
        [_io("input", [1, 3, size, size])],
        [_io("output", [1, 3, size, size])],
        [_const("gain", np.array(0.9, np.float32))],
    )
    return _save(graph, path)


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "yoloface_8n": yoloface,
    "2dfan4": fan68,
    "arcface_w600k_r50": arcface,
    "inswapper_128": lambda p: swapper(p, 128, signed=False, batch=1),
    "hyperswap_1a_256": lambda p: swapper(p, 256, signed=True, batch="N"),
    "gfpgan_1.4": gfpgan,
}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_cache(folder: Path, names: Sequence[str] = tuple(BUILDERS)) -> tuple[ModelSpec, ...]:
    """Write the stand-ins into a model cache and return registry specs pinned to their
    sha256 (the real specs' names, roles, URLs and licences; only the hash differs)."""
    real = {s.name: s for s in MODELS}
    specs = []
    for name in names:
        path = BUILDERS[name](folder / real[name].file)
        spec = real[name]
        specs.append(
            ModelSpec(
                name=spec.name,
                role=spec.role,
                file=spec.file,
                url=spec.url,
                input_size=spec.input_size,
                licence=spec.licence,
                commercial_use=spec.commercial_use,
                size=path.stat().st_size,
                sha256=sha256_of(path),
            )
        )
    return tuple(specs)


def build_pinned_cache(folder: Path, names: Sequence[str] = tuple(BUILDERS)) -> None:
    """Stand-ins under the real registry's names, each with the ``<file>.sha256`` pin that
    ``swapzy models fetch`` leaves: a worker process then loads them as it loads real models."""
    for spec in build_cache(folder, names):
        (folder / f"{spec.file}.sha256").write_text(f"{spec.sha256}\n")
