"""onnxruntime execution providers, in order TensorRT (engines cached on disk), CUDA, CPU, keeping
only those this onnxruntime build offers. Sessions are built once per worker."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ProviderName = Literal["tensorrt", "cuda", "cpu"]
ORT_NAMES: dict[str, str] = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
ProviderEntry = tuple[str, dict[str, Any]]


def provider_list(
    wanted: Sequence[ProviderName], available: Sequence[str], trt_cache: Path
) -> list[ProviderEntry]:
    """The providers to ask for, best first, with their options. CPU always ends the list."""
    out: list[ProviderEntry] = []
    for name in wanted:
        ort_name = ORT_NAMES[name]
        if ort_name not in available or any(e[0] == ort_name for e in out):
            continue
        if name == "tensorrt":
            options: dict[str, Any] = {
                "trt_engine_cache_enable": True,
                "trt_engine_cache_path": str(trt_cache),
                "trt_timing_cache_enable": True,
                "trt_timing_cache_path": str(trt_cache),
                "trt_fp16_enable": True,
            }
        elif name == "cuda":
            options = {"cudnn_conv_algo_search": "HEURISTIC"}
        else:
            options = {}
        out.append((ort_name, options))
    if not any(e[0] == ORT_NAMES["cpu"] for e in out):
        out.append((ORT_NAMES["cpu"], {}))
    return out


@dataclass(frozen=True)
class SessionInfo:
    model: str
    providers: tuple[str, ...]  # what the session really runs on, best first
    build_s: float


class SessionFactory:
    """Builds onnxruntime sessions with the chosen providers (one instance per engine)."""

    def __init__(self, wanted: Sequence[ProviderName], trt_cache: Path, threads: int = 0) -> None:
        import onnxruntime as ort

        self._ort = ort
        self.available = tuple(ort.get_available_providers())
        if "TensorrtExecutionProvider" in self.available:
            trt_cache.mkdir(parents=True, exist_ok=True)
        self.providers = provider_list(wanted, self.available, trt_cache)
        self.threads = threads
        self.built: list[SessionInfo] = []

    def session(self, name: str, path: Path) -> Any:
        options = self._ort.SessionOptions()
        options.log_severity_level = 3
        if self.threads:
            options.intra_op_num_threads = self.threads
        start = time.perf_counter()
        session = self._ort.InferenceSession(
            str(path),
            sess_options=options,
            providers=[p[0] for p in self.providers],
            provider_options=[p[1] for p in self.providers],
        )
        took = time.perf_counter() - start
        self.built.append(SessionInfo(name, tuple(session.get_providers()), took))
        return session

    @property
    def device(self) -> str:
        """What the sessions really run on: onnxruntime-gpu lists CUDA even on a machine
        without a GPU, then builds CPU sessions (with an error log)."""
        firsts = {info.providers[0] for info in self.built if info.providers}
        if ORT_NAMES["tensorrt"] in firsts:
            return "tensorrt"
        return "cuda" if ORT_NAMES["cuda"] in firsts else "cpu"
