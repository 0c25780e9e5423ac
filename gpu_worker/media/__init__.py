"""Decode targets and face photos into frames, and encode frames back, keeping timing exact.

The names below are loaded on first use: the encoder's child process imports only what
encoding needs (``encoder_process.py``), not the decoders' settings and probes (~0.2 s of
imports it would pay at every start).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gpu_worker.media.clip import Clip
    from gpu_worker.media.decode import load_clip, load_face_photo
    from gpu_worker.media.encode import OUTPUT_FORMATS, save_clip

__all__ = ["OUTPUT_FORMATS", "Clip", "load_clip", "load_face_photo", "save_clip"]

_HOME = {
    "Clip": "gpu_worker.media.clip",
    "load_clip": "gpu_worker.media.decode",
    "load_face_photo": "gpu_worker.media.decode",
    "OUTPUT_FORMATS": "gpu_worker.media.encode",
    "save_clip": "gpu_worker.media.encode",
}


def __getattr__(name: str) -> object:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
