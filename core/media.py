"""Media probing: what a file really is (magic bytes, never the extension) and whether it is
within the limits, decided before anything is decoded in full.

``probe_target`` accepts animations (GIF, WebP, APNG, MP4/MOV, WebM) and still images;
``probe_source`` accepts face photos (JPEG, PNG, WebP). Both raise ``core.errors.InputError``
subclasses with a message fit for a user.
"""

from __future__ import annotations

import re
import struct
import warnings
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PIL import Image

from core.config import MediaLimits
from core.errors import (
    CorruptMedia,
    FileTooLarge,
    InputMissing,
    TooManyFrames,
    TooManyPixels,
    UnsupportedMedia,
)


class MediaKind(StrEnum):
    GIF = "gif"
    PNG = "png"
    JPEG = "jpeg"
    WEBP = "webp"
    MP4 = "mp4"
    WEBM = "webm"


IMAGE_KINDS = frozenset({MediaKind.GIF, MediaKind.PNG, MediaKind.JPEG, MediaKind.WEBP})
VIDEO_KINDS = frozenset({MediaKind.MP4, MediaKind.WEBM})
SOURCE_KINDS = frozenset({MediaKind.JPEG, MediaKind.PNG, MediaKind.WEBP})


@dataclass(frozen=True)
class MediaInfo:
    kind: MediaKind
    width: int
    height: int
    frames: int
    size_bytes: int

    @property
    def animated(self) -> bool:
        return self.frames > 1


def sniff(head: bytes) -> MediaKind | None:
    """The media kind from a file's first 16 bytes, or None when it is nothing we accept."""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return MediaKind.GIF
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return MediaKind.PNG
    if head[:3] == b"\xff\xd8\xff":
        return MediaKind.JPEG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaKind.WEBP
    if head[4:8] == b"ftyp":
        return MediaKind.MP4
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return MediaKind.WEBM
    return None


def describe_bytes(head: bytes) -> str:
    """A short human name for what a refused file seems to be."""
    known = {
        b"%PDF": "a PDF document",
        b"PK\x03\x04": "a ZIP archive",
        b"ID3": "an MP3 file",
        b"OggS": "an Ogg file",
        b"BM": "a BMP image",
        b"II*\x00": "a TIFF image",
        b"MM\x00*": "a TIFF image",
    }
    for magic, name in known.items():
        if head.startswith(magic):
            return name
    if not head:
        return "an empty file"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "a text file"
    return "a file of unknown type"


def _read_head(path: Path, limits: MediaLimits, what: str) -> tuple[bytes, int]:
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InputMissing(f"The {what} {path} is not a file.")
        with path.open("rb") as fh:
            head = fh.read(16)
    except (FileNotFoundError, NotADirectoryError):
        raise InputMissing(f"The {what} {path} does not exist.") from None
    except PermissionError:
        raise InputMissing(f"The {what} {path} cannot be read (permission denied).") from None
    except IsADirectoryError:
        raise InputMissing(f"The {what} {path} is a folder, not a file.") from None
    except OSError as exc:
        raise InputMissing(f"The {what} {path} cannot be read ({failure_reason(exc)}).") from None
    if size > limits.max_file_bytes:
        raise FileTooLarge(
            f"The {what} is {_size(size)}; the limit is {_size(limits.max_file_bytes)}."
        )
    return head, size


def _size(n: int) -> str:
    """A file size for people: bytes, KB or MB (1024-based, like file managers)."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} bytes"


def _check_pixels(width: int, height: int, limits: MediaLimits, what: str) -> None:
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"The {what} declares an empty picture ({width}×{height}).")
    if width * height > limits.max_frame_pixels:
        raise TooManyPixels(
            f"The {what} is {width}×{height} pixels ({width * height / 1e6:.0f} Mpx per frame); "
            f"the limit is {limits.max_frame_pixels / 1e6:.0f} Mpx."
        )


def _check_frames(frames: int, limits: MediaLimits, what: str, *, exact: bool = True) -> None:
    """``exact=False``: ``frames`` is a count that stopped at ``max_frames + 1`` (GIF scan)."""
    if frames > limits.max_frames:
        count = f"{frames}" if exact else f"more than {limits.max_frames}"
        raise TooManyFrames(
            f"The {what} has {count} frames (the limit is {limits.max_frames}); "
            "trim it and try again."
        )


def _check_total(width: int, height: int, frames: int, limits: MediaLimits, what: str) -> None:
    total = width * height * frames
    if total > limits.max_total_pixels:
        raise TooManyPixels(
            f"The {what} is too big to process: {frames} frames of {width}×{height} pixels "
            f"({total / 1e6:.0f} Mpx in all; the limit is {limits.max_total_pixels / 1e6:.0f} Mpx)."
        )


def scan_gif(data: bytes, max_frames: int) -> tuple[int, int, int]:
    """(width, height, frames) of a GIF by walking its blocks, without decoding any pixels.

    Stops counting at ``max_frames + 1``. Raises ``CorruptMedia`` on a malformed stream.
    """
    bad = CorruptMedia("The animation is damaged: its GIF data ends or breaks early.")
    if len(data) < 13:
        raise bad
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    pos = 13
    if flags & 0x80:
        pos += 3 * (2 << (flags & 7))
    frames = 0
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then data sub-blocks
            pos = _skip_sub_blocks(data, pos + 2, bad)
        elif block == 0x2C:  # image descriptor
            if pos + 10 > len(data):
                raise bad
            fx, fy, fw, fh, fflags = struct.unpack_from("<HHHHB", data, pos + 1)
            width, height = max(width, fx + fw), max(height, fy + fh)  # Pillow grows the canvas
            pos += 10
            if fflags & 0x80:
                pos += 3 * (2 << (fflags & 7))
            pos = _skip_sub_blocks(data, pos + 1, bad)  # +1: LZW minimum code size
            frames += 1
            if frames > max_frames:
                break
        else:
            if frames:  # junk after the last frame: browsers show what came before
                break
            raise bad
    if frames == 0:
        raise bad
    return width, height, frames


def _skip_sub_blocks(data: bytes, pos: int, bad: CorruptMedia) -> int:
    while True:
        if pos >= len(data):
            raise bad
        n = data[pos]
        pos += 1
        if n == 0:
            return pos
        pos += n


def _probe_image(
    path: Path, kind: MediaKind, limits: MediaLimits, what: str
) -> tuple[int, int, int]:
    if kind is MediaKind.GIF:
        data = path.read_bytes()
        width, height, frames = scan_gif(data, limits.max_frames)
        _check_pixels(width, height, limits, what)
        return width, height, frames
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                _check_pixels(width, height, limits, what)
                frames = int(getattr(im, "n_frames", 1))
    except (TooManyPixels, CorruptMedia):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooManyPixels(f"The {what} is far too large to open safely.") from None
    except Exception as exc:  # any decoder failure is damaged input
        raise CorruptMedia(
            f"The {what} is damaged and cannot be opened ({failure_reason(exc)})."
        ) from None
    return width, height, frames


def _probe_video(path: Path, limits: MediaLimits, what: str) -> tuple[int, int, int]:
    import av  # PyAV: only loaded when a video is probed

    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            streams = container.streams.video
            if not streams:
                raise UnsupportedMedia(f"The {what} has no video track.")
            stream = streams[0]
            width = int(stream.codec_context.width or 0)
            height = int(stream.codec_context.height or 0)
            _check_pixels(width, height, limits, what)
            frames = int(stream.frames or 0)
            if frames == 0:
                duration = (
                    float(stream.duration * stream.time_base)
                    if stream.duration is not None and stream.time_base is not None
                    else float(container.duration or 0) / 1_000_000
                )
                if duration > limits.max_duration_s:
                    raise TooManyFrames(
                        f"The {what} lasts {duration:.0f} s; the limit is "
                        f"{limits.max_duration_s:.0f} s."
                    )
                rate = float(stream.average_rate or stream.guessed_rate or 25)
                frames = max(1, round(duration * rate))
    except (UnsupportedMedia, TooManyPixels, TooManyFrames):
        raise
    except Exception as exc:  # any demuxer failure is damaged input
        raise CorruptMedia(
            f"The {what} is damaged and cannot be opened ({failure_reason(exc)})."
        ) from None
    return width, height, frames


_INTERNAL_ERRORS = (
    AttributeError, TypeError, KeyError, IndexError, NameError, ZeroDivisionError, AssertionError,
    RecursionError, UnboundLocalError,
)  # fmt: skip


def failure_reason(exc: BaseException) -> str:
    """A short reason fit for a user from a decoder's exception: its first line without errno
    numbers or quoted file paths, and never the exception's class name. A Python error inside
    a decoder (``'NoneType' object has no attribute ...``) says nothing to a user: no details."""
    if isinstance(exc, _INTERNAL_ERRORS):
        return "unreadable data"
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text)
    text = re.sub(r":?\s*'[^']*[/\\][^']*'", "", text)
    text = text.strip(" :.")[:120]
    return text or "unreadable data"


def probe_target(path: Path, limits: MediaLimits) -> MediaInfo:
    """Probe the clip to swap into (animation, video or still image)."""
    what = "GIF/video"
    head, size = _read_head(path, limits, what)
    kind = sniff(head)
    if kind is None:
        raise UnsupportedMedia(
            f"The {what} is {describe_bytes(head)}, not an animation or image "
            "(GIF, MP4, WebM, WebP, PNG or JPEG)."
        )
    if kind in VIDEO_KINDS:
        width, height, frames = _probe_video(path, limits, what)
    else:
        width, height, frames = _probe_image(path, kind, limits, what)
    _check_frames(frames, limits, what, exact=kind is not MediaKind.GIF)
    _check_total(width, height, frames, limits, what)
    return MediaInfo(kind=kind, width=width, height=height, frames=frames, size_bytes=size)


def probe_source(path: Path, limits: MediaLimits) -> MediaInfo:
    """Probe the face photo (JPEG, PNG or WebP)."""
    what = "face photo"
    head, size = _read_head(path, limits, what)
    kind = sniff(head)
    if kind not in SOURCE_KINDS:
        seems = describe_bytes(head) if kind is None else f"a {kind.value.upper()} file"
        raise UnsupportedMedia(f"The {what} must be a JPEG, PNG or WebP image; this is {seems}.")
    width, height, _ = _probe_image(path, kind, limits, what)
    return MediaInfo(kind=kind, width=width, height=height, frames=1, size_bytes=size)
