"""The ``facefusion`` pipeline's own cost around the models, per frame, on stand-in models with
the real models' input sizes (640 detector, 112 ArcFace, 128 inswapper / 256 hyperswap, 512
GFPGAN). The stand-ins do almost no arithmetic, so what is left is what the pipeline adds:
letterboxing, normalisation, decoding and NMS, alignment, paste-back, tracking, copies.

    .venv/bin/python -m bench.engine_overhead --json bench/results/engine_overhead.json

Each step is timed in full and its ``session.run`` alone (best of ``--repeats``: the least
disturbed run on a shared machine); overhead = full - model.
Provider set-up (session build) is timed per model. Run it on a GPU worker with
onnxruntime-gpu to get the same figures with the CUDA/TensorRT providers.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gpu_worker.engines.facefusion import geometry
from gpu_worker.engines.facefusion.engine import FaceFusionConfig, FaceFusionEngine
from gpu_worker.engines.facefusion.providers import ProviderName
from gpu_worker.engines.registry import ModelRegistry
from tests.gpu_worker.onnx_standins import FACE_PX, build_cache


def best_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (first-run allocations, TensorRT engine build)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)  # the least disturbed run: the machine is shared


def frame_of(width: int, height: int, x: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    frame = np.full((height, width, 3), 30, np.uint8)
    side = FACE_PX * max(width, height) // 640
    frame[height // 3 : height // 3 + side, x : x + side] = 220
    return frame


def measure(engine: FaceFusionEngine, width: int, height: int, repeats: int) -> dict[str, float]:
    frame = frame_of(width, height, width // 3)
    det = engine.detector
    tensor = np.zeros((1, 3, det.size, det.size), np.float32)
    detect_full = best_ms(lambda: det.detect(frame), repeats)
    detect_model = best_ms(lambda: det.session.run(None, {det.input: tensor}), repeats)
    five = det.detect(frame)[0].five
    sw = engine.swapper
    matrix = geometry.estimate(five, sw.kind.template, sw.size)
    crop = geometry.warp_crop(frame, matrix, sw.size)
    align = best_ms(
        lambda: geometry.warp_crop(
            frame, geometry.estimate(five, sw.kind.template, sw.size), sw.size
        ),
        repeats,
    )
    vector = np.zeros(512, np.float32)
    swap_full = best_ms(lambda: sw.swap([crop], vector), repeats)
    feed = {"target": np.zeros((1, 3, sw.size, sw.size), np.float32), "source": vector[None]}
    swap_model = best_ms(lambda: sw.session.run(None, feed), repeats)
    swapped = sw.swap([crop], vector)[0]
    mask = geometry.box_mask(sw.size)
    paste = best_ms(lambda: geometry.paste_back(frame, swapped, mask, matrix), repeats)
    clip = [frame_of(width, height, width // 3 + 3 * i) for i in range(16)]
    photo = frame_of(640, 640, 200)
    whole = best_ms(lambda: engine.swap(photo, clip), max(3, repeats // 5)) / len(clip)
    source = best_ms(lambda: engine.source_identity(photo), repeats)
    return {
        "detect_overhead_ms": detect_full - detect_model,
        "detect_model_ms": detect_model,
        "align_ms": align,
        "swap_overhead_ms": swap_full - swap_model,
        "swap_model_ms": swap_model,
        "paste_back_ms": paste,
        "engine_per_frame_ms": whole,
        "source_identity_once_ms": source,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--providers", default="tensorrt,cuda,cpu")
    args = parser.parse_args()
    wanted = args.providers.split(",")
    choices: tuple[ProviderName, ...] = ("tensorrt", "cuda", "cpu")
    providers = tuple(p for p in choices if p in wanted)
    results: dict[str, Any] = {"providers_wanted": providers, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        registry = ModelRegistry(folder, build_cache(folder), offline=True)
        for swapper in ("inswapper_128", "hyperswap_1a_256"):
            config = FaceFusionConfig(swapper=swapper, providers=providers)
            start = time.perf_counter()
            engine = FaceFusionEngine(registry, config)
            warm_s = time.perf_counter() - start
            for width, height in ((640, 480), (1280, 720)):
                row: dict[str, Any] = dict(measure(engine, width, height, args.repeats))
                row.update(swapper=swapper, size=f"{width}x{height}", warm_start_s=warm_s)
                row["providers"] = ",".join(engine.sessions[0].providers)
                row["session_build_ms"] = {
                    s.model: round(s.build_s * 1000, 1) for s in engine.sessions
                }
                results["runs"].append(row)
                print(
                    json.dumps(
                        {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}
                    )
                )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
