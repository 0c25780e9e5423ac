"""A GIF decoded in a thread while the engine already reads its first frames (stream.py): the
stream is the clip ``load_clip`` gives, a frame that cannot be decoded reaches whoever waits
for it as the user's "damaged" message (the frames before it are there), other kinds are
decoded whole, and ``swap_files`` writes the same output from a stream as from a clip (also
where the plan's resolution cap needs the whole clip first)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.config import MediaLimits
from core.errors import CorruptMedia, NoFaceInTarget
from gpu_worker.media import Clip, load_clip, save_clip
from gpu_worker.media.stream import Cancelled, ClipStream, stream_clip
from gpu_worker.plan_terms import ClipTerms
from gpu_worker.swap import SwapReport, swap_files
from tests.conftest import SampleFiles
from tests.gpu_worker.test_swap import TintEngine
from tests.media_files import damaged_at, distinct_frames, write_transparent_gif

LIMITS = MediaLimits()


def streamed(path: Path) -> ClipStream:
    stream = stream_clip(path, LIMITS)
    assert isinstance(stream, ClipStream)
    return stream


def tinted(
    target: Path,
    clip: Clip | ClipStream,
    out: Path,
    *,
    terms: ClipTerms | None = None,
    engine: TintEngine | None = None,
) -> SwapReport:
    """``swap_files`` with the inputs handed over (``swapzy swap``'s way), tinting the frames."""
    face = np.zeros((64, 64, 3), np.uint8)  # the tint engine looks at no face
    return swap_files(
        target,
        target,
        out,
        engine=engine or TintEngine(),
        limits=LIMITS,
        terms=terms,
        inputs=(face, clip),
    )


def same_clip(a: Clip, b: Clip) -> None:
    assert len(a) == len(b)
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames, strict=True))
    assert (a.durations_ms, a.loop, a.source_kind) == (b.durations_ms, b.loop, b.source_kind)
    assert (a.alpha is None) == (b.alpha is None)
    if a.alpha is not None and b.alpha is not None:
        assert all(np.array_equal(x, y) for x, y in zip(a.alpha, b.alpha, strict=True))
    assert a.palettes is not None and b.palettes is not None
    assert all(
        (x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y))
        for x, y in zip(a.palettes, b.palettes, strict=True)
    )


def test_a_streamed_gif_is_the_clip_load_clip_gives(sample_files: SampleFiles) -> None:
    stream = streamed(sample_files.target)
    whole = load_clip(sample_files.target, LIMITS)
    assert len(stream.frames) == len(whole) and stream.size == whole.size
    assert all(np.array_equal(f, g) for f, g in zip(stream.frames, whole.frames, strict=True))
    assert stream.durations_ms == whole.durations_ms
    same_clip(stream.clip(), whole)


def test_a_see_through_gif_streams_with_its_transparency(tmp_path: Path) -> None:
    path = write_transparent_gif(tmp_path / "sticker.gif", [40, 60, 80, 100])
    same_clip(streamed(path).clip(), load_clip(path, LIMITS))


def test_other_kinds_are_decoded_whole(tmp_path: Path) -> None:
    clip = Clip(frames=distinct_frames(4), durations_ms=[100.0] * 4)
    save_clip(clip, tmp_path / "clip.webp")
    got = stream_clip(tmp_path / "clip.webp", LIMITS)
    assert isinstance(got, Clip) and len(got) == 4


def test_a_frame_that_cannot_be_decoded_fails_the_stream_there(tmp_path: Path) -> None:
    save_clip(Clip(frames=distinct_frames(8), durations_ms=[50.0] * 8), tmp_path / "a.gif")
    stream = streamed(damaged_at(tmp_path / "a.gif", 5))
    assert [f.shape for f in stream.frames[:5]] == [(48, 64, 3)] * 5
    with pytest.raises(CorruptMedia, match="damaged and cannot be decoded"):
        stream.frames[5]
    with pytest.raises(CorruptMedia, match="damaged and cannot be decoded"):
        stream.clip()


def test_a_failing_engine_stops_the_decoder(tmp_path: Path) -> None:
    """Nobody reads on once the engine has failed: the decoder stops at its next frame
    instead of decoding the rest of a long clip for no one."""
    long = Clip(frames=distinct_frames(300, 320, 240), durations_ms=[40.0] * 300)
    save_clip(long, tmp_path / "long.gif")
    stream = streamed(tmp_path / "long.gif")
    with pytest.raises(NoFaceInTarget):
        tinted(tmp_path / "long.gif", stream, tmp_path / "out.gif", engine=TintEngine(fail_at=0))
    with pytest.raises(Cancelled):
        stream.clip()  # waits for the decoder to stop
    assert not stream.frames.complete()


def test_swap_files_writes_a_streamed_clip_as_a_decoded_one(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    target = sample_files.target
    streamed_out, decoded_out = tmp_path / "streamed.gif", tmp_path / "decoded.gif"
    assert tinted(target, stream_clip(target, LIMITS), streamed_out).frames == 24
    assert tinted(target, load_clip(target, LIMITS), decoded_out).frames == 24
    assert streamed_out.read_bytes() == decoded_out.read_bytes()


def test_a_plan_s_resolution_cap_waits_for_the_whole_stream(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    out = tmp_path / "capped.gif"
    stream = stream_clip(sample_files.target, LIMITS)
    report = tinted(sample_files.target, stream, out, terms=ClipTerms(max_side=160))
    written = load_clip(out, LIMITS)
    assert report.size == written.size == (160, 120) and len(written) == 24


def test_a_damaged_stream_gets_the_user_s_message_and_writes_nothing(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    damaged = damaged_at(sample_files.target, 12)
    out = tmp_path / "out.gif"
    with pytest.raises(CorruptMedia, match="damaged and cannot be decoded"):
        tinted(damaged, stream_clip(damaged, LIMITS), out)
    assert not out.exists() and not list(tmp_path.glob(".*partial"))
