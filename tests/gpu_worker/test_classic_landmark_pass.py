"""The clip's landmark pass runs in several spans at once: every frame is landmarked once, in
order, the cut between spans does not show, and progress reaches the caller's own thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from gpu_worker.engines.classic.landmark_pass import LEAD_IN, MIN_SPAN, LandmarkPass, spans
from gpu_worker.media.clip import Clip

# Mean distance (px, 320x240 frames) between a frame's landmarks found in a span of its own
# and in one pass over the whole clip: at worst 0.10 px on the sample (0.89 px without a
# lead-in, 0.27 with 4 frames of it).
SAME_PX = 0.2


@pytest.mark.parametrize("frames", [0, 1, 11, 12, 23, 24, 25, 50, 75, 300])
@pytest.mark.parametrize("parts", [1, 2, 3, 4])
def test_spans_cover_every_frame_once_in_order(frames: int, parts: int) -> None:
    plan = spans(frames, parts)
    kept = [i for span in plan for i in range(span.start, span.end)]
    assert kept == list(range(frames))
    assert len(plan) <= max(1, min(parts, frames // MIN_SPAN))
    for span in plan:
        assert span.lead == max(0, span.start - LEAD_IN)
        assert span.end > span.start or frames == 0
    work = [span.end - span.lead for span in plan]
    assert max(work) - min(work) <= 1


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
    whole = one.track(sample_clip.frames, 1, lambda: False, lambda done: None)
    cut = two.track(sample_clip.frames, 1, lambda: False, lambda done: None)
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
        sample_clip.frames, 1, lambda: False, lambda d: seen.append((d, threading.get_ident()))
    )
    assert [d for d, _ in seen] == list(range(1, len(sample_clip) + 1))
    assert {thread for _, thread in seen} == {threading.get_ident()}


def test_giving_up_stops_every_span(
    passes: tuple[LandmarkPass, LandmarkPass], sample_clip: Clip
) -> None:
    _, two = passes
    done: list[int] = []
    result = two.track(sample_clip.frames, 1, lambda: len(done) >= 3, done.append)
    assert result is None
    assert len(done) < len(sample_clip) // 2


def test_a_failing_progress_callback_stops_the_spans_and_reaches_the_caller(
    passes: tuple[LandmarkPass, LandmarkPass], sample_clip: Clip
) -> None:
    _, two = passes

    def fail(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        two.track(sample_clip.frames, 1, lambda: False, fail)
    # the graphs are free again: the next clip runs as usual
    again = two.track(sample_clip.frames, 1, lambda: False, lambda done: None)
    assert again is not None and len(again) == len(sample_clip)
