"""The classic engine on real models (mediapipe, no mocks): the face changes and nothing else,
``--faces`` picks the same person in every frame, bad inputs fail with the right error, the
swapped face does not jitter more than the input, and the tracker fills short detector gaps.

Thresholds were measured on the built-in sample clip (24 frames, 320x240) with a generous
margin: the swapped face region differs from the input by 22-26 (mean abs, 0-255) in every
frame, pixels outside the expanded face box by exactly 0; output/input landmark jitter is 0.99.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from core.errors import FaceNotFound, NoFaceInSource, NoFaceInTarget
from gpu_worker.engines.base import SwapOutput
from gpu_worker.engines.classic.engine import ClassicEngine, _FaceCount
from gpu_worker.engines.classic.holds import Pictures
from gpu_worker.engines.classic.landmark_pass import Indexed, Looked
from gpu_worker.engines.classic.landmarks import FaceMesh
from gpu_worker.engines.classic.photo import SourceFace
from gpu_worker.engines.classic.tracking import FaceTrack, build_tracks, smooth_track
from gpu_worker.media.clip import Clip
from gpu_worker.media.feed import FrameFeed
from tests.media_files import U8, gradient

Box = tuple[int, int, int, int]

FACE_CHANGED = 8.0  # measured 22.2 .. 25.7 in the swapped face box
UNTOUCHED = 1.0  # measured 0.0 outside the expanded box / in the face that was not chosen
MAX_JITTER_RATIO = 1.5  # measured 0.99 (output 0.0455 / input 0.0460 of the face size per frame)


# --- helpers ------------------------------------------------------------------------------------


def mean_abs_diff(a: U8, b: U8) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def region_diff(a: U8, b: U8, face: Box) -> float:
    x0, y0, x1, y1 = face
    return mean_abs_diff(a[y0:y1, x0:x1], b[y0:y1, x0:x1])


def expanded(face: Box, shape: tuple[int, ...]) -> Box:
    """The face box grown 1.5x: a quarter of the width each side, 35% of the height upwards
    (hair, forehead) and 15% downwards (chin), clipped to the frame."""
    x0, y0, x1, y1 = face
    w, h = x1 - x0, y1 - y0
    return (
        max(0, int(x0 - 0.25 * w)),
        max(0, int(y0 - 0.35 * h)),
        min(shape[1], int(x1 + 0.25 * w) + 1),
        min(shape[0], int(y1 + 0.15 * h) + 1),
    )


def outside_diff(a: U8, b: U8, faces: list[Box]) -> float:
    """Mean abs difference over the pixels outside every expanded face box."""
    keep = np.ones(a.shape[:2], dtype=bool)
    for face in faces:
        x0, y0, x1, y1 = expanded(face, a.shape)
        keep[y0:y1, x0:x1] = False
    assert keep.mean() > 0.3, "the expanded boxes cover most of the frame: nothing to compare"
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(axis=2)
    return float(diff[keep].mean())


def two_people(clip: Clip) -> list[U8]:
    """640x240 frames: the sample clip on the left, the same clip played backwards on the right,
    so the two faces move differently."""
    return [np.hstack([a, b]) for a, b in zip(clip.frames, clip.frames[::-1], strict=True)]


def landmark_jitter(frames: Sequence[U8]) -> float:
    """Mean frame-to-frame landmark displacement over the face size (sqrt of the landmark box
    area), found by a fresh photo-mode FaceMesh that knows nothing of the engine's tracking."""
    mesh = FaceMesh(video=False, max_faces=1)
    try:
        found = [mesh.detect(f) for f in frames]
    finally:
        mesh.close()
    missing = [i for i, faces in enumerate(found) if not faces]
    assert not missing, f"no face re-detected in frames {missing}"
    pts = np.stack([faces[0][:, :2] for faces in found])  # (n, 468, 2)
    size = np.sqrt(np.ptp(pts[:, :, 0], axis=1) * np.ptp(pts[:, :, 1], axis=1))
    step = np.linalg.norm(np.diff(pts, axis=0), axis=2).mean(axis=1)
    return float((step / size[:-1]).mean())


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> Iterator[ClassicEngine]:
    eng = ClassicEngine(max_faces=4)
    try:
        yield eng
    finally:
        eng.close()


@pytest.fixture(scope="module")
def progress_calls() -> list[tuple[int, int]]:
    return []


@pytest.fixture(scope="module")
def swapped(
    engine: ClassicEngine,
    sample_clip: Clip,
    sample_face: U8,
    progress_calls: list[tuple[int, int]],
) -> SwapOutput:
    def on_progress(done: int, total: int) -> None:
        progress_calls.append((done, total))

    return engine.swap(
        sample_face,
        sample_clip.frames,
        on_progress=on_progress,
        durations_ms=sample_clip.durations_ms,
    )


@pytest.fixture(scope="module")
def pair_all(engine: ClassicEngine, sample_clip: Clip, sample_face: U8) -> SwapOutput:
    """Both people of the two-person clip swapped: gives each track's box in every frame."""
    return engine.swap(
        sample_face, two_people(sample_clip), faces="all", durations_ms=sample_clip.durations_ms
    )


def track_boxes(out: SwapOutput, track: int) -> list[Box]:
    boxes = []
    for i, per_frame in enumerate(out.faces):
        found = [f.box for f in per_frame if f.track == track]
        assert len(found) == 1, f"frame {i}: track {track} reported {len(found)} times"
        boxes.append(found[0])
    return boxes


# --- 1. the sample swap -------------------------------------------------------------------------


def test_sample_swap_changes_the_face_and_nothing_else(
    swapped: SwapOutput, sample_clip: Clip
) -> None:
    frames_in = sample_clip.frames
    assert len(swapped.frames) == len(frames_in)
    assert len(swapped.faces) == len(frames_in)
    for i, (a, b) in enumerate(zip(frames_in, swapped.frames, strict=True)):
        assert b.shape == a.shape and b.dtype == np.uint8, f"frame {i}"
        assert len(swapped.faces[i]) == 1, f"frame {i}: {swapped.faces[i]}"
        face = swapped.faces[i][0]
        assert face.swapped
        assert region_diff(a, b, face.box) > FACE_CHANGED, f"frame {i}: face barely changed"
        assert outside_diff(a, b, [face.box]) <= UNTOUCHED, f"frame {i}: background changed"


def test_sample_swap_report(swapped: SwapOutput, sample_clip: Clip) -> None:
    assert swapped.frames_swapped == len(sample_clip.frames)
    assert len(swapped.tracks) == 1
    track = swapped.tracks[0]
    assert track.number == 1 and track.selected
    assert (track.first_frame, track.last_frame) == (0, len(sample_clip.frames) - 1)
    assert swapped.source_faces_found == 1
    assert swapped.notes == []


def test_models_are_commercially_usable(engine: ClassicEngine) -> None:
    assert engine.models
    for model in engine.models:
        assert model.commercial_use, model
        assert model.licence == "Apache-2.0", model


def test_progress_rises_to_total(
    swapped: SwapOutput, progress_calls: list[tuple[int, int]]
) -> None:
    assert swapped.frames  # the swap ran and reported through ``progress_calls``
    assert progress_calls
    totals = {total for _, total in progress_calls}
    assert len(totals) == 1, totals
    total = totals.pop()
    done = [d for d, _ in progress_calls]
    assert all(b > a for a, b in itertools.pairwise(done)), done
    assert done[0] > 0 and progress_calls[-1] == (total, total)


# --- 2. face selection follows the same person --------------------------------------------------


def test_tracks_are_numbered_left_to_right(pair_all: SwapOutput, sample_clip: Clip) -> None:
    assert [t.number for t in pair_all.tracks] == [1, 2]
    assert all(t.selected for t in pair_all.tracks)
    width = sample_clip.frames[0].shape[1]
    for left, right in zip(track_boxes(pair_all, 1), track_boxes(pair_all, 2), strict=True):
        assert left[2] < width <= right[0], (left, right)


@pytest.mark.parametrize(("chosen", "other"), [(1, 2), (2, 1)])
def test_faces_n_swaps_only_that_person(
    engine: ClassicEngine,
    sample_clip: Clip,
    sample_face: U8,
    pair_all: SwapOutput,
    chosen: int,
    other: int,
) -> None:
    frames = two_people(sample_clip)
    out = engine.swap(sample_face, frames, faces=chosen, durations_ms=sample_clip.durations_ms)
    assert [t.selected for t in out.tracks] == [t.number == chosen for t in out.tracks]
    assert out.frames_swapped == len(frames)
    mine = track_boxes(out, chosen)
    assert all(f.track == chosen for per_frame in out.faces for f in per_frame)
    others = track_boxes(pair_all, other)
    for i, (a, b) in enumerate(zip(frames, out.frames, strict=True)):
        assert region_diff(a, b, mine[i]) > FACE_CHANGED, f"frame {i}: face {chosen} unchanged"
        assert region_diff(a, b, others[i]) < UNTOUCHED, f"frame {i}: face {other} changed"
        assert outside_diff(a, b, [mine[i]]) <= UNTOUCHED, f"frame {i}: more than face changed"


def test_faces_all_swaps_both(pair_all: SwapOutput, sample_clip: Clip) -> None:
    frames = two_people(sample_clip)
    boxes = {n: track_boxes(pair_all, n) for n in (1, 2)}
    for i, (a, b) in enumerate(zip(frames, pair_all.frames, strict=True)):
        for n in (1, 2):
            assert region_diff(a, b, boxes[n][i]) > FACE_CHANGED, f"frame {i}, face {n}"
        assert outside_diff(a, b, [boxes[1][i], boxes[2][i]]) <= UNTOUCHED, f"frame {i}"


def test_face_number_beyond_the_clip_fails(
    engine: ClassicEngine, sample_clip: Clip, sample_face: U8
) -> None:
    with pytest.raises(FaceNotFound, match="2 faces"):
        engine.swap(sample_face, two_people(sample_clip), faces=3)


# --- 3. bad input -------------------------------------------------------------------------------


def coffee() -> U8:
    import skimage.data

    return np.ascontiguousarray(skimage.data.coffee(), dtype=np.uint8)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("photo", [coffee, lambda: gradient(400, 300)], ids=["coffee", "gradient"])
def test_photo_without_a_face(
    engine: ClassicEngine, sample_clip: Clip, photo: Callable[[], U8]
) -> None:
    with pytest.raises(NoFaceInSource):
        engine.swap(photo(), sample_clip.frames)


def test_photo_without_a_face_stops_the_clip_pass_early(
    engine: ClassicEngine, sample_clip: Clip
) -> None:
    """The photo is searched beside the clip's landmark pass; its failure ends that pass
    instead of leaving the user to wait for every frame first."""
    frames = list(sample_clip.frames) * 10
    done: list[int] = []
    with pytest.raises(NoFaceInSource):
        engine.swap(coffee(), frames, on_progress=lambda d, _: done.append(d))
    assert max(done, default=0) < len(frames) // 2, f"{max(done)} of {len(frames)} frames"


def test_a_second_face_in_the_count_restarts_the_clip_pass_at_once(
    engine: ClassicEngine, sample_clip: Clip, sample_face: U8, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-face pass gives up as soon as a sampled frame shows two faces, before the count
    has finished (here it finishes when the two-face pass shows its first frame), and the
    two-face pass is kept: both people have landmarks in every frame."""
    frames = two_people(sample_clip)
    looked = Looked(Pictures(frames), len(frames), 1)
    counting: Future[int] = Future()
    seen = _FaceCount()
    seen.update(2)
    preparing: Future[SourceFace] = Future()
    preparing.set_result(engine.prepare_source(sample_face))
    passes: list[tuple[int, int]] = []
    track = engine._landmarks.track

    def counted(
        frames: Indexed,
        faces: int,
        give_up: Callable[[], bool],
        on_frame: Callable[[int], None],
        expected: int,
    ) -> list[list[NDArray[np.float32]]] | None:
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += 1
            on_frame(n)

        try:
            return track(frames, faces, give_up, tick, expected)
        finally:
            passes.append((faces, done))

    def progress(done: int, total: int) -> None:
        if not counting.done():
            counting.set_result(2)

    monkeypatch.setattr(engine._landmarks, "track", counted)
    found, faces = engine._detect_clip(looked, counting, seen, preparing, progress, len(frames))
    assert (faces, passes) == (2, [(1, 0), (2, len(frames))])
    assert [len(f) for f in found] == [2] * len(frames)


def test_frames_still_arriving_are_swapped_as_they_come(
    engine: ClassicEngine, sample_clip: Clip, sample_face: U8
) -> None:
    """The clip's frames may still be decoding: the landmark pass starts on the first half
    (the second is only sent once it has), the durations fill in meanwhile, and the result is
    the swap of the frames all at once."""
    frames, durations = list(sample_clip.frames), list(sample_clip.durations_ms)
    at_once = engine.swap(sample_face, frames, durations_ms=durations)
    feed, arrived = FrameFeed(len(frames)), list[float]()
    half = len(frames) // 2
    for i in range(half):
        arrived.append(durations[i])
        feed.put(i, frames[i])
    started = threading.Event()

    def progress(done: int, total: int) -> None:
        started.set()

    def rest() -> None:
        if not started.wait(timeout=60):  # a guard, not a clock: the pass has to start first
            feed.abort()
            return
        for i in range(half, len(frames)):
            arrived.append(durations[i])
            feed.put(i, frames[i])

    sender = threading.Thread(target=rest)
    sender.start()
    try:
        out = engine.swap(sample_face, feed, on_progress=progress, durations_ms=arrived)
    finally:
        sender.join()
    assert all(np.array_equal(a, b) for a, b in zip(out.frames, at_once.frames, strict=True))
    assert out.tracks == at_once.tracks


def test_clip_without_a_face(engine: ClassicEngine, sample_face: U8) -> None:
    frame = np.asarray(cv2.resize(coffee(), (320, 240), interpolation=cv2.INTER_AREA), np.uint8)
    with pytest.raises(NoFaceInTarget):
        engine.swap(sample_face, [frame.copy() for _ in range(5)])


def test_photo_with_two_faces_uses_the_largest(
    engine: ClassicEngine, sample_clip: Clip, sample_face: U8
) -> None:
    h, w = sample_face.shape[:2]
    small = cv2.resize(sample_face, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    column = np.full((h, w // 2, 3), 128, dtype=np.uint8)
    column[: small.shape[0]] = small
    out = engine.swap(np.hstack([sample_face, column]), sample_clip.frames)
    assert out.source_faces_found == 2
    assert out.frames_swapped == len(sample_clip.frames)
    note = " ".join(out.notes)
    assert "2 faces" in note and "largest" in note, out.notes


# --- 4. temporal stability ----------------------------------------------------------------------


def test_output_does_not_jitter_more_than_input(swapped: SwapOutput, sample_clip: Clip) -> None:
    jitter_in = landmark_jitter(sample_clip.frames)
    jitter_out = landmark_jitter(swapped.frames)
    assert jitter_in > 0  # the sample clip moves: the ratio means something
    assert jitter_out <= jitter_in * MAX_JITTER_RATIO, (jitter_in, jitter_out)


# --- 5. gap filling (the tracker alone, synthetic landmarks) ------------------------------------

STEP = np.array([3.0, -2.0, 0.5], dtype=np.float32)  # movement per frame


def face_points() -> NDArray[np.float32]:
    """468 points on a face-sized ellipse-ish cloud, fixed seed."""
    rng = np.random.default_rng(7)
    pts = rng.normal(size=(468, 3)) * np.array([40.0, 55.0, 20.0]) + np.array([160, 120, 0])
    return np.asarray(pts, dtype=np.float32)


def moving(frames: int, missing: set[int]) -> list[list[NDArray[np.float32]]]:
    base = face_points()
    return [[] if t in missing else [base + t * STEP] for t in range(frames)]


def test_short_gap_is_interpolated() -> None:
    detections = moving(10, missing={4})
    tracks = build_tracks(detections, max_gap=2)
    assert len(tracks) == 1
    track = tracks[0]
    assert sorted(track.raw) == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    smooth_track(track, max_gap=2, window=5, shape_window=7)
    assert track.interpolated == {4}
    assert sorted(track.smoothed) == list(range(10))
    halfway = (track.raw[3] + track.raw[5]) / 2
    np.testing.assert_allclose(track.smoothed[4], halfway, atol=0.05)
    # linear motion survives the smoothing unchanged
    for t in track.raw:
        np.testing.assert_allclose(track.smoothed[t], track.raw[t], atol=0.05)


def test_long_gap_is_not_filled() -> None:
    gap = {3, 4, 5, 6}  # four frames missing; max_gap is 2
    # smooth_track on one track with a long hole: both sides kept, the hole left empty
    track = FaceTrack(number=1)
    for t, faces in enumerate(moving(12, missing=gap)):
        if faces:
            track.raw[t] = faces[0]
    smooth_track(track, max_gap=2, window=5, shape_window=7)
    assert track.interpolated == set()
    assert sorted(track.smoothed) == [0, 1, 2, 7, 8, 9, 10, 11]
    for t in track.raw:
        np.testing.assert_allclose(track.smoothed[t], track.raw[t], atol=0.05)
    # build_tracks does not link across it either: the face comes back as a new track
    tracks = build_tracks(moving(12, missing=gap), max_gap=2)
    assert [sorted(tr.raw) for tr in tracks] == [[0, 1, 2], [7, 8, 9, 10, 11]]
    for tr in tracks:
        smooth_track(tr, max_gap=2, window=5, shape_window=7)
        assert tr.interpolated == set()
        assert not gap & set(tr.smoothed)


def test_the_engine_keeps_numpys_blas_to_one_thread(engine: ClassicEngine) -> None:
    """BLAS threads spin after each small product: with two of them, a 30-frame clip used
    80 ms more CPU (of 190), taken from the encoder beside the engine (bench/README)."""
    from threadpoolctl import threadpool_info

    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas, "numpy's BLAS is not seen"
    assert [pool["num_threads"] for pool in blas] == [1] * len(blas)
