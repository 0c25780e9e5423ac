"""gpu_worker.media: what goes in comes out. Size, frame count, per-frame timing, loop count and
transparency survive ``save_clip`` + ``load_clip``; untouched GIF pixels come back bit for bit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PIL.JpegImagePlugin import JpegImageFile

from core.config import MediaLimits
from core.errors import CorruptMedia, TooManyFrames, TooManyPixels, UnsupportedOutput
from gpu_worker.media import Clip, load_clip, load_face_photo, save_clip
from gpu_worker.media.decode import FACE_PHOTO_MAX_SIDE, face_photo_size
from gpu_worker.media.encode import encode_gif
from gpu_worker.media.feed import FeedAborted, FrameFeed
from tests.conftest import SHARED_MEDIA, SampleFiles
from tests.media_files import (
    U8,
    assert_user_message,
    crafted_gif,
    distinct_frames,
    gradient,
    write_pillow_gif,
    write_transparent_gif,
)

LIMITS = MediaLimits()
DURATIONS = [80.0, 120.0, 40.0, 60.0, 200.0, 100.0]  # whole centiseconds: exact in every format


def mean_abs_diff(a: U8, b: U8) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def through(clip: Clip, path: Path) -> Clip:
    save_clip(clip, path)
    return load_clip(path, LIMITS)


# --- structure and timing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [(".gif", ".gif"), (".gif", ".mp4"), (".gif", ".webp"), (".mp4", ".gif"), (".webp", ".gif")],
)
def test_round_trip_keeps_size_frame_count_and_each_duration(
    tmp_path: Path, first: str, second: str
) -> None:
    original = Clip(frames=distinct_frames(6, 90, 60), durations_ms=list(DURATIONS), loop=0)
    loaded = through(original, tmp_path / f"in{first}")
    again = through(loaded, tmp_path / f"out{second}")
    for clip in (loaded, again):
        assert clip.size == (90, 60)
        assert len(clip) == 6
        assert clip.durations_ms == DURATIONS
        assert clip.loop == 0
        # Still the same pictures in the same order (lossy formats: a few levels of noise;
        # neighbouring frames differ by far more).
        for mine, theirs in zip(clip.frames, original.frames, strict=True):
            assert mean_abs_diff(mine, theirs) < 10


def test_gif_durations_in_centiseconds_come_back_exactly(tmp_path: Path) -> None:
    durations = [80, 120, 40, 20, 70, 10, 990, 30]
    path = write_pillow_gif(tmp_path / "in.gif", distinct_frames(8), durations)
    clip = load_clip(path, LIMITS)
    assert clip.durations_ms == [float(d) for d in durations]
    assert through(clip, tmp_path / "out.gif").durations_ms == clip.durations_ms


@pytest.mark.parametrize("ext", [".gif", ".mp4", ".webp"])
def test_video_rate_frames_keep_the_total_duration(tmp_path: Path, ext: str) -> None:
    """30 fps frames (33.3 ms) cannot be stored exactly in centiseconds or milliseconds; the
    rounding is cumulative, so no frame is off by more than a unit and the clip never drifts."""
    clip = Clip(frames=distinct_frames(30), durations_ms=[1000 / 30] * 30)
    back = through(clip, tmp_path / f"clip{ext}")
    assert len(back) == 30
    assert abs(back.duration_ms - 1000.0) < 10
    unit = 10.0 if ext == ".gif" else 1.0
    assert all(abs(d - 1000 / 30) <= unit for d in back.durations_ms)
    ends = np.cumsum(back.durations_ms)
    exact = np.cumsum([1000 / 30] * 30)
    assert float(np.abs(ends - exact).max()) <= unit / 2 + 0.01


@pytest.mark.parametrize("ext", [".gif", ".webp"])
@pytest.mark.parametrize("loop", [0, 3, None])
def test_loop_count_survives(tmp_path: Path, ext: str, loop: int | None) -> None:
    source = write_pillow_gif(tmp_path / "in.gif", distinct_frames(4), [100] * 4, loop=loop)
    clip = load_clip(source, LIMITS)
    assert clip.loop == loop
    assert through(clip, tmp_path / f"out{ext}").loop == loop


def test_a_video_becomes_a_gif_that_loops_forever(tmp_path: Path) -> None:
    clip = Clip(frames=distinct_frames(4), durations_ms=[100.0] * 4, loop=None)
    video = through(clip, tmp_path / "in.mp4")
    assert through(video, tmp_path / "out.gif").loop == 0


@pytest.mark.parametrize("ext", [".gif", ".mp4", ".webp"])
def test_identical_consecutive_frames_are_not_merged(tmp_path: Path, ext: str) -> None:
    a, b = distinct_frames(2)
    frames = [a, a.copy(), a.copy(), b, b.copy()]
    durations = [100.0, 200.0, 300.0, 400.0, 500.0]
    back = through(Clip(frames=frames, durations_ms=durations), tmp_path / f"still{ext}")
    assert len(back) == 5
    assert back.durations_ms == durations


# --- pixels ---------------------------------------------------------------------------------


def test_a_repeated_frame_decodes_as_the_same_picture_in_gif(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    """A held picture (the swap repeats it) is written with the same palette, even where the
    input frames it stands for had different palettes: no re-quantised copy that flickers."""
    clip = load_clip(sample_files.target, LIMITS)
    edited = clip.frames[0].copy()
    edited[100:140, 140:180] = gradient(40, 40)  # colours no input palette has
    frames = [edited, edited, edited.copy(), *clip.frames[3:]]
    back = through(clip.with_frames(frames), tmp_path / "held.gif")
    assert np.array_equal(back.frames[0], back.frames[1])
    assert np.array_equal(back.frames[0], back.frames[2])
    assert mean_abs_diff(back.frames[0], edited) < 2


def test_gif_to_gif_with_unchanged_pixels_is_bit_exact(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    clip = load_clip(sample_files.target, LIMITS)
    back = through(clip, tmp_path / "same.gif")
    assert len(back) == len(clip) == 24
    assert max(mean_abs_diff(a, b) for a, b in zip(clip.frames, back.frames, strict=True)) == 0
    assert back.durations_ms == clip.durations_ms


def test_gif_keeps_untouched_pixels_exact_around_an_edit(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    """What a swap does: new colours in one region; the rest of each frame stays exact."""
    clip = load_clip(sample_files.target, LIMITS)
    edited = [f.copy() for f in clip.frames]
    for frame in edited:
        frame[100:140, 140:180] = gradient(40, 40)
    back = through(clip.with_frames(edited), tmp_path / "edited.gif")
    outside = np.ones((240, 320), bool)
    outside[100:140, 140:180] = False
    for before, after in zip(clip.frames, back.frames, strict=True):
        assert np.array_equal(before[outside], after[outside])


def test_transparency_survives_gif_to_gif(tmp_path: Path) -> None:
    clip = load_clip(write_transparent_gif(tmp_path / "in.gif", [80, 120, 40, 60]), LIMITS)
    assert clip.alpha is not None
    assert [int((a == 0).sum()) for a in clip.alpha] == [30 * 50 - 20 * 15] * 4
    back = through(clip, tmp_path / "out.gif")
    assert back.alpha is not None
    for before, after, alpha in zip(clip.frames, back.frames, clip.alpha, strict=True):
        assert np.array_equal(before[alpha > 0], after[alpha > 0])
    assert all(np.array_equal(a, b) for a, b in zip(clip.alpha, back.alpha, strict=True))
    assert back.durations_ms == [80.0, 120.0, 40.0, 60.0]


def test_transparency_survives_gif_to_webp(tmp_path: Path) -> None:
    clip = load_clip(write_transparent_gif(tmp_path / "in.gif", [80, 120, 40, 60]), LIMITS)
    back = through(clip, tmp_path / "out.webp")
    assert clip.alpha is not None and back.alpha is not None
    for before, after in zip(clip.alpha, back.alpha, strict=True):
        assert np.array_equal(before > 127, after > 127)


def test_odd_dimensions_survive_mp4(tmp_path: Path) -> None:
    clip = Clip(frames=distinct_frames(5, 101, 77), durations_ms=[40.0] * 5)
    back = through(clip, tmp_path / "odd.mp4")
    assert back.size == (101, 77)
    assert len(back) == 5
    assert back.durations_ms == [40.0] * 5
    assert mean_abs_diff(np.stack(back.frames), np.stack(clip.frames)) < 3


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_a_still_image_target_is_a_one_frame_clip(tmp_path: Path, ext: str) -> None:
    picture = gradient(120, 80)
    Image.fromarray(picture).save(tmp_path / f"still{ext}")
    clip = load_clip(tmp_path / f"still{ext}", LIMITS)
    assert len(clip) == 1
    assert clip.size == (120, 80)
    assert clip.loop is None
    assert mean_abs_diff(clip.frames[0], picture) < (0.01 if ext == ".png" else 3)
    video = through(clip, tmp_path / "still.mp4")
    assert len(video) == 1
    assert video.duration_ms > 0  # a one-frame video still shows for a moment


def test_the_face_photo_honours_exif_orientation(tmp_path: Path) -> None:
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:, :30] = (255, 0, 0)  # left half red
    stored[:, 30:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show it rotated 90° clockwise
    Image.fromarray(stored).save(tmp_path / "turned.jpg", exif=exif, quality=95)
    face = load_face_photo(tmp_path / "turned.jpg", LIMITS)
    assert face.shape == (60, 40, 3)
    assert mean_abs_diff(face, np.rot90(stored, k=-1)) < 3  # red on top, blue below


def test_a_very_large_jpeg_is_decoded_at_a_reduced_scale_then_scaled_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 20 Mpx phone photo was decoded whole (the draft asked for 2048 on both sides, which
    its short side cannot give at half scale), then scaled down: 0.3 s. Asking for the size
    it will be scaled to lets libjpeg decode it at half scale (0.12 s)."""
    Image.fromarray(gradient(4400, 1200)).save(tmp_path / "huge.jpg", quality=80)
    decoded: list[tuple[int, int]] = []
    draft = JpegImageFile.draft

    def watched(im: JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> Any:
        result = draft(im, mode, size)
        decoded.append(im.size)
        return result

    monkeypatch.setattr(JpegImageFile, "draft", watched)
    face = load_face_photo(tmp_path / "huge.jpg", LIMITS)
    assert decoded == [(2200, 600)]  # half scale, still above the size it is scaled to
    assert face.shape == (559, 2048, 3)
    assert mean_abs_diff(face[:, ::4], gradient(2048, 559)[:, ::4]) < 3
    assert face_photo_size(800, 600) == (800, 600)


def test_a_large_face_photo_is_scaled_down(tmp_path: Path) -> None:
    Image.fromarray(gradient(3000, 1000)).save(tmp_path / "big.jpg", quality=80)
    face = load_face_photo(tmp_path / "big.jpg", LIMITS)
    assert max(face.shape[:2]) == FACE_PHOTO_MAX_SIDE
    assert abs(face.shape[1] / face.shape[0] - 3.0) < 0.01


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (crafted_gif(screen=(8000, 8000)), TooManyPixels),
        (crafted_gif(screen=(1, 1), frame_box=(0, 0, 8000, 8000)), TooManyPixels),
        (crafted_gif(screen=(1, 1), frames=5000), TooManyFrames),
    ],
    ids=["huge-screen", "huge-frame", "5000-frames"],
)
def test_gif_bombs_are_refused_before_decoding(
    tmp_path: Path, data: bytes, error: type[Exception]
) -> None:
    (tmp_path / "bomb.gif").write_bytes(data)
    started = time.perf_counter()
    with pytest.raises(error):
        load_clip(tmp_path / "bomb.gif", LIMITS)
    assert time.perf_counter() - started < 1.0  # a safety bound, not a benchmark


def test_a_clip_over_the_total_pixel_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    """50 frames of 1 Mpx from a 1 KB file: refused at once, not decoded and then refused."""
    (tmp_path / "big.gif").write_bytes(crafted_gif(screen=(1000, 1000), frames=50))
    started = time.perf_counter()
    with pytest.raises(TooManyPixels) as caught:
        load_clip(tmp_path / "big.gif", MediaLimits(max_total_pixels=10_000_000))
    assert time.perf_counter() - started < 1.0
    assert_user_message(caught.value.message)
    assert "50 frames of 1000×1000" in caught.value.message


def test_a_truncated_gif_is_corrupt(tmp_path: Path, sample_files: SampleFiles) -> None:
    data = sample_files.target.read_bytes()
    (tmp_path / "cut.gif").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptMedia) as caught:
        load_clip(tmp_path / "cut.gif", LIMITS)
    assert_user_message(caught.value.message)


@pytest.mark.parametrize("name", ["out.png", "out.avi", "out", "out.gif.txt"])
def test_an_unsupported_output_is_refused_and_nothing_is_written(tmp_path: Path, name: str) -> None:
    clip = Clip(frames=distinct_frames(2), durations_ms=[100.0, 100.0])
    with pytest.raises(UnsupportedOutput) as caught:
        save_clip(clip, tmp_path / name)
    assert_user_message(caught.value.message)
    assert list(tmp_path.iterdir()) == []


# --- the real media in ../shared/media -------------------------------------------------------


def _shared_animations() -> list[str]:
    found = sorted(p.name for p in (SHARED_MEDIA / "animations").glob("*") if p.is_file())
    return found or ["(../shared/media absent)"]


@pytest.mark.shared_media
@pytest.mark.parametrize("name", _shared_animations())
def test_real_animations_round_trip_through_gif(
    tmp_path: Path, shared_media: Path, name: str
) -> None:
    source = shared_media / "animations" / name
    clip = load_clip(source, LIMITS)
    back = through(clip, tmp_path / "out.gif")
    assert back.size == clip.size
    assert len(back) == len(clip)
    assert back.loop == clip.loop
    if source.suffix == ".gif":
        assert back.durations_ms == clip.durations_ms
        assert max(mean_abs_diff(a, b) for a, b in zip(clip.frames, back.frames, strict=True)) == 0
    else:
        assert abs(back.duration_ms - clip.duration_ms) < 10
        assert max(mean_abs_diff(a, b) for a, b in zip(clip.frames, back.frames, strict=True)) < 4


@pytest.mark.shared_media
@pytest.mark.parametrize("name", _shared_animations())
def test_real_animations_round_trip_through_mp4(
    tmp_path: Path, shared_media: Path, name: str
) -> None:
    clip = load_clip(shared_media / "animations" / name, LIMITS)
    back = through(clip, tmp_path / "out.mp4")
    assert back.size == clip.size
    assert len(back) == len(clip)
    assert abs(back.duration_ms - clip.duration_ms) < 1
    assert np.allclose(back.durations_ms, clip.durations_ms, atol=0.01)


def test_a_big_unturned_photo_comes_out_as_the_photo_scaled_down(tmp_path: Path) -> None:
    """A 3880×5184 phone photo with no orientation tag: not copied upright first (that copy
    took 0.1 s), and still the photo scaled to 2048 high, as Lanczos makes it."""
    big = np.asarray(Image.fromarray(gradient(388, 518)).resize((3880, 5184)), dtype=np.uint8)
    Image.fromarray(big).save(tmp_path / "phone.jpg", quality=90)
    face = load_face_photo(tmp_path / "phone.jpg", LIMITS)
    assert face.shape in {(2048, 1532, 3), (2048, 1533, 3)}
    reference = Image.fromarray(big).resize(
        (face.shape[1], face.shape[0]), Image.Resampling.LANCZOS
    )
    assert mean_abs_diff(face, np.asarray(reference)) < 2


def test_a_gif_stops_with_the_error_when_frames_stop_coming() -> None:
    """The palette stage runs on a thread of its own: when the engine stops mid-clip (the
    feed is aborted), encoding ends with that error after the frames that came, and the
    calling thread is not left waiting."""
    frames = distinct_frames(6)
    feed = FrameFeed(len(frames))
    for i in range(3):
        feed.put(i, frames[i])
    feed.abort()
    written: list[int] = []
    clip = Clip(frames=feed, durations_ms=DURATIONS, loop=0)
    with pytest.raises(FeedAborted):
        encode_gif(clip, lambda done, total: written.append(done))
    assert written == [1, 2, 3]
