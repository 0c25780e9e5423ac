"""``swap_files``: the encoder runs beside the engine, fed frame by frame; a failing engine
stops it cleanly and leaves no output; engines that hand frames over only at the end still work.
Stand-in engines (tint the frames) keep these tests about the plumbing, not the faces."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from core.config import MediaLimits
from core.errors import NoFaceInTarget
from gpu_worker.engines.base import FaceSelection, Frame, FrameSink, ModelInfo, Progress, SwapOutput
from gpu_worker.media import load_clip
from gpu_worker.media.feed import FeedAborted, FrameFeed
from gpu_worker.swap import swap_files
from tests.conftest import SampleFiles

WAIT_S = 30.0


def tinted(frame: Frame) -> Frame:
    out = frame.copy()
    out[:, :, 0] = 255 - out[:, :, 0]
    return out


class TintEngine:
    """Inverts the red channel of every frame; optionally fails at frame ``fail_at``, holds
    every frame back until the end (``streams=False``), or calls ``before_frame(i)`` before
    handing frame ``i`` over."""

    name = "tint"
    device = "cpu"
    models: tuple[ModelInfo, ...] = ()

    def __init__(
        self,
        *,
        fail_at: int | None = None,
        streams: bool = True,
        before_frame: Callable[[int], None] | None = None,
    ) -> None:
        self.fail_at = fail_at
        self.streams = streams
        self.before_frame = before_frame
        self.stages_seen: list[str] = []

    def swap(
        self,
        source: Frame,
        frames: Sequence[Frame],
        *,
        faces: FaceSelection = "largest",
        on_progress: Progress | None = None,
        durations_ms: Sequence[float] | None = None,
        on_frame: FrameSink | None = None,
    ) -> SwapOutput:
        out: list[Frame] = []
        for i, frame in enumerate(frames):
            if i == self.fail_at:
                raise NoFaceInTarget("No face found in any frame of the GIF/video.")
            out.append(tinted(frame))
            if self.before_frame is not None:
                self.before_frame(i)
            if on_frame is not None and self.streams:
                on_frame(i, out[-1])
            if on_progress is not None:
                on_progress(i + 1, len(frames))
        return SwapOutput(frames=out, faces=[[] for _ in out], tracks=[], source_faces_found=1)

    def close(self) -> None:
        return None


@pytest.mark.parametrize("streams", [True, False], ids=["frame-by-frame", "all-at-the-end"])
@pytest.mark.parametrize("ext", [".mp4", ".gif"])
def test_the_output_holds_every_engine_frame_in_order(
    tmp_path: Path, sample_files: SampleFiles, streams: bool, ext: str
) -> None:
    out = tmp_path / f"out{ext}"
    stages: list[tuple[str, int, int]] = []
    report = swap_files(
        sample_files.target,
        sample_files.source,
        out,
        engine=TintEngine(streams=streams),
        limits=MediaLimits(),
        on_progress=lambda stage, done, total: stages.append((stage, done, total)),
    )
    original = load_clip(sample_files.target, MediaLimits())
    written = load_clip(out, MediaLimits())
    assert len(written) == report.frames == len(original) == 24
    for made, source_frame in zip(written.frames, original.frames, strict=True):
        # lossy MP4: close to the tinted frame and far from the untouched one
        expected = tinted(source_frame).astype(np.int16)
        assert np.abs(made.astype(np.int16) - expected).mean() < 6
    # one stage after the other: every swap step, then the encoder's (which ends complete)
    names = [s for s, _, _ in stages]
    assert names == sorted(names, key=["swap", "encode"].index)
    assert stages[-1] == ("encode", 24, 24)
    assert [d for s, d, _ in stages if s == "swap"] == list(range(1, 25))


def test_a_failing_engine_stops_the_encoder_and_writes_nothing(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    out = tmp_path / "out.mp4"
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(NoFaceInTarget):
        swap_files(
            sample_files.target,
            sample_files.source,
            out,
            engine=TintEngine(fail_at=5),
            limits=MediaLimits(),
        )
    assert list(tmp_path.iterdir()) == []
    left = {t.name for t in threading.enumerate()} - before
    assert not [name for name in left if name.startswith("swapzy-encode")]


def test_the_feed_hands_each_frame_over_when_it_is_put() -> None:
    feed = FrameFeed(3)
    frames = [np.full((2, 2, 3), i, np.uint8) for i in range(3)]
    got: list[int] = []
    reader = threading.Thread(target=lambda: got.extend(int(f[0, 0, 0]) for f in feed))
    reader.start()
    feed.put(0, frames[0])
    feed.fill(frames)  # fills only what is missing
    reader.join(WAIT_S)
    assert got == [0, 1, 2]
    assert len(feed) == 3 and int(feed[-1][0, 0, 0]) == 2
    assert [int(f[0, 0, 0]) for f in feed[1:]] == [1, 2]
    with pytest.raises(IndexError):
        feed[3]


def test_an_aborted_feed_releases_a_waiting_reader() -> None:
    feed = FrameFeed(2)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            feed[1]
        except FeedAborted as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    feed.abort()
    reader.join(WAIT_S)
    assert not reader.is_alive()
    assert len(errors) == 1
