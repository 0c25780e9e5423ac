"""Held pictures (``gpu_worker/engines/classic/holds.py``): copies within noise are found,
real change is not, and the engine shows a held picture's swapped face unchanged."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from numpy.typing import NDArray

from gpu_worker.engines.classic.engine import ClassicEngine
from gpu_worker.engines.classic.holds import Pictures
from gpu_worker.media import Clip
from gpu_worker.media.feed import FrameFeed

U8 = NDArray[np.uint8]


def noisy(frame: U8, seed: int, amplitude: int = 3) -> U8:
    """``frame`` with encoder-like noise: every pixel moved by up to ``amplitude`` levels."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-amplitude, amplitude + 1, frame.shape)
    return np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def test_copies_within_noise_are_one_picture(sample_clip: Clip) -> None:
    a, b = sample_clip.frames[0], sample_clip.frames[12]
    frames = [a, noisy(a, 1), noisy(a, 2), b, noisy(b, 3)]
    holds = Pictures(frames).holds([40.0] * 5)
    assert holds.keys == [0, 3]
    assert holds.position == [0, 0, 0, 1, 1]
    assert holds.durations_ms == [120.0, 80.0]
    assert list(holds.frames_of(0)) == [0, 1, 2]
    assert list(holds.frames_of(1)) == [3, 4]


def test_a_small_real_change_is_a_new_picture(sample_clip: Clip) -> None:
    """A mouth-sized patch changing (20 x 10 px of a 320 x 240 frame) is motion, not noise."""
    a = sample_clip.frames[0]
    b = a.copy()
    b[150:160, 150:170] = 255 - b[150:160, 150:170]
    assert Pictures([a, b]).holds(None).keys == [0, 1]


def test_every_frame_new_is_every_frame_a_picture(sample_clip: Clip) -> None:
    holds = Pictures(sample_clip.frames).holds(sample_clip.durations_ms)
    assert holds.keys == list(range(len(sample_clip)))
    assert holds.durations_ms == list(sample_clip.durations_ms)


def test_pictures_are_found_as_the_frames_arrive(sample_clip: Clip) -> None:
    """A picture is there as soon as the frames up to it are (the rest still decoding), and
    the holds of the whole clip are those of the frames all at once."""
    a, b, c = sample_clip.frames[0], sample_clip.frames[8], sample_clip.frames[16]
    frames = [a, noisy(a, 1), b, noisy(b, 2), noisy(b, 3), c]
    feed = FrameFeed(len(frames))
    for i in range(3):
        feed.put(i, frames[i])
    pictures = Pictures(feed)
    assert pictures[0] is a and pictures[1] is b
    assert not pictures.complete()
    for i in range(3, len(frames)):
        feed.put(i, frames[i])
    assert pictures[2] is c and pictures.count() == 3 and pictures.complete()
    with pytest.raises(IndexError):
        pictures[3]
    assert pictures.holds([40.0] * 6) == Pictures(frames).holds([40.0] * 6)
    assert pictures.holds([40.0] * 6).durations_ms == [80.0, 120.0, 40.0]


@pytest.fixture(scope="module")
def engine() -> Iterator[ClassicEngine]:
    eng = ClassicEngine()
    try:
        yield eng
    finally:
        eng.close()


def test_a_held_picture_keeps_its_swapped_face(
    engine: ClassicEngine, sample_clip: Clip, sample_face: U8
) -> None:
    """Each picture shown twice (as a 12.5 fps video stored at 25 fps): the second showing is
    the first one's swapped frame exactly, and the face is swapped in all of them."""
    frames = [f for i, frame in enumerate(sample_clip.frames) for f in (frame, noisy(frame, i))]
    out = engine.swap(sample_face, frames, durations_ms=[40.0] * len(frames))
    assert len(out.frames) == len(frames)
    assert out.frames_swapped == len(frames)
    for i in range(0, len(frames), 2):
        assert np.array_equal(out.frames[i], out.frames[i + 1]), f"frame {i + 1}"
        assert out.faces[i][0].box == out.faces[i + 1][0].box
        changed = np.abs(out.frames[i].astype(np.int16) - frames[i]).max()
        assert changed > 40, f"frame {i}: face not swapped"
