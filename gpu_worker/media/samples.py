"""Built-in sample media from public-domain images that our dependencies ship, so the demo and
the tests need no downloads and no ``../shared``:

- the target: an animated clip made from NASA's portrait of astronaut Eileen Collins
  (``skimage.data.astronaut``, public domain), moved by a synthetic hand-held camera;
- the face: Grace Hopper's official US Navy portrait (matplotlib's ``grace_hopper.jpg``,
  public domain).
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from gpu_worker.media.clip import Clip, Frame
from gpu_worker.media.encode import save_clip


def sample_face() -> Frame:
    """Grace Hopper's portrait as RGB (600×512)."""
    import matplotlib.cbook

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def astronaut() -> Frame:
    import skimage.data

    image = skimage.data.astronaut()  # type: ignore[no-untyped-call]
    return np.ascontiguousarray(image, dtype=np.uint8)


def sample_clip(frames: int = 24, size: tuple[int, int] = (320, 240)) -> Clip:
    """A looping clip of the astronaut with a slow zoom, pan and roll; durations vary (GIF-like)."""
    base = astronaut()
    w, h = size
    out: list[Frame] = []
    for i in range(frames):
        t = i / max(1, frames - 1)
        phase = math.sin(2 * math.pi * t)
        zoom = 1.45 + 0.15 * phase
        angle = 4.0 * phase
        cx, cy = 225 + 20 * phase, 150 + 10 * math.cos(2 * math.pi * t)
        m = cv2.getRotationMatrix2D((cx, cy), angle, zoom * w / 512 * 1.2)
        m[0, 2] += w / 2 - cx
        m[1, 2] += h / 2 - cy
        moved = cv2.warpAffine(
            base, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        out.append(np.asarray(moved, dtype=np.uint8))
    durations = [80.0 if i % 6 else 120.0 for i in range(frames)]
    return Clip(frames=out, durations_ms=durations, loop=0, source_kind="gif")


def write_sample_files(folder: Path) -> tuple[Path, Path]:
    """Write ``sample.gif`` and ``sample-face.jpg`` into ``folder``; returns (target, source)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "sample.gif"
    source = folder / "sample-face.jpg"
    save_clip(sample_clip(), target)
    Image.fromarray(sample_face()).save(source, quality=92)
    return target, source
