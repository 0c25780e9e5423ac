"""mediapipe's model files, run on LiteRT (TFLite's runtime, ``ai-edge-litert``)."""

from __future__ import annotations

import os
import sys
from typing import Any

from gpu_worker.engines.classic.landmarks import light_mediapipe_import, quiet_native_stderr


def mediapipe_model(*parts: str) -> str:
    """The path of a model file inside the installed mediapipe wheel
    (e.g. ``"face_landmark", "face_landmark.tflite"`` under ``mediapipe/modules``)."""
    light_mediapipe_import()
    root = next(iter(sys.modules["mediapipe"].__path__))
    return os.path.join(root, "modules", *parts)


def interpreter(path: str) -> Any:
    """A LiteRT interpreter for ``path``, one thread, tensors allocated. It lets go of the
    GIL while it runs; one user at a time."""
    from ai_edge_litert.interpreter import Interpreter

    with quiet_native_stderr():
        model = Interpreter(model_path=path, num_threads=1)
        model.allocate_tensors()
    return model


def outputs(model: Any) -> dict[str, int]:
    """Output tensor indices by name."""
    return {d["name"]: d["index"] for d in model.get_output_details()}
