"""What a share page needs from one finished clip: an MP4 (for ``og:video`` and the player), a
GIF (the download most people want) and a JPEG thumbnail (``og:image``).

The worker writes one format per job; the others are made here once, on the first view, with
Pillow and PyAV (no worker code), then stored next to the output.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageSequence

TIME_BASE = Fraction(1, 1000)
MIN_FRAME_MS = 20
THUMB_MAX_SIDE = 640


@dataclass(frozen=True)
class Renditions:
    mp4: bytes
    gif: bytes | None  # None: the output already is a GIF
    thumbnail: bytes  # JPEG
    width: int
    height: int


Frames = list[tuple[NDArray[np.uint8], int]]  # RGB frame, duration in ms


def _even(frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
    h, w = frame.shape[:2]
    return frame[: h - h % 2, : w - w % 2]


def _decode_pillow(data: bytes) -> Frames:
    frames: Frames = []
    with Image.open(io.BytesIO(data)) as image:
        for frame in ImageSequence.Iterator(image):
            ms = int(frame.info.get("duration", 100) or 100)
            frames.append((np.asarray(frame.convert("RGB")), max(MIN_FRAME_MS, ms)))
    return frames


def _decode_video(data: bytes) -> Frames:
    import av

    frames: Frames = []
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base or Fraction(1, 90000))
        decoded = [
            (f.to_ndarray(format="rgb24"), f.pts or 0, f.duration) for f in container.decode(stream)
        ]
    for i, (rgb, pts, duration) in enumerate(decoded):
        if i + 1 < len(decoded):
            ms = round((decoded[i + 1][1] - pts) * tb * 1000)
        else:
            ms = round((duration or 0) * tb * 1000) or 100
        frames.append((np.asarray(rgb, dtype=np.uint8), max(MIN_FRAME_MS, int(ms))))
    return frames


def encode_mp4(frames: Frames) -> bytes:
    """H.264 in MP4, 4:2:0 (what every browser and chat app plays), faststart, exact timing."""
    import av

    first = _even(frames[0][0])
    height, width = first.shape[:2]
    with tempfile.TemporaryDirectory(prefix="swapzy-share-") as tmp:
        path = Path(tmp) / "clip.mp4"
        with av.open(str(path), mode="w", options={"movflags": "+faststart"}) as container:
            total_ms = max(1, sum(ms for _, ms in frames))
            rate = Fraction(len(frames) * 1000, total_ms).limit_denominator(1000)
            stream: Any = container.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.time_base = TIME_BASE
            stream.codec_context.time_base = TIME_BASE
            stream.options = {"crf": "20", "preset": "veryfast", "bf": "0"}
            pts = 0
            for rgb, ms in frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(_even(rgb)), format="rgb24")
                frame.pts, frame.time_base, frame.duration = pts, TIME_BASE, ms
                pts += ms
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        return path.read_bytes()


def encode_gif(frames: Frames) -> bytes:
    images = [
        Image.fromarray(rgb).quantize(colors=256, method=Image.Quantize.FASTOCTREE)
        for rgb, _ in frames
    ]
    out = io.BytesIO()
    images[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=[ms for _, ms in frames],
        loop=0,
    )
    return out.getvalue()


def thumbnail(frame: NDArray[np.uint8]) -> bytes:
    image = Image.fromarray(frame)
    image.thumbnail((THUMB_MAX_SIDE, THUMB_MAX_SIDE))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def make_renditions(output: bytes, output_format: str) -> Renditions:
    """MP4 + GIF (unless the output is one) + thumbnail from the worker's output bytes."""
    frames = _decode_video(output) if output_format == "mp4" else _decode_pillow(output)
    if not frames:
        raise ValueError("the clip has no frames")
    mp4 = output if output_format == "mp4" else encode_mp4(frames)
    gif = None if output_format == "gif" else encode_gif(frames)
    height, width = _even(frames[0][0]).shape[:2]
    return Renditions(mp4, gif, thumbnail(frames[0][0]), width, height)
