"""Malformed media for the intake fuzz (``tests/core/test_media_fuzz.py``, ``make bench-fuzz``):
small valid seeds of every format we take (GIF, PNG, JPEG, MP4), and a Hypothesis strategy that
breaks them the ways hostile or damaged files are broken: flipped and overwritten bytes, huge
values written over size fields, cut-off files, inserted junk, repeated chunks.

``intake`` runs what production runs on an upload: the submit-time probe of both files and the
worker's decode, each in the limited child process (``core.sandbox``).
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from hypothesis import strategies as st
from PIL import Image

from core.config import DecodeSandbox, MediaLimits
from core.errors import InputError
from core.sandbox import probe_inputs
from gpu_worker.media.clip import Clip
from gpu_worker.media.encode import encode_clip
from gpu_worker.media.sandbox import load_inputs
from tests.media_files import distinct_frames

KINDS = ("gif", "png", "jpeg", "mp4")
LIMITS = MediaLimits(max_file_bytes=2 * 1024 * 1024)
BOX = DecodeSandbox(memory_mb=1024, cpu_s=5, timeout_s=10)


@cache
def seeds() -> dict[str, bytes]:
    """One small valid file per kind (made here, deterministic)."""
    frames = distinct_frames(5, 48, 32)
    clip = Clip(frames=frames, durations_ms=[80.0] * 5, loop=0)
    out: dict[str, bytes] = {"gif": encode_clip(clip, ".gif"), "mp4": encode_clip(clip, ".mp4")}
    for kind, fmt in (("png", "PNG"), ("jpeg", "JPEG")):
        buf = io.BytesIO()
        Image.fromarray(frames[0]).save(buf, format=fmt)
        out[kind] = buf.getvalue()
    return out


@cache
def good_face() -> bytes:
    return seeds()["jpeg"]


@st.composite
def broken(draw: st.DrawFn) -> tuple[str, bytes]:
    """(kind, bytes): a seed with one to four breakages."""
    kind = draw(st.sampled_from(KINDS))
    data = bytearray(seeds()[kind])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("flip", "overwrite", "huge", "cut", "insert", "repeat")))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "overwrite":
            junk = draw(st.binary(min_size=1, max_size=16))
            data[at : at + len(junk)] = junk
        elif op == "huge":  # a size or count field set to its largest value
            width = draw(st.sampled_from((2, 4)))
            data[at : at + width] = b"\xff" * width
        elif op == "cut":
            del data[max(at, 8) :]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            end = min(len(data), at + draw(st.integers(1, 256)))
            data[at:at] = data[at:end] * draw(st.integers(1, 8))
    return kind, bytes(data)


@dataclass(frozen=True)
class Outcome:
    kind: str
    seconds: float
    error: InputError | None  # None: the file decoded (the breakage was harmless)


def intake(folder: Path, kind: str, data: bytes, *, as_face: bool = False) -> Outcome:
    """Probe then decode ``data`` as the clip (or, ``as_face``, as the face photo)."""
    bad = folder / f"input.{kind}"
    bad.write_bytes(data)
    good = folder / "good-face.jpg"
    if not good.exists():
        good.write_bytes(good_face())
    good_clip = folder / "good-clip.gif"
    if not good_clip.exists():
        good_clip.write_bytes(seeds()["gif"])
    target, source = (good_clip, bad) if as_face else (bad, good)
    started = time.monotonic()
    try:
        probe_inputs(target, source, LIMITS, BOX)
        load_inputs(target, source, LIMITS, BOX)
    except InputError as exc:
        return Outcome(kind, time.monotonic() - started, exc)
    return Outcome(kind, time.monotonic() - started, None)
