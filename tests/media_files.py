"""Real media files for tests, written on the spot: Pillow-made images and animations,
hand-built hostile GIF/PNG bytes, and a check that an error message is fit for a user."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

U8 = NDArray[np.uint8]


def gradient(width: int, height: int, phase: int = 0) -> U8:
    """A smooth RGB gradient (no face, no flat areas); ``phase`` shifts it."""
    x = np.linspace(0, 255, width)[None, :]
    y = np.linspace(0, 255, height)[:, None]
    r = (x + phase) % 256 + 0 * y
    g = (y + 2 * phase) % 256 + 0 * x
    b = (x + y) / 2 + 0 * x
    return np.dstack([r, g, b]).astype(np.uint8)


def distinct_frames(count: int, width: int = 64, height: int = 48) -> list[U8]:
    """``count`` frames that all differ (a moving gradient)."""
    return [gradient(width, height, phase=17 * i) for i in range(count)]


def write_pillow_gif(
    path: Path,
    frames: Sequence[U8],
    durations_ms: Sequence[int],
    loop: int | None = 0,
) -> Path:
    """An animated GIF written by Pillow (frames must differ: Pillow merges equal ones)."""
    images = [Image.fromarray(f).quantize(256, method=Image.Quantize.FASTOCTREE) for f in frames]
    options: dict[str, object] = {
        "save_all": True,
        "append_images": images[1:],
        "duration": list(durations_ms),
        "disposal": 1,
        "optimize": False,
    }
    if loop is not None:  # no NETSCAPE block at all: the GIF plays once
        options["loop"] = loop
    images[0].save(path, format="GIF", **options)
    return path


def write_transparent_gif(path: Path, durations_ms: Sequence[int]) -> Path:
    """A GIF whose frames are a coloured block moving over a fully transparent background."""
    palette = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (768 - 12)
    images = []
    for i in range(len(durations_ms)):
        index = np.zeros((30, 50), np.uint8)
        index[5:25, 5 + 5 * i : 20 + 5 * i] = 1 + i % 3
        im = Image.fromarray(index, "P")
        im.putpalette(palette)
        images.append(im)
    images[0].save(
        path,
        save_all=True,
        append_images=images[1:],
        transparency=0,
        duration=list(durations_ms),
        loop=0,
        disposal=2,
    )
    return path


def crafted_gif(
    screen: tuple[int, int],
    frame_box: tuple[int, int, int, int] = (0, 0, 1, 1),
    frames: int = 1,
) -> bytes:
    """A hand-built GIF: a ``screen`` logical screen and ``frames`` one-pixel LZW frames placed
    at ``frame_box`` (x, y, w, h). A few dozen bytes can declare a 64-megapixel picture."""
    width, height = screen
    out = bytearray(b"GIF89a")
    out += struct.pack("<HHBBB", width, height, 0x80, 0, 0)  # global table of 2 colours
    out += b"\x00\x00\x00\xff\xff\xff"
    fx, fy, fw, fh = frame_box
    frame = (
        b"\x21\xf9\x04\x00\x0a\x00\x00\x00"  # graphic control: 10 cs delay
        + b"\x2c"
        + struct.pack("<HHHHB", fx, fy, fw, fh, 0)
        + b"\x02\x02\x44\x01\x00"  # LZW min code size 2, one sub-block, terminator
    )
    out += frame * frames
    out += b";"
    return bytes(out)


def png_declaring(width: int, height: int) -> bytes:
    """A valid-looking PNG whose IHDR declares ``width`` x ``height`` with almost no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


_CLASS_NAME = re.compile(r"\b(?:[A-Z][a-z0-9]+){2,}\b|\w+(?:Error|Exception|Warning)\b|Errno")


def assert_user_message(message: str) -> None:
    """One line of plain language: a capitalised sentence ending in a full stop, without a
    traceback, exception class names or errno numbers."""
    assert message, "empty message"
    assert "\n" not in message, f"more than one line: {message!r}"
    assert "Traceback" not in message, message
    assert message[0].isupper() and message.endswith("."), f"not a sentence: {message!r}"
    found = _CLASS_NAME.findall(message)
    assert not found, f"{found} in user message {message!r}"


def damaged_at(path: Path, frame: int) -> Path:
    """``path`` (a GIF) with frame ``frame``'s LZW code size made impossible: its blocks still
    walk (the probe passes), the decoder fails there."""
    data = bytearray(path.read_bytes())
    pos, count = 13, 0
    if data[10] & 0x80:
        pos += 3 * (2 << (data[10] & 7))
    while data[pos] != 0x3B:
        if data[pos] == 0x21:
            pos += 2
        else:
            packed, pos = data[pos + 9], pos + 10
            if packed & 0x80:
                pos += 3 * (2 << (packed & 7))
            if count == frame:
                data[pos] = 15
            pos, count = pos + 1, count + 1
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    out = path.with_name(f"damaged-{path.name}")
    out.write_bytes(bytes(data))
    return out
