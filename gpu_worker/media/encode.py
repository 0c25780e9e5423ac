"""Encoding: the output's extension picks the format; size, frame count, per-frame durations
and loop count are kept exactly (GIF delays in centiseconds, cumulative rounding so a clip
never drifts).

GIFs are assembled here block by block, one local palette per frame, because Pillow's writer
merges identical consecutive frames (changing the frame count).
"""

from __future__ import annotations

import io
import struct
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import UnsupportedOutput
from gpu_worker.media.clip import Clip

OUTPUT_FORMATS = (".gif", ".mp4", ".webp")
VIDEO_TIME_BASE = Fraction(1, 90000)
STILL_FRAME_MS = 100.0  # a still image written as a clip shows for this long

Progress = Callable[[int, int], None]


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
    width, height = clip.size
    out = io.BytesIO()
    out.write(b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0))
    if clip.loop is not None and len(clip) > 1:
        out.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", clip.loop) + b"\x00")
    delays = _cumulative_round(clip.durations_ms, 10.0)
    for i, frame in enumerate(clip.frames):
        alpha = clip.alpha[i] if clip.alpha is not None else None
        hint = clip.palettes[i] if clip.palettes is not None else None
        out.write(_gif_frame(frame, alpha, delays[i], hint))
        if on_progress is not None:
            on_progress(i + 1, len(clip))
    out.write(b";")
    return out.getvalue()


def _gif_frame(
    frame: np.ndarray, alpha: np.ndarray | None, delay_cs: int, hint: np.ndarray | None
) -> bytes:
    """GCE + image descriptor with a local palette + LZW data for one frame."""
    transparent = alpha is not None and bool((alpha < 128).any())
    palette, indices = gif_palette_indices(frame, hint, 255 if transparent else 256)
    if transparent:
        assert alpha is not None
        indices[alpha < 128] = 255
    pal_img = Image.fromarray(indices, "P")
    pal_img.putpalette(palette.reshape(-1).tolist() + [0] * (768 - palette.size))
    buf = io.BytesIO()
    pal_img.save(buf, format="GIF", optimize=False, interlace=False)
    gct, body = _split_single_gif(buf.getvalue())
    # Disposal 1 (leave) for opaque frames; 2 (restore background) so transparency shows through.
    packed = (2 << 2 | 1) if transparent else (1 << 2)
    gce = b"\x21\xf9\x04" + struct.pack("<BHB", packed, delay_cs, 255 if transparent else 0)
    gce += b"\x00"
    # Image descriptor: move the global table into a local one.
    desc = bytearray(body[:10])
    size_bits = (len(gct) // 3).bit_length() - 2
    desc[9] = (desc[9] & 0x40) | 0x80 | (size_bits & 7)  # keep the interlace bit
    return gce + bytes(desc) + gct + body[10:]


def _pack(rgb: np.ndarray) -> np.ndarray:
    flat = rgb.reshape(-1, 3).astype(np.uint32)
    return np.asarray((flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2])


def gif_palette_indices(
    frame: np.ndarray, hint: np.ndarray | None, max_colors: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """A palette (K, 3) and the (H, W) index image for ``frame``.

    Pixels whose colour is in the palette keep it exactly, so whatever the swap left untouched
    is written back bit for bit. The palette is the frame's own colours when it has few enough,
    else ``hint`` (the input frame's palette) topped up with colours of the new pixels, else an
    octree quantisation.
    """
    h, w = frame.shape[:2]
    packed = _pack(frame)
    colors = np.unique(packed) if hint is None else None
    if colors is not None and len(colors) <= max_colors:
        palette_packed = colors
    elif hint is not None and len(hint) <= max_colors:
        palette_packed = np.unique(_pack(hint))
        missing = ~np.isin(packed, palette_packed)
        spare = max_colors - len(palette_packed)
        if spare > 0 and missing.any():
            extra = frame.reshape(-1, 3)[missing][None, :, :]
            q = Image.fromarray(np.ascontiguousarray(extra), "RGB").quantize(
                colors=spare, method=Image.Quantize.FASTOCTREE
            )
            used = np.asarray(q.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
            used = used[: int(np.asarray(q).max()) + 1]
            palette_packed = np.union1d(palette_packed, _pack(used))[:max_colors]
    else:
        q = Image.fromarray(frame, "RGB").quantize(
            colors=max_colors, method=Image.Quantize.FASTOCTREE
        )
        pal = np.asarray(q.getpalette() or [], dtype=np.uint8).reshape(-1, 3)[:max_colors]
        return pal, np.ascontiguousarray(np.asarray(q))
    palette = np.stack(
        [(palette_packed >> 16) & 255, (palette_packed >> 8) & 255, palette_packed & 255], axis=1
    ).astype(np.uint8)
    pos = np.searchsorted(palette_packed, packed)
    pos = np.minimum(pos, len(palette_packed) - 1)
    exact = palette_packed[pos] == packed
    indices = pos.astype(np.uint8)
    if not exact.all():
        pal_img = Image.new("P", (1, 1))
        pal_img.putpalette(palette.reshape(-1).tolist() + [0] * (768 - palette.size))
        nearest = Image.fromarray(frame, "RGB").quantize(
            palette=pal_img, dither=Image.Dither.FLOYDSTEINBERG
        )
        indices = np.where(exact, indices, np.asarray(nearest).reshape(-1)).astype(np.uint8)
    return palette, indices.reshape(h, w)


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
    images = []
    for i, frame in enumerate(clip.frames):
        if clip.alpha is not None:
            images.append(Image.fromarray(np.dstack([frame, clip.alpha[i]]), "RGBA"))
        else:
            images.append(Image.fromarray(frame, "RGB"))
    buf = io.BytesIO()
    durations = _cumulative_round(clip.durations_ms, 1.0)
    loop = 0 if clip.loop is None else clip.loop
    images[0].save(
        buf,
        format="WEBP",
        save_all=len(images) > 1,
        append_images=images[1:],
        duration=durations if len(images) > 1 else None,
        loop=loop,
        quality=90,
        method=4,
        minimize_size=False,
        allow_mixed=False,
    )
    if on_progress is not None:
        on_progress(len(clip), len(clip))
    return buf.getvalue()


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
        stream.options = {"crf": "18", "preset": "veryfast", "tune": "animation"}
        pts = 0
        for i, frame in enumerate(clip.frames):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = pts
            vf.time_base = VIDEO_TIME_BASE
            vf.duration = ticks[i]
            pts += ticks[i]
            for packet in stream.encode(vf):
                container.mux(packet)
            if on_progress is not None:
                on_progress(i + 1, len(clip))
        for packet in stream.encode(None):
            container.mux(packet)
