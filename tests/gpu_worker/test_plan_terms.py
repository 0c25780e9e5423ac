"""The plan's terms on real clips: the resolution cap and the visible "swapzy" mark on Free
clips, applied by ``swap_files`` as the worker calls it (noop engine: the pixels otherwise stay
the input's, so every change seen is the plan's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.config import MediaLimits
from gpu_worker.engines.noop import NoopEngine
from gpu_worker.media.clip import Clip, Frame
from gpu_worker.media.decode import load_clip
from gpu_worker.media.encode import save_clip
from gpu_worker.plan_terms import ClipTerms, cap_resolution, capped_size, watermark
from gpu_worker.swap import swap_files
from tests.conftest import SampleFiles


def _corner_and_rest(before: Frame, after: Frame) -> tuple[float, float]:
    """Mean absolute change in the bottom-right corner (where the mark goes) and elsewhere."""
    diff = np.abs(after.astype(np.int16) - before.astype(np.int16)).mean(axis=2)
    h, w = diff.shape
    corner = np.zeros_like(diff, dtype=bool)
    corner[int(h * 0.8) :, int(w * 0.6) :] = True
    return float(diff[corner].mean()), float(diff[~corner].mean())


def test_the_mark_is_visible_in_the_corner_and_nowhere_else(sample_clip: Clip) -> None:
    frame = np.asarray(sample_clip.frames[0])
    marked = watermark(frame)
    assert marked.shape == frame.shape and marked.dtype == np.uint8
    corner, rest = _corner_and_rest(frame, marked)
    assert rest == 0.0
    assert corner > 5.0  # a mark you can see, not a faint smudge
    h, w = frame.shape[:2]
    bright = (marked[int(h * 0.8) :, int(w * 0.6) :] > 200).all(axis=2).sum()
    assert bright > 30  # white strokes of the letters


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((320, 240), 480, (320, 240)),
        ((320, 240), None, (320, 240)),
        ((1920, 1080), 480, (480, 270)),
        ((1080, 1920), 480, (270, 480)),
        ((333, 201), 160, (160, 96)),
    ],
)
def test_the_cap_keeps_the_shape_and_even_sides(
    size: tuple[int, int], max_side: int | None, expected: tuple[int, int]
) -> None:
    assert capped_size(size, max_side) == expected


def test_capping_a_clip_keeps_its_timing_and_transparency(sample_clip: Clip) -> None:
    alpha = [np.full(np.asarray(f).shape[:2], 255, np.uint8) for f in sample_clip.frames]
    clip = Clip(list(sample_clip.frames), list(sample_clip.durations_ms), alpha=alpha)
    small = cap_resolution(clip, 160)
    assert small.size == (160, 120)
    assert small.durations_ms == clip.durations_ms and small.loop == clip.loop
    assert small.alpha is not None and small.alpha[0].shape == (120, 160)
    assert cap_resolution(clip, 480) is clip


def test_a_free_job_comes_out_capped_and_marked_a_pro_job_untouched(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    limits = MediaLimits()
    original = load_clip(sample_files.target, limits)

    def run(name: str, terms: ClipTerms) -> Clip:
        out = tmp_path / f"{name}.gif"
        swap_files(
            sample_files.target, sample_files.source, out,
            engine=NoopEngine(), limits=limits, terms=terms,
        )  # fmt: skip
        return load_clip(out, limits)

    pro = run("pro", ClipTerms(watermark=False, max_side=1080))
    free = run("free", ClipTerms(watermark=True, max_side=480))
    small = run("small", ClipTerms(watermark=True, max_side=160))
    assert pro.size == free.size == original.size == (320, 240)
    assert small.size == (160, 120)
    assert len(free) == len(small) == len(original)
    for i in range(len(original)):
        expected = np.asarray(original.frames[i])
        _, rest = _corner_and_rest(expected, np.asarray(pro.frames[i]))
        corner_pro, _ = _corner_and_rest(expected, np.asarray(pro.frames[i]))
        corner, rest_free = _corner_and_rest(expected, np.asarray(free.frames[i]))
        assert corner_pro < 1.0 and rest < 1.0  # Pro: the clip as the engine made it
        assert corner > 5.0 and rest_free < 1.0  # Free: the mark, and only the mark


def test_the_mark_shows_where_the_clip_is_see_through(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    """A sticker whose bottom-right corner is see-through: a Free clip's mark must show there
    (its pixels made opaque, drawn on black), a Pro clip's corner stays see-through."""
    limits = MediaLimits()
    original = load_clip(sample_files.target, limits)
    h, w = original.frames[0].shape[:2]
    alpha = [np.full((h, w), 255, np.uint8) for _ in original.frames]
    for a in alpha:
        a[h // 2 :, w // 2 :] = 0
    sticker = tmp_path / "sticker.gif"
    save_clip(Clip(list(original.frames), list(original.durations_ms), alpha=alpha), sticker)

    def run(name: str, terms: ClipTerms) -> Clip:
        out = tmp_path / f"{name}.gif"
        swap_files(
            sticker, sample_files.source, out, engine=NoopEngine(), limits=limits, terms=terms
        )
        return load_clip(out, limits)

    pro, free = run("pro", ClipTerms()), run("free", ClipTerms(watermark=True))
    assert pro.alpha is not None and free.alpha is not None
    corner = np.zeros((h, w), bool)
    corner[h // 2 :, w // 2 :] = True
    for i in range(len(original)):
        assert int(pro.alpha[i][corner].max()) == 0
        shown = free.alpha[i] >= 128
        assert np.array_equal(shown[~corner], np.ones_like(shown[~corner]))
        mark = shown & corner
        assert 30 < int(mark.sum()) < corner.sum() // 4  # the mark's strokes, not the corner
        white = (free.frames[i][mark] > 170).all(axis=1).sum()  # 75 % white on black
        dark = (free.frames[i][mark] < 80).all(axis=1).sum()
        assert white > 10 and dark > 10  # white letters in a dark outline
