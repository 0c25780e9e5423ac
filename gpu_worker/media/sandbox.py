"""The worker's decode of untrusted inputs, in a limited child process (``core.sandbox``): the
face photo and the clip are decoded together in one child (one process start per job), and
come back as arrays; the inputs' bytes never leave it, and only frames we re-encode go out."""

from __future__ import annotations

from pathlib import Path

from core.config import DecodeSandbox, MediaLimits
from core.sandbox import run_limited
from gpu_worker.media.clip import Clip, Frame
from gpu_worker.media.decode import load_clip, load_face_photo

PRELOAD = ("gpu_worker.media.decode",)


def decode_pair(target: Path, source: Path, limits: MediaLimits) -> tuple[Frame, Clip]:
    """(face photo as RGB, clip) decoded in this process: only for files the operator chose
    (``swapzy swap``), never for uploads. Raises ``InputError``."""
    return load_face_photo(source, limits), load_clip(target, limits)


def load_inputs(
    target: Path, source: Path, limits: MediaLimits, box: DecodeSandbox
) -> tuple[Frame, Clip]:
    """(face photo as RGB, clip) decoded under ``box``'s limits. Raises ``InputError``."""
    return run_limited(
        decode_pair, target, source, limits, box=box, what="GIF/video", preload=PRELOAD
    )


def load_target(path: Path, limits: MediaLimits, box: DecodeSandbox) -> Clip:
    """Only the clip, decoded under ``box``'s limits (the fuzz run and the bench use it)."""
    return run_limited(load_clip, path, limits, box=box, what="GIF/video", preload=PRELOAD)
