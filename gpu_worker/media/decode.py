"""Decoding, always after ``core.media`` has probed the file and checked the limits."""

from __future__ import annotations

import contextlib
import itertools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, ImageSequence

from core.config import MediaLimits
from core.errors import CorruptMedia, InputError, TooManyFrames, TooManyPixels
from core.media import VIDEO_KINDS, MediaInfo, MediaKind, failure_reason, probe_source, probe_target
from gpu_worker.media.clip import Alpha, Clip, Frame
from gpu_worker.media.gif_palette import own_colours

FACE_PHOTO_MAX_SIDE = 2048  # plenty for a face texture; JPEGs decode straight at this scale
_ORIENTATION = 0x0112  # the EXIF tag


def load_clip(path: Path, limits: MediaLimits) -> Clip:
    """Probe, then decode the clip to swap into. Raises ``InputError`` for bad input."""
    info = probe_target(path, limits)
    with decode_errors():
        if info.kind in VIDEO_KINDS:
            return _decode_video(path, info, limits)
        frames = ClipFrames(info.kind)
        read_image(path, limits, frames)
        return frames.clip()


@contextlib.contextmanager
def decode_errors() -> Iterator[None]:
    """Decoding a clip: a decompression bomb is too many pixels, any other decoder failure is
    damaged input (``InputError`` as is), each with a sentence for the user."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooManyPixels("The GIF/video is far too large to open safely.") from None
    except Exception as exc:  # any decoder failure is damaged input
        raise CorruptMedia(
            f"The GIF/video is damaged and cannot be decoded ({failure_reason(exc)})."
        ) from None


def _too_many(limits: MediaLimits) -> TooManyFrames:
    return TooManyFrames(
        f"The GIF/video has more than {limits.max_frames} frames; trim it and try again."
    )


def _too_big(limits: MediaLimits) -> TooManyPixels:
    return TooManyPixels(
        "The GIF/video is too big to process: its frames hold more than "
        f"{limits.max_total_pixels / 1e6:.0f} Mpx in all (the limit); "
        "use a shorter or smaller clip."
    )


@dataclass(frozen=True)
class Decoded:
    """One frame of an animation as the decoder gives it."""

    rgb: Frame
    alpha: Alpha
    palette: NDArray[np.uint8] | None  # its visible pixels' colours, where at most 256
    duration_ms: float


class DecodeSink(Protocol):
    """Where ``read_image`` puts an animation: its loop count first, then frame by frame."""

    def begin(self, loop: int | None) -> None: ...

    def add(self, frame: Decoded) -> None: ...


def read_image(path: Path, limits: MediaLimits, sink: DecodeSink) -> None:
    """Decode an animation (GIF, WebP, APNG) or still image frame by frame into ``sink``,
    within ``limits`` (inside ``decode_errors``)."""
    total = 0
    with Image.open(path) as im:
        loop = im.info.get("loop")
        sink.begin(None if loop is None else int(loop))
        for count, frame in enumerate(ImageSequence.Iterator(im)):
            if count >= limits.max_frames:
                raise _too_many(limits)
            if frame.size[0] * frame.size[1] > limits.max_frame_pixels:
                raise TooManyPixels("A frame of the GIF is larger than the pixel limit.")
            total += frame.size[0] * frame.size[1]
            if total > limits.max_total_pixels:
                raise _too_big(limits)
            rgba = np.asarray(frame.convert("RGBA"))
            # OpenCV splits the planes 14x faster than numpy's strided copies (0.04 against
            # 0.6 ms a 320-px frame: they were a third of a GIF's decode).
            rgb = np.asarray(cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB), dtype=np.uint8)
            alpha = np.asarray(cv2.extractChannel(rgba, 3), dtype=np.uint8)
            duration = float(frame.info.get("duration", 0) or 0)
            sink.add(Decoded(rgb, alpha, _colours(rgb, alpha), duration))


class ClipFrames:
    """A ``DecodeSink`` that keeps the frames; ``clip()`` is the clip they make."""

    def __init__(self, kind: MediaKind) -> None:
        self.kind = kind
        self.loop: int | None = None
        self.frames: list[Frame] = []
        self.durations_ms: list[float] = []
        self._alphas: list[Alpha] = []
        self._palettes: list[NDArray[np.uint8] | None] = []

    def begin(self, loop: int | None) -> None:
        # WebP's "play once" is a GIF without a loop count
        self.loop = None if self.kind is MediaKind.WEBP and loop == 1 else loop

    def add(self, frame: Decoded) -> None:
        self.frames.append(frame.rgb)
        self._alphas.append(frame.alpha)
        self._palettes.append(frame.palette)
        self.durations_ms.append(frame.duration_ms)

    def clip(self) -> Clip:
        if not self.frames:
            raise CorruptMedia("The GIF/video has no frames.")
        has_alpha = any(int(a.min()) < 255 for a in self._alphas)
        return Clip(
            frames=self.frames,
            durations_ms=self.durations_ms,
            loop=self.loop,
            alpha=self._alphas if has_alpha else None,
            palettes=self._palettes,
            source_kind=self.kind.value,
        )


def _colours(rgb: Frame, alpha: Alpha) -> NDArray[np.uint8] | None:
    """The distinct colours (K, 3) of the frame's visible pixels when there are at most 256,
    else None. See-through pixels decode with their palette entry's colour, which no visible
    pixel may have: counted, it would make a sticker's 255 colours 256, one too many beside
    the transparent index (gif_palette.py)."""
    see_through = alpha < 128
    return own_colours(rgb, ~see_through if see_through.any() else None, 256)


def _decode_video(path: Path, info: MediaInfo, limits: MediaLimits) -> Clip:
    import av

    total = 0
    frames: list[Frame] = []
    starts: list[float] = []
    last_duration = 0.0
    with av.open(str(path), mode="r", metadata_errors="ignore") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base) if stream.time_base is not None else 1 / 90000
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        for frame in container.decode(stream):
            if len(frames) >= limits.max_frames:
                raise _too_many(limits)
            total += int(frame.width) * int(frame.height)
            if total > limits.max_total_pixels:
                raise _too_big(limits)
            frames.append(np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8))
            pts = frame.pts if frame.pts is not None else len(starts) * (1 / rate) / tb
            starts.append(float(pts) * tb * 1000.0)
            last_duration = float(frame.duration or 0) * tb * 1000.0
    if not frames:
        raise CorruptMedia("The video has no frames that can be decoded.")
    order = np.argsort(starts, kind="stable")
    frames = [frames[i] for i in order]
    starts = [starts[i] for i in order]
    durations = [b - a for a, b in itertools.pairwise(starts)]
    default = durations[-1] if durations else 1000.0 / rate
    durations.append(last_duration if last_duration > 0 else default)
    durations = [round(d, 3) for d in durations]
    return Clip(frames=frames, durations_ms=durations, loop=0, source_kind=info.kind.value)


def face_photo_size(width: int, height: int) -> tuple[int, int]:
    """The face photo's size once scaled down to ``FACE_PHOTO_MAX_SIDE`` on its long side
    (as ``Image.thumbnail`` rounds it); a smaller photo keeps its own."""
    k = FACE_PHOTO_MAX_SIDE / max(width, height)
    if k >= 1:
        return width, height
    return max(1, round(width * k)), max(1, round(height * k))


def load_face_photo(path: Path, limits: MediaLimits) -> Frame:
    """The face photo as RGB, EXIF orientation applied, at most ``FACE_PHOTO_MAX_SIDE`` a side."""
    probe_source(path, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.format == "JPEG":  # decoded at 1/2, 1/4 or 1/8 scale where still large
                    im.draft("RGB", face_photo_size(*im.size))
                im.seek(0)
                # exif_transpose copies even an unturned photo (0.1 s for a 20 Mpx one)
                turned = im.getexif().get(_ORIENTATION, 1) not in (None, 1)
                upright = ImageOps.exif_transpose(im) if turned else im
                rgb = upright.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooManyPixels("The face photo is far too large to open safely.") from None
    except Exception as exc:  # any decoder failure is damaged input
        raise CorruptMedia(
            f"The face photo is damaged and cannot be decoded ({failure_reason(exc)})."
        ) from None
    if max(rgb.size) > FACE_PHOTO_MAX_SIDE:
        rgb.thumbnail((FACE_PHOTO_MAX_SIDE, FACE_PHOTO_MAX_SIDE), Image.Resampling.LANCZOS)
    return np.ascontiguousarray(np.asarray(rgb))
