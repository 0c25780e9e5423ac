"""GIF palettes: untouched pixels stay exact and see-through pixels stay exactly where they were
(a swapped face's dark pixels never become holes: also checked on 300 generated clips), a
swapped face's colours join a frame's palette where it has room, and a clip of one palette is
written with that palette in every frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from PIL import Image

from core.config import MediaLimits
from gpu_worker.media import Clip, load_clip, save_clip
from gpu_worker.media.gif_palette import ColourLookup, shared_palette
from tests.media_files import U8, distinct_frames, gradient, write_pillow_gif

LIMITS = MediaLimits()


def mean_abs_diff(a: U8, b: U8) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def one_palette_clip(tmp_path: Path, count: int = 4) -> Clip:
    """A GIF whose frames all show the same 250 colours (a global palette, as most GIFs are
    made), each frame moved along, read back."""
    first = Image.fromarray(gradient(120, 90)).quantize(250, method=Image.Quantize.MEDIANCUT)
    indices = np.asarray(first)
    images = []
    for i in range(count):
        image = Image.fromarray(np.roll(indices, 9 * i, axis=1), "P")
        image.putpalette(first.getpalette() or [])
        images.append(image)
    path = tmp_path / "one-palette.gif"
    images[0].save(path, save_all=True, append_images=images[1:], duration=80, loop=0)
    return load_clip(path, LIMITS)


def colour_tables(data: bytes) -> list[bytes]:
    """Each frame's colour table in a GIF (its local one, else the global one)."""
    flags, pos = data[10], 13
    global_table = b""
    if flags & 0x80:
        global_table, pos = data[13 : 13 + 3 * (2 << (flags & 7))], 13 + 3 * (2 << (flags & 7))
    tables = []
    while data[pos] != 0x3B:
        if data[pos] == 0x21:  # extension: label, then sub-blocks
            pos += 2
        else:  # image descriptor, its table, the LZW code size, then sub-blocks
            packed, pos = data[pos + 9], pos + 10
            table = global_table
            if packed & 0x80:
                size = 3 * (2 << (packed & 7))
                table, pos = data[pos : pos + size], pos + size
            tables.append(table)
            pos += 1
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    return tables


def test_a_one_palette_gif_is_swapped_into_that_palette(tmp_path: Path) -> None:
    """Frames whose own palettes are full share the clip's one palette: untouched pixels stay
    exact, the new face's pixels take their nearest colours in it, and every frame is
    written with that one table (the nearest-colour lookup stays warm from frame to frame)."""
    clip = one_palette_clip(tmp_path)
    assert clip.palettes is not None
    assert all(p is not None and 241 <= len(p) <= 250 for p in clip.palettes)
    edited = [f.copy() for f in clip.frames]
    for frame in edited:  # a new face: colours near the scene's, none of them in its palette
        region = frame[30:60, 40:80].astype(np.int16)
        frame[30:60, 40:80] = np.clip(region[::-1] + 3, 0, 255).astype(np.uint8)
    assert not any(
        {tuple(c) for c in f[30:60, 40:80].reshape(-1, 3)} & {tuple(c) for c in p}
        for f, p in zip(edited, clip.palettes, strict=True)
        if p is not None
    )
    save_clip(clip.with_frames(edited), tmp_path / "out.gif")
    data = (tmp_path / "out.gif").read_bytes()
    back = load_clip(tmp_path / "out.gif", LIMITS)
    tables = colour_tables(data)
    assert len(tables) == len(clip) and len(set(tables)) == 1
    palette_colours = {tuple(c) for p in clip.palettes if p is not None for c in p}
    outside = np.ones((90, 120), bool)
    outside[30:60, 40:80] = False
    for before, wanted, after in zip(clip.frames, edited, back.frames, strict=True):
        assert np.array_equal(before[outside], after[outside])
        assert {tuple(c) for c in after.reshape(-1, 3)} <= palette_colours
        assert mean_abs_diff(after[~outside], wanted[~outside]) < 4


def test_frames_share_one_palette_only_where_theirs_are_full_and_fit_in_one() -> None:
    def colours(start: int, count: int) -> U8:
        packed = np.arange(start, start + count, dtype=np.uint32)
        return np.asarray(np.stack([packed & 255, packed >> 8 & 255, packed >> 16], 1), np.uint8)

    def clip(palettes: list[U8], alpha: list[U8] | None = None) -> Clip:
        frames = [np.zeros((2, 2, 3), np.uint8) for _ in palettes]
        return Clip(frames, [80.0] * len(frames), alpha=alpha, palettes=list(palettes))

    full = [colours(0, 250), colours(4, 250)]  # 254 colours in all
    shared = shared_palette(clip(full))
    assert shared is not None and len(shared) == 254
    assert shared_palette(clip([colours(0, 250), colours(10, 250)])) is None  # 260 in all
    assert shared_palette(clip([colours(0, 250), colours(0, 200)])) is None  # room in one
    see_through = [np.full((2, 2), 255, np.uint8), np.zeros((2, 2), np.uint8)]
    assert shared_palette(clip([colours(0, 250), colours(5, 250)])) is not None  # 255
    assert shared_palette(clip([colours(0, 250), colours(6, 250)], see_through)) is None


def test_frames_with_room_in_their_palettes_take_the_new_colours(tmp_path: Path) -> None:
    """A GIF of few colours: the edit's colours join each frame's palette (not the nearest
    of the few there were), and the untouched pixels stay exact."""
    few = [
        np.asarray(Image.fromarray(f).quantize(32).convert("RGB"))
        for f in distinct_frames(3, 120, 90)
    ]
    clip = load_clip(write_pillow_gif(tmp_path / "few.gif", few, [80, 80, 80]), LIMITS)
    edited = [f.copy() for f in clip.frames]
    for frame in edited:
        frame[30:60, 40:80] = gradient(40, 30, phase=100)
    save_clip(clip.with_frames(edited), tmp_path / "out.gif")
    back = load_clip(tmp_path / "out.gif", LIMITS)
    outside = np.ones((90, 120), bool)
    outside[30:60, 40:80] = False
    for before, wanted, after in zip(clip.frames, edited, back.frames, strict=True):
        assert np.array_equal(before[outside], after[outside])
        assert mean_abs_diff(after[~outside], wanted[~outside]) < 6  # 32 colours: ~20


def test_an_edit_of_few_colours_is_written_exactly(tmp_path: Path) -> None:
    """An edit whose colours fit beside the frame's own (a sticker, a flat patch) is written
    with the frame's own colours: every pixel exact, the edit too (the frames' 243 colours
    leave too few free entries for a top-up, which would give the edit its nearest ones)."""
    rng = np.random.default_rng(5)
    frames = []
    for _ in range(3):
        colours = rng.integers(0, 256, (243, 3), dtype=np.uint8)
        frames.append(colours[np.arange(90 * 120).reshape(90, 120) % 243])
    path = tmp_path / "many.gif"
    save_clip(Clip(frames=frames, durations_ms=[80.0] * 3), path)
    clip = load_clip(path, LIMITS)
    assert [None if p is None else len(p) for p in clip.palettes or []] == [243] * 3
    edited = [f.copy() for f in clip.frames]
    stripes = np.array([[17 * k + 1, 255 - 9 * k, (40 * k) % 256] for k in range(12)], np.uint8)
    for frame in edited:
        frame[30:78, 40:80] = np.repeat(stripes, 4, axis=0)[:, None]  # 12 new colours
    save_clip(clip.with_frames(edited), tmp_path / "out.gif")
    back = load_clip(tmp_path / "out.gif", LIMITS)
    for wanted, after in zip(edited, back.frames, strict=True):
        assert np.array_equal(after, wanted)


def test_dark_pixels_of_a_swapped_face_stay_opaque_in_a_gif_with_transparency(
    tmp_path: Path,
) -> None:
    """A frame with see-through pixels keeps index 255 for them: a full palette with no black
    must not send the face's dark pixels to that index (they came out as holes)."""
    rng = np.random.default_rng(0)
    palette = rng.integers(40, 256, (255, 3)).astype(np.uint8)  # no dark colour at all
    indices = rng.integers(0, 255, (60, 80)).astype(np.uint8)
    frames = [palette[np.roll(indices, i, axis=1)] for i in range(3)]
    alpha = [np.full((60, 80), 255, np.uint8) for _ in frames]
    for a in alpha:
        a[:5, :5] = 0
    own = [np.unique(f.reshape(-1, 3), axis=0) for f in frames]
    clip = Clip(frames, [80.0] * 3, alpha=alpha, palettes=list(own))
    edited = [f.copy() for f in frames]
    for frame in edited:
        frame[20:30, 20:30] = 0  # the new face's darkest pixels
    save_clip(clip.with_frames(edited), tmp_path / "out.gif")
    back = load_clip(tmp_path / "out.gif", LIMITS)
    assert back.alpha is not None
    for a in back.alpha:
        assert int(a[20:30, 20:30].min()) == 255, "the dark pixels became transparent"
        assert int(a[:5, :5].max()) == 0  # what was see-through still is
    nearest_dark = palette[np.argmin(palette.astype(np.int32).sum(axis=1))]
    assert mean_abs_diff(back.frames[0][25, 25], nearest_dark) < 30


@st.composite
def edited_clips(draw: st.DrawFn) -> tuple[Clip, list[U8], list[NDArray[np.bool_]]]:
    """A decoded GIF as the decoder gives it (frames drawn from one palette, the colours of
    their visible pixels counted, maybe see-through pixels) and a swap's edit of it: a block of new
    colours (dark ones too) in some frames. Returns (clip, edited frames, edited masks)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    colours = draw(st.sampled_from([3, 40, 250, 255, 255, 256]))
    see_through = draw(st.booleans()) and colours <= 255
    h, w = draw(st.integers(8, 48)), draw(st.integers(16, 48))
    count = draw(st.integers(1, 4))
    palette = rng.integers(0, 256, (colours, 3)).astype(np.uint8)
    frames = []
    for _ in range(count):  # every colour of the palette in each frame, where there is room
        picks = rng.integers(0, colours, h * w)
        picks[: min(colours, h * w)] = rng.permutation(colours)[: h * w]
        frames.append(palette[rng.permutation(picks).reshape(h, w)])
    alpha = None
    if see_through:  # see-through pixels decode as the transparent entry's colour
        alpha = [np.where(rng.random((h, w)) < 0.2, 0, 255).astype(np.uint8) for _ in frames]
        key = rng.integers(0, 256, 3).astype(np.uint8)
        for frame, a in zip(frames, alpha, strict=True):
            frame[a < 128] = key
    shown = [
        f.reshape(-1, 3) if alpha is None else f[alpha[i] >= 128] for i, f in enumerate(frames)
    ]
    own = [np.unique(pixels, axis=0) for pixels in shown]  # what the decoder counts
    clip = Clip(
        frames, [80.0] * count, alpha=alpha, palettes=[p if len(p) <= 256 else None for p in own]
    )
    edited, masks = [], []
    for frame in frames:
        out, mask = frame.copy(), np.zeros((h, w), bool)
        if draw(st.booleans()):
            y0, x0 = rng.integers(0, h - 2), rng.integers(0, w - 2)
            y1, x1 = rng.integers(y0 + 1, h + 1), rng.integers(x0 + 1, w + 1)
            block = rng.integers(0, 256, (y1 - y0, x1 - x0, 3)).astype(np.uint8)
            block[::2] //= 8  # dark pixels as well, and black
            block[::3, ::3] = 0
            out[y0:y1, x0:x1], mask[y0:y1, x0:x1] = block, True
        edited.append(out)
        masks.append(mask)
    return clip, edited, masks


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(case=edited_clips())
def test_a_swapped_gif_keeps_untouched_pixels_and_transparency_exactly(
    tmp_path_factory: pytest.TempPathFactory,
    case: tuple[Clip, list[U8], list[NDArray[np.bool_]]],
) -> None:
    clip, edited, masks = case
    path = tmp_path_factory.mktemp("gif") / "out.gif"
    save_clip(clip.with_frames(edited), path)
    back = load_clip(path, LIMITS)
    assert len(back) == len(clip)
    for i, (before, after, mask) in enumerate(zip(clip.frames, back.frames, masks, strict=True)):
        opaque = np.ones(mask.shape, bool) if clip.alpha is None else clip.alpha[i] >= 128
        seen = np.full(mask.shape, 255, np.uint8) if back.alpha is None else back.alpha[i]
        assert np.array_equal(seen >= 128, opaque), f"frame {i}: transparency changed"
        keep = opaque & ~mask
        assert np.array_equal(before[keep], after[keep]), f"frame {i}: untouched pixels moved"


def test_a_gif_with_a_transparent_index_and_255_colours_keeps_its_visible_pixels_exact(
    tmp_path: Path,
) -> None:
    """The usual GIF sticker: 255 visible colours and the 256th palette entry as the
    transparent one. Pillow decodes see-through pixels with that entry's colour, which is in
    no visible pixel: counting it made 256 colours, one too many beside the transparent index,
    and the whole frame was re-quantised (visible pixels moved)."""
    rng = np.random.default_rng(3)
    palette = rng.integers(0, 256, (256, 3)).astype(np.uint8)
    palette[255] = (255, 0, 255)  # the transparent entry's colour
    images = []
    for _ in range(3):
        indices = rng.permutation(np.resize(np.arange(255), 60 * 80)).reshape(60, 80)
        indices[:6, :] = 255  # a see-through band
        image = Image.fromarray(indices.astype(np.uint8), "P")
        image.putpalette(palette.tobytes())
        image.info["transparency"] = 255
        images.append(image)
    path = tmp_path / "sticker.gif"
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=80, loop=0, transparency=255
    )
    clip = load_clip(path, LIMITS)
    assert clip.alpha is not None and int(clip.alpha[0][:6].max()) == 0
    edited = [f.copy() for f in clip.frames]
    for frame in edited:
        frame[30:40, 30:50] = gradient(20, 10, phase=60)
    save_clip(clip.with_frames(edited), tmp_path / "out.gif")
    back = load_clip(tmp_path / "out.gif", LIMITS)
    assert back.alpha is not None
    keep = np.ones((60, 80), bool)
    keep[30:40, 30:50] = False
    for i, (before, after) in enumerate(zip(clip.frames, back.frames, strict=True)):
        visible = keep & (clip.alpha[i] >= 128)
        assert np.array_equal(before[visible], after[visible]), f"frame {i}: visible pixels moved"
        assert np.array_equal(back.alpha[i] >= 128, clip.alpha[i] >= 128)


def nearest_by_hand(pixels: U8, palette: U8, usable: int) -> NDArray[np.intp]:
    """What ``ColourLookup.nearest`` promises, the slow way: the palette colour (or black, the
    free entries' colour, where there is room) nearest the centre of each pixel's cell of
    4x4x4 levels, of equally near ones the lowest index."""
    colours = np.zeros((usable, 3), np.int64)
    colours[: len(palette)] = palette
    centres = (pixels.astype(np.int64) // 4) * 4 + 1.5
    far = ((centres[:, None, :] - colours[None, :, :]) ** 2).sum(axis=2)
    return np.asarray(np.argmin(far, axis=1), dtype=np.intp)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.integers(1, 256), min_size=1, max_size=4))
def test_new_colours_take_the_nearest_palette_colour_frame_after_frame(
    seed: int, sizes: list[int]
) -> None:
    """One lookup over several frames, as the encoder uses it: the palette stays the same
    for a while (the cells found are reused) and changes (they must not be)."""
    rng = np.random.default_rng(seed)
    lookup = ColourLookup()
    for colours in sizes:
        palette = rng.integers(0, 256, (colours, 3)).astype(np.uint8)
        usable = int(rng.integers(colours, 257))
        for _ in range(2):
            pixels = rng.integers(0, 256, (int(rng.integers(1, 400)), 3)).astype(np.uint8)
            pixels[::5] = palette[rng.integers(0, colours, len(pixels[::5]))]  # exact ones
            pixels[::7] //= 16  # dark ones, near the free entries' black
            found = lookup.nearest(pixels, palette, usable)
            assert np.array_equal(found, nearest_by_hand(pixels, palette, usable))
            assert int(found.max()) < usable
