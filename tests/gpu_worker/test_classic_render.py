"""The classic engine's frames are drawn on several threads: each track's colour state still
takes its frames in order, so the clip comes out exactly as drawn one frame after the other."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from gpu_worker.engines.base import FaceSelection, SwapOutput
from gpu_worker.engines.classic.engine import ClassicEngine
from gpu_worker.engines.classic.render import ColourState, RenderAborted, Stats
from gpu_worker.media.clip import Clip
from tests.gpu_worker.test_classic_engine import two_people
from tests.media_files import U8


def measured(i: int) -> tuple[Stats, Stats]:
    v = np.full(3, float(i), dtype=np.float32)
    return (v, v + 1), (v + 2, v + 3)


def test_colour_turns_are_taken_in_frame_order_whatever_order_threads_start() -> None:
    frames = 12
    state = ColourState()
    got: dict[int, tuple[Stats, Stats] | None] = {}
    # frames 3 and 7 draw nothing there (the face is missing): they still pass their turn
    threads = [
        threading.Thread(
            target=lambda i=i: got.__setitem__(
                i, state.update(i, None if i in (3, 7) else measured(i))
            )
        )
        for i in reversed(range(frames))  # the last frame asks first
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    one_by_one = ColourState()
    for i in range(frames):
        expected = one_by_one.update(i, None if i in (3, 7) else measured(i))
        if expected is None:
            assert got[i] is None
            continue
        result = got[i]
        assert result is not None
        flat = np.concatenate([*result[0], *result[1]])
        assert np.array_equal(flat, np.concatenate([*expected[0], *expected[1]])), f"frame {i}"


def test_a_failed_frame_releases_the_frames_waiting_for_their_turn() -> None:
    state = ColourState()
    caught: list[BaseException] = []

    def later_frame() -> None:
        try:
            state.update(1, measured(1))  # frame 0 never takes its turn
        except RenderAborted as exc:
            caught.append(exc)

    waiter = threading.Thread(target=later_frame)
    waiter.start()
    state.abort()  # frame 0 failed
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert len(caught) == 1


@pytest.mark.parametrize("faces", ["largest", "all"])
def test_two_render_threads_give_the_same_clip_as_one(
    sample_clip: Clip, sample_face: U8, faces: FaceSelection
) -> None:
    clip = two_people(sample_clip)
    outputs: list[SwapOutput] = []
    for threads in (1, 2):
        engine = ClassicEngine(render_threads=threads)
        try:
            outputs.append(
                engine.swap(
                    sample_face,
                    clip,
                    faces=faces,
                    durations_ms=sample_clip.durations_ms,
                )
            )
        finally:
            engine.close()
    one, two = outputs
    assert len(one.frames) == len(two.frames) == len(clip)
    assert sum(len(f) for f in two.faces) >= len(clip)  # faces were drawn in every frame
    for i, (a, b) in enumerate(zip(one.frames, two.frames, strict=True)):
        assert np.array_equal(a, b), f"frame {i} differs"
        assert not np.array_equal(b, clip[i]), f"frame {i} was not swapped"
    assert [[f.box for f in per] for per in one.faces] == [
        [f.box for f in per] for per in two.faces
    ]
