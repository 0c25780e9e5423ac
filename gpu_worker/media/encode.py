"""Encoding: the output's extension picks the format; size, frame count, per-frame durations
and loop count are kept exactly (GIF delays in centiseconds, cumulative rounding so a clip
never drifts).

GIFs are assembled here block by block, one local palette per frame, because Pillow's writer
merges identical consecutive frames (changing the frame count). Animated WebPs are assembled
chunk by chunk for the same reason: libwebp's animation encoder (used by Pillow and FFmpeg)
folds a frame that matches the previous one (within its lossy tolerance) into the previous
frame's duration.
"""

from __future__ import annotations

import io
import queue
import struct
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from core.errors import UnsupportedOutput
from gpu_worker.media.clip import Clip
from gpu_worker.media.gif_palette import (
    ColourLookup,
    gif_palette_indices,
    shared_palette,
    transparent,
)

OUTPUT_FORMATS = (".gif", ".mp4", ".webp")
VIDEO_TIME_BASE = Fraction(1, 90000)
STILL_FRAME_MS = 100.0  # a still image written as a clip shows for this long

Progress = Callable[[int, int], None]
U8 = NDArray[np.uint8]


def check_output_path(path: Path) -> str:
    """The output format for ``path`` or ``UnsupportedOutput``."""
    ext = path.suffix.lower()
    if ext not in OUTPUT_FORMATS:
        raise UnsupportedOutput(
            f"Cannot write {path.name!r}: the output must end in .gif, .mp4 or .webp."
        )
    return ext


def save_clip(clip: Clip, path: Path, on_progress: Progress | None = None) -> None:
    """Write ``clip`` to ``path`` atomically (a temporary file renamed into place)."""
    ext = check_output_path(path)
    data = encode_clip(clip, ext, on_progress)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(data)
    tmp.replace(path)


def encode_clip(clip: Clip, ext: str, on_progress: Progress | None = None) -> bytes:
    if ext == ".gif":
        return encode_gif(clip, on_progress)
    if ext == ".mp4":
        return encode_mp4(clip, on_progress)
    if ext == ".webp":
        return encode_webp(clip, on_progress)
    raise UnsupportedOutput(f"Unknown output format {ext!r}.")


def _cumulative_round(durations_ms: list[float], unit_ms: float) -> list[int]:
    """Durations in whole ``unit_ms`` units whose running sum tracks the exact running sum."""
    out: list[int] = []
    exact = 0.0
    done = 0
    for d in durations_ms:
        exact += d
        end = round(exact / unit_ms)
        out.append(max(0, end - done))
        done += out[-1]
    return out


# --- GIF ------------------------------------------------------------------------------------


def encode_gif(clip: Clip, on_progress: Progress | None = None) -> bytes:
    """The clip as a GIF: each frame's palette and indices are worked out on a thread of
    their own while the frame before is compressed (a two-stage pipeline: both stages let go
    of the GIL for most of their work, so they overlap with each other and with the engine)."""
    width, height = clip.size
    out = io.BytesIO()
    out.write(b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0))
    if clip.loop is not None and len(clip) > 1:
        out.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", clip.loop) + b"\x00")
    delays = _cumulative_round(clip.durations_ms, 10.0)
    coded: queue.SimpleQueue[tuple[U8, U8] | None] = queue.SimpleQueue()
    with (
        ThreadPoolExecutor(1, thread_name_prefix="swapzy-palette") as palettes,
        tempfile.TemporaryFile(prefix="swapzy-gif-") as scratch,
    ):
        coding = palettes.submit(_code_frames, clip, coded)
        for i in range(len(clip)):
            item = coded.get()
            if item is None:  # the palette stage failed: its exception is raised below
                break
            # Pillow compresses into a real file with the GIL let go (into memory it holds
            # it, and the engine's threads beside the encoder waited: 0.5 ms a frame).
            alpha = clip.alpha[i] if clip.alpha is not None else None
            out.write(_gif_frame(item, alpha, delays[i], scratch))
            if on_progress is not None:
                on_progress(i + 1, len(clip))
        coding.result()
    out.write(b";")
    return out.getvalue()


def _code_frames(clip: Clip, coded: queue.SimpleQueue[tuple[U8, U8] | None]) -> None:
    """Each frame's (palette, indices) into ``coded``, in order; None after the last one or
    when this fails."""
    lookup = ColourLookup()
    previous: tuple[U8, U8 | None, tuple[U8, U8]] | None = None
    try:
        shared = shared_palette(clip)
        own = clip.palettes or [None] * len(clip)
        for i, frame in enumerate(clip.frames):
            alpha = clip.alpha[i] if clip.alpha is not None else None
            hint = shared if shared is not None else own[i]
            # A frame that repeats the one before (a held picture) is written with the same
            # palette and indices, so it decodes to the same pixels, not a re-quantised copy.
            if previous is not None and _same(previous[0], frame) and _same(previous[1], alpha):
                item = previous[2]
            else:
                see_through = transparent(alpha)
                visible = alpha >= 128 if see_through and alpha is not None else None
                item = gif_palette_indices(
                    frame, hint, 255 if see_through else 256, lookup, visible
                )
            previous = (frame, alpha, item)
            coded.put(item)
    finally:
        coded.put(None)


def _same(a: U8 | None, b: U8 | None) -> bool:
    return a is b or (a is not None and b is not None and np.array_equal(a, b))


def _gif_frame(coded: tuple[U8, U8], alpha: U8 | None, delay_cs: int, scratch: BinaryIO) -> bytes:
    """GCE + image descriptor with a local palette + LZW data for one frame (Pillow writes
    a one-frame GIF into ``scratch``, a real file)."""
    palette, indices = coded
    see_through = transparent(alpha)
    if see_through:
        assert alpha is not None
        indices = indices.copy()
        indices[alpha < 128] = 255
    pal_img = Image.fromarray(indices, "P")
    pal_img.putpalette(palette.tobytes() + bytes(768 - palette.size))
    scratch.seek(0)
    scratch.truncate()
    pal_img.save(scratch, format="GIF", optimize=False, interlace=False)
    scratch.seek(0)
    gct, body = _split_single_gif(scratch.read())
    # Disposal 1 (leave) for opaque frames; 2 (restore background) so transparency shows through.
    packed = (2 << 2 | 1) if see_through else (1 << 2)
    gce = b"\x21\xf9\x04" + struct.pack("<BHB", packed, delay_cs, 255 if see_through else 0)
    gce += b"\x00"
    # Image descriptor: move the global table into a local one.
    desc = bytearray(body[:10])
    size_bits = (len(gct) // 3).bit_length() - 2
    desc[9] = (desc[9] & 0x40) | 0x80 | (size_bits & 7)  # keep the interlace bit
    return gce + bytes(desc) + gct + body[10:]


def _split_single_gif(data: bytes) -> tuple[bytes, bytes]:
    """(global colour table, image descriptor + data) of a one-frame GIF written by Pillow."""
    flags = data[10]
    pos = 13
    gct = b""
    if flags & 0x80:
        n = 3 * (2 << (flags & 7))
        gct = data[pos : pos + n]
        pos += n
    while data[pos] == 0x21:  # skip extensions Pillow may write
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    if data[pos] != 0x2C:
        raise RuntimeError("unexpected GIF layout from Pillow")
    end = data.rindex(b";")
    return gct, data[pos:end]


# --- WebP -----------------------------------------------------------------------------------


def encode_webp(clip: Clip, on_progress: Progress | None = None) -> bytes:
    """An animated WebP with exactly one ANMF frame per clip frame (a still for one frame).

    Each frame is a full-canvas key frame encoded by Pillow; it replaces the canvas (no
    blending), so transparency shows as it was. A clip without a loop count (plays once) gets
    WebP loop count 1, which WebP players read as "play once".
    """
    images = [_webp_image(clip, i) for i in range(len(clip))]
    if len(images) == 1:
        buf = io.BytesIO()
        images[0].save(buf, format="WEBP", quality=WEBP_QUALITY, method=4)
        if on_progress is not None:
            on_progress(1, 1)
        return buf.getvalue()
    width, height = clip.size
    durations = _cumulative_round(clip.durations_ms, 1.0)
    loop = 1 if clip.loop is None else clip.loop
    has_alpha = clip.alpha is not None
    flags = 0x02 | (0x10 if has_alpha else 0)  # animation, alpha
    canvas = _u24(width - 1) + _u24(height - 1)
    body = [
        _riff_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + canvas),
        _riff_chunk(b"ANIM", b"\x00\x00\x00\x00" + struct.pack("<H", min(loop, 0xFFFF))),
    ]
    for i, image in enumerate(images):
        buf = io.BytesIO()
        image.save(buf, format="WEBP", quality=WEBP_QUALITY, method=4)
        # offset (0, 0), full canvas, duration in ms, flags 0b10: no blending, no disposal
        header = _u24(0) + _u24(0) + canvas + _u24(min(durations[i], 0xFFFFFF)) + b"\x02"
        body.append(_riff_chunk(b"ANMF", header + _webp_bitstream(buf.getvalue())))
        if on_progress is not None:
            on_progress(i + 1, len(clip))
    payload = b"WEBP" + b"".join(body)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


WEBP_QUALITY = 90


def _webp_image(clip: Clip, i: int) -> Image.Image:
    if clip.alpha is not None:
        return Image.fromarray(np.dstack([clip.frames[i], clip.alpha[i]]), "RGBA")
    return Image.fromarray(clip.frames[i], "RGB")


def _u24(n: int) -> bytes:
    return struct.pack("<I", n)[:3]


def _riff_chunk(fourcc: bytes, data: bytes) -> bytes:
    pad = b"\x00" if len(data) % 2 else b""
    return fourcc + struct.pack("<I", len(data)) + data + pad


def _webp_bitstream(still: bytes) -> bytes:
    """The ALPH/VP8/VP8L chunks of a still WebP written by Pillow (what an ANMF frame holds)."""
    out = []
    pos = 12
    while pos + 8 <= len(still):
        fourcc = still[pos : pos + 4]
        (size,) = struct.unpack_from("<I", still, pos + 4)
        chunk = still[pos : pos + 8 + size + (size & 1)]
        if fourcc in (b"ALPH", b"VP8 ", b"VP8L"):
            out.append(chunk)
        pos += 8 + size + (size & 1)
    if not out:
        raise RuntimeError("unexpected WebP layout from Pillow")
    return b"".join(out)


# --- MP4 (H.264) ----------------------------------------------------------------------------


def encode_mp4(clip: Clip, on_progress: Progress | None = None) -> bytes:
    durations = list(clip.durations_ms)
    if sum(durations) <= 0:
        durations = [STILL_FRAME_MS] * len(durations)
    ticks = _cumulative_round(durations, 1000.0 / VIDEO_TIME_BASE.denominator)
    ticks = [max(1, t) for t in ticks]
    with tempfile.TemporaryDirectory(prefix="swapzy-mp4-") as tmp:
        target = Path(tmp) / "out.mp4"
        _write_mp4(clip, target, durations, ticks, on_progress)
        return target.read_bytes()


def _write_mp4(
    clip: Clip, target: Path, durations: list[float], ticks: list[int], on_progress: Progress | None
) -> None:
    import av

    width, height = clip.size
    even = width % 2 == 0 and height % 2 == 0
    with av.open(str(target), mode="w", options={"movflags": "+faststart"}) as container:
        mean_fps = Fraction(len(durations) * 1000, max(1, round(sum(durations)))).limit_denominator(
            1000
        )
        stream = container.add_stream("libx264", rate=mean_fps)
        stream.width = width
        stream.height = height
        # 4:2:0 is what every player plays; it needs even sides, so odd sizes keep 4:4:4.
        stream.pix_fmt = "yuv420p" if even else "yuv444p"
        stream.time_base = VIDEO_TIME_BASE
        stream.codec_context.time_base = VIDEO_TIME_BASE
        # No B-frames: packets then come in display order, so each MP4 sample's duration is its
        # frame's own and the last frame keeps its duration (with B-frames the muxer derives
        # durations from reordered decode timestamps and the clip's end moves).
        stream.options = {"crf": "18", "preset": "veryfast", "tune": "animation", "bf": "0"}
        duration_at: dict[int, int] = {}

        def mux(packets: list[av.Packet[Any]]) -> None:
            for packet in packets:
                if packet.pts is not None and packet.pts in duration_at:
                    packet.duration = duration_at[packet.pts]
                container.mux(packet)

        pts = 0
        for i, frame in enumerate(clip.frames):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = pts
            vf.time_base = VIDEO_TIME_BASE
            vf.duration = ticks[i]
            duration_at[pts] = ticks[i]
            pts += ticks[i]
            mux(stream.encode(vf))
            if on_progress is not None:
                on_progress(i + 1, len(clip))
        mux(stream.encode(None))
