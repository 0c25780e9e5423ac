"""The clip's landmark pass runs in several spans at once: every frame is landmarked once, in
order, the cut between spans does not show, and progress reaches the caller's own thread.
With landmarks on every other picture, a face is still drawn from its first frame to its
last."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
from numpy.typing import NDArray

from gpu_worker.engines.base import SwapOutput
from gpu_worker.engines.classic.engine import ClassicEngine, ClassicParams
from gpu_worker.engines.classic.landmark_pass import (
    LEAD_IN,
    MIN_SPAN,
    Gap,
    LandmarkPass,
    look_between,
    spans,
)
from gpu_worker.media.clip import Clip
from tests.gpu_worker.test_classic_engine import FACE_CHANGED, region_diff
from tests.media_files import U8, gradient

F32 = NDArray[np.float32]

# Mean distance (px, 320x240 frames) between a frame's landmarks found in a span of its own
# and in one pass over the whole clip: at worst 0.10 px on the sample (0.89 px without a
# lead-in, 0.27 with 4 frames of it).
SAME_PX = 0.2


@pytest.mark.parametrize("frames", [0, 1, 5, 11, 12, 20, 23, 24, 25, 50, 75, 300])
@pytest.mark.parametrize("parts", [1, 2, 3, 4])
@pytest.mark.parametrize("faces", [1, 2, 3, 4])
def test_spans_cover_every_frame_once_in_order(frames: int, parts: int, faces: int) -> None:
    plan = spans(frames, parts, faces)
    kept = [i for span in plan for i in range(span.start, span.end)]
    assert kept == list(range(frames))
    assert len(plan) <= max(1, min(parts, frames * faces // MIN_SPAN))
    for span in plan:
        assert span.lead == max(0, span.start - LEAD_IN)
        assert span.end > span.start or frames == 0
    work = [span.end - span.lead for span in plan]
    assert max(work) - min(work) <= 1
    if len(plan) > 1:  # cutting shortens the longest chain of frames one tracker runs
        assert max(work) < frames
        assert min(span.end - span.start for span in plan) >= LEAD_IN - 1


def test_more_faces_a_frame_cut_shorter_clips() -> None:
    """The three-person clip's 20 looked-at pictures: one span for one face (the lead-in would
    cost more than it saves), two for three faces (13 pictures a tracker instead of 20)."""
    assert len(spans(20, 2, faces=1)) == 1
    assert [(s.lead, s.start, s.end) for s in spans(20, 2, faces=3)] == [(0, 0, 13), (7, 13, 20)]


@pytest.fixture(scope="module")
def passes() -> Iterator[tuple[LandmarkPass, LandmarkPass]]:
    one, two = LandmarkPass(1), LandmarkPass(2)
    try:
        yield one, two
    finally:
        one.close()
        two.close()


def test_two_spans_find_the_landmarks_one_pass_finds(
    passes: tuple[LandmarkPass, LandmarkPass], sample_clip: Clip
) -> None:
    one, two = passes
    assert len(spans(len(sample_clip), 2)) == 2  # the sample is long enough to be cut
    whole = one.track(sample_clip.frames, 1, lambda: False, lambda done: None, len(sample_clip))
    cut = two.track(sample_clip.frames, 1, lambda: False, lambda done: None, len(sample_clip))
    assert whole is not None and cut is not None
    assert [len(f) for f in cut] == [len(f) for f in whole] == [1] * len(sample_clip)
    apart = [
        float(np.linalg.norm(a[0] - b[0], axis=1).mean()) for a, b in zip(whole, cut, strict=True)
    ]
    assert max(apart) < SAME_PX, f"frames apart by {np.round(apart, 2).tolist()} px"


def test_progress_counts_every_frame_once_on_the_calling_thread(
    passes: tuple[LandmarkPass, LandmarkPass], sample_clip: Clip
) -> None:
    _, two = passes
    seen: list[tuple[int, int]] = []
    two.track(
        sample_clip.frames,
        1,
        lambda: False,
        lambda d: seen.append((d, threading.get_ident())),
        len(sample_clip),
    )
    assert [d for d, _ in seen] == list(range(1, len(sample_clip) + 1))
    assert {thread for _, thread in seen} == {threading.get_ident()}


def test_giving_up_stops_every_span(
    passes: tuple[LandmarkPass, LandmarkPass], sample_clip: Clip
) -> None:
    _, two = passes
    done: list[int] = []
    result = two.track(sample_clip.frames, 1, lambda: len(done) >= 3, done.append, len(sample_clip))
    assert result is None
    assert len(done) < len(sample_clip) // 2


def test_a_failing_progress_callback_stops_the_spans_and_reaches_the_caller(
    passes: tuple[LandmarkPass, LandmarkPass], sample_clip: Clip
) -> None:
    _, two = passes

    def fail(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        two.track(sample_clip.frames, 1, lambda: False, fail, len(sample_clip))
    # the graphs are free again: the next clip runs as usual
    again = two.track(sample_clip.frames, 1, lambda: False, lambda done: None, len(sample_clip))
    assert again is not None and len(again) == len(sample_clip)


# --- landmarks on every other picture ------------------------------------------------------------


def face_at(x: float, y: float, size: float = 40.0) -> F32:
    """Stand-in landmarks: a square of points (only their box matters here)."""
    pts = np.zeros((468, 3), dtype=np.float32)
    pts[:, 0] = x + size * (np.arange(468) % 2)
    pts[:, 1] = y + size * (np.arange(468) // 2 % 2)
    return pts


def test_pictures_between_looked_ones_are_looked_at_where_the_faces_change() -> None:
    a, b = face_at(10, 10), face_at(200, 10)
    detections: list[list[F32]] = [[a], [], [a], [], [a, b], [], [a, b], [], [b]]
    looked = [0, 2, 4, 6, 8]
    asked: list[tuple[int, list[int]]] = []

    def look(gaps: list[Gap]) -> list[list[list[F32]]]:
        asked.extend((gap.start, list(gap.skipped)) for gap in gaps)
        return [[[a, b] for _ in gap.skipped] for gap in gaps]

    assert look_between(detections, looked, look) == [3, 7]  # b comes at 3, a goes at 7
    assert asked == [(2, [3]), (6, [7])]  # each gap tracked on from the picture before it
    assert detections[1] == [] and len(detections[3]) == 2


def test_a_face_moving_within_its_box_needs_no_extra_look() -> None:
    detections = [[face_at(10, 10)], [], [face_at(14, 12)]]
    assert look_between(detections, [0, 2], lambda gaps: []) == []


def test_following_on_from_a_picture_finds_what_one_pass_finds(
    passes: tuple[LandmarkPass, LandmarkPass], sample_clip: Clip
) -> None:
    one, _ = passes
    whole = one.track(sample_clip.frames, 1, lambda: False, lambda done: None, len(sample_clip))
    assert whole is not None
    followed = one.follow(whole[9], sample_clip.frames[10:14], 1)
    assert [len(f) for f in followed] == [1] * 4
    for got, expected in zip(followed, whole[10:14], strict=True):
        np.testing.assert_allclose(got[0], expected[0], atol=1e-3)
    # nothing to follow on from: the detector finds the face
    assert [len(f) for f in one.follow([], sample_clip.frames[10:12], 1)] == [1, 1]


def test_a_clip_with_two_faces_runs_as_one_span_with_the_faces_at_once(
    passes: tuple[LandmarkPass, LandmarkPass], sample_clip: Clip
) -> None:
    """Two faces a picture: the two-slot pass follows the clip in one span (no tracker
    started part way, so no lead-in) and finds exactly what the one-slot pass finds."""
    one, two = passes
    frames = [np.concatenate([f, f[:, ::-1]], axis=1) for f in sample_clip.frames]
    assert len(spans(len(frames), 2, 2)) == 2  # long enough for two spans
    ticks: list[int] = []
    found_one = one.track(frames, 2, lambda: False, lambda done: None, len(frames))
    found_two = two.track(frames, 2, lambda: False, ticks.append, len(frames))
    assert found_one is not None and found_two is not None
    assert ticks == list(range(1, len(frames) + 1))  # one span: every frame once, in order
    assert [len(f) for f in found_two] == [2] * len(frames)
    for got, expected in zip(found_two, found_one, strict=True):
        for g, e in zip(got, expected, strict=True):
            assert np.array_equal(g, e)


def test_runs_followed_on_several_trackers_come_back_as_one_tracker_finds_them(
    passes: tuple[LandmarkPass, LandmarkPass], sample_clip: Clip
) -> None:
    """The looks between pictures are shared out over the pass's trackers: each run's
    landmarks are what one tracker finds following it alone, in the runs' order."""
    one, two = passes
    whole = one.track(sample_clip.frames, 1, lambda: False, lambda done: None, len(sample_clip))
    assert whole is not None
    frames = sample_clip.frames
    runs = [(whole[a], frames[a + 1 : a + 1 + n]) for a, n in [(3, 1), (9, 2), (15, 1), (1, 3)]]
    alone = [one.follow(start, run, 1) for start, run in runs]
    shared = two.follow_each(runs, 1)
    assert [len(found) for found in shared] == [1, 2, 1, 3]
    for got, expected in zip(shared, alone, strict=True):
        for g, e in zip(got, expected, strict=True):
            assert np.array_equal(g[0], e[0])
    assert one.follow_each([], 1) == []


@pytest.fixture(scope="module")
def every_other() -> Iterator[ClassicEngine]:
    engine = ClassicEngine(params=ClassicParams(landmark_step=2))
    try:
        yield engine
    finally:
        engine.close()


def test_every_frame_is_swapped_with_landmarks_on_every_other_picture(
    every_other: ClassicEngine, sample_clip: Clip, sample_face: U8
) -> None:
    out: SwapOutput = every_other.swap(
        sample_face, sample_clip.frames, durations_ms=sample_clip.durations_ms
    )
    assert out.frames_swapped == len(sample_clip)
    for i, (a, b) in enumerate(zip(sample_clip.frames, out.frames, strict=True)):
        assert len(out.faces[i]) == 1, f"frame {i}"
        assert region_diff(a, b, out.faces[i][0].box) > FACE_CHANGED, f"frame {i}"
    interpolated = [i for i, faces in enumerate(out.faces) if faces[0].interpolated]
    assert 0 < len(interpolated) < len(sample_clip)


def test_a_face_that_appears_between_looked_pictures_is_drawn_from_its_first_frame(
    every_other: ClassicEngine, sample_clip: Clip, sample_face: U8
) -> None:
    # five frames without a face, then the sample's person walks in on frame 5 (not looked)
    empty = [gradient(320, 240, phase=12 * i) for i in range(5)]
    frames = empty + list(sample_clip.frames[5:])
    out = every_other.swap(sample_face, frames, durations_ms=[80.0] * len(frames))
    assert [len(f) for f in out.faces[:5]] == [0] * 5
    for i in range(5, len(frames)):
        assert len(out.faces[i]) == 1, f"frame {i}: no face drawn"
        assert region_diff(frames[i], out.frames[i], out.faces[i][0].box) > FACE_CHANGED, i
