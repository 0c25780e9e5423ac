"""Face-swap engines. ``build_engine`` is the one place that knows them all."""

from __future__ import annotations

from core.config import Settings
from core.errors import SwapzyError
from gpu_worker.engines.base import Engine, FaceSelection, ModelInfo, SwapOutput

ENGINES = ("classic", "noop", "facefusion", "comfyui")


def build_engine(name: str, settings: Settings) -> Engine:
    """Build (and load the models of) the engine called ``name``."""
    if name == "classic":
        from gpu_worker.engines.classic.engine import ClassicEngine

        return ClassicEngine(max_faces=settings.max_faces_per_frame)
    if name == "noop":
        from gpu_worker.engines.noop import NoopEngine

        return NoopEngine(frame_delay_ms=settings.worker.noop_frame_delay_ms)
    if name == "facefusion":
        from gpu_worker.engines.facefusion.engine import FaceFusionConfig, FaceFusionEngine
        from gpu_worker.engines.registry import registry_from_settings

        return FaceFusionEngine(
            registry_from_settings(settings), FaceFusionConfig.from_settings(settings)
        )
    if name == "comfyui":
        from gpu_worker.engines.comfyui.engine import ComfyUIEngine

        return ComfyUIEngine.from_settings(settings)
    raise SwapzyError(f"Unknown engine {name!r}; available: {', '.join(ENGINES)}.")


__all__ = ["ENGINES", "Engine", "FaceSelection", "ModelInfo", "SwapOutput", "build_engine"]
