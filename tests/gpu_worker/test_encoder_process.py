"""The encoder process writes what the in-process encoder writes, clip after clip in one
child; an engine that fails mid-clip leaves it ready for the next clip; a child that dies
mid-clip costs the user nothing (the clip is encoded in-process) and is replaced."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from core.config import MediaLimits
from core.errors import NoFaceInTarget
from gpu_worker.engines.base import Frame
from gpu_worker.media import Clip, load_clip
from gpu_worker.media.encode import encode_clip
from gpu_worker.media.encoder_process import EncodeFailed, EncoderProcess
from gpu_worker.media.feed import FeedAborted, FrameFeed
from gpu_worker.swap import swap_files
from tests.conftest import SampleFiles
from tests.gpu_worker.test_swap import TintEngine, tinted
from tests.media_files import distinct_frames

DURATIONS = [80.0, 120.0, 40.0, 60.0, 200.0, 100.0]


@pytest.fixture
def encoder() -> Iterator[EncoderProcess]:
    process = EncoderProcess()
    try:
        yield process
    finally:
        process.close()


def clip_of(frames: Sequence[Frame], alpha: list[NDArray[np.uint8]] | None = None) -> Clip:
    return Clip(frames=frames, durations_ms=DURATIONS[: len(frames)], loop=0, alpha=alpha)


@pytest.mark.parametrize("ext", [".gif", ".webp", ".mp4"])
def test_the_child_writes_what_this_process_writes(
    tmp_path: Path, encoder: EncoderProcess, ext: str
) -> None:
    frames = distinct_frames(6)
    alpha = [np.full(frames[0].shape[:2], 255 if i % 2 else 0, np.uint8) for i in range(6)]
    seen: list[int] = []
    for clip in (clip_of(frames), clip_of(frames, alpha=alpha)):
        seen.clear()
        got = encoder.encode(clip, ext).result(lambda done, total: seen.append(done))
        here = encode_clip(clip, ext)
        assert seen == [1, 2, 3, 4, 5, 6]
        if ext != ".mp4":
            assert got == here
            continue
        # x264's threads do not promise the same bytes twice (1 encode in ~40 differs here,
        # in one process as in a child, by ~1.1 grey levels); the same clip is what counts
        (tmp_path / "child.mp4").write_bytes(got)
        (tmp_path / "here.mp4").write_bytes(here)
        a, b = (load_clip(tmp_path / f"{n}.mp4", MediaLimits()) for n in ("child", "here"))
        assert len(a) == len(b) == 6 and a.durations_ms == b.durations_ms
        for x, y in zip(a.frames, b.frames, strict=True):
            assert np.abs(x.astype(np.int16) - y.astype(np.int16)).mean() < 2.0


def test_clip_after_clip_in_one_child_and_an_aborted_clip_between(
    encoder: EncoderProcess,
) -> None:
    pid = encoder.pid
    frames = distinct_frames(6)
    feed = FrameFeed(6)
    for i in range(2):
        feed.put(i, frames[i])
    feed.abort()  # the engine failed after two frames
    with pytest.raises(FeedAborted):
        encoder.encode(clip_of(feed), ".gif").result()
    clip = clip_of(frames[::-1])
    assert encoder.encode(clip, ".gif").result() == encode_clip(clip, ".gif")
    assert encoder.pid == pid


def test_a_clip_the_child_cannot_encode_says_why_and_the_child_goes_on(
    encoder: EncoderProcess,
) -> None:
    frames = distinct_frames(6)
    with pytest.raises(EncodeFailed, match="UnsupportedOutput"):
        encoder.encode(clip_of(frames), ".bmp").result()
    assert encoder.encode(clip_of(frames), ".gif").result() == encode_clip(clip_of(frames), ".gif")


def test_a_child_that_dies_mid_clip_costs_the_user_nothing(
    tmp_path: Path,
    sample_files: SampleFiles,
    encoder: EncoderProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "gpu_worker.swap")
    killed: list[int] = []

    def kill_the_child(i: int) -> None:
        if i == 3 and encoder.pid is not None:  # frames 0-2 are with the child already
            killed.append(encoder.pid)
            os.kill(encoder.pid, signal.SIGKILL)

    engine = TintEngine(before_frame=kill_the_child)
    out = tmp_path / "out.gif"
    report = swap_files(
        sample_files.target,
        sample_files.source,
        out,
        engine=engine,
        limits=MediaLimits(),
        encoder=encoder,
    )
    original = load_clip(sample_files.target, MediaLimits())
    written = load_clip(out, MediaLimits())
    assert report.frames == len(written) == len(original) == 24
    for made, before in zip(written.frames, original.frames, strict=True):
        assert np.abs(made.astype(np.int16) - tinted(before).astype(np.int16)).mean() < 1
    assert len(killed) == 1
    assert "encoding out.gif in this process" in caplog.text
    # the next clip gets a new child, and it works
    again = encoder.encode(clip_of(distinct_frames(6)), ".gif")
    assert again.result() == encode_clip(clip_of(distinct_frames(6)), ".gif")
    assert encoder.pid not in (None, killed[0])


def test_a_failing_engine_leaves_the_child_ready_for_the_next_clip(
    tmp_path: Path, sample_files: SampleFiles, encoder: EncoderProcess
) -> None:
    pid = encoder.pid
    with pytest.raises(NoFaceInTarget):
        swap_files(
            sample_files.target,
            sample_files.source,
            tmp_path / "out.gif",
            engine=TintEngine(fail_at=5),
            limits=MediaLimits(),
            encoder=encoder,
        )
    assert list(tmp_path.iterdir()) == []
    report = swap_files(
        sample_files.target,
        sample_files.source,
        tmp_path / "out.gif",
        engine=TintEngine(),
        limits=MediaLimits(),
        encoder=encoder,
    )
    assert report.frames == 24 and (tmp_path / "out.gif").exists()
    assert encoder.pid == pid


def test_the_child_starts_without_the_decoders_and_their_settings() -> None:
    """The child imports what encoding needs and no more: ``swapzy swap`` starts it first
    thing, and its start must be over before the engine's first frame (~0.2 s, not ~0.4)."""
    probe = (
        "import sys, gpu_worker.media.encoder_process, gpu_worker.media; "
        "print(' '.join(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(done.stdout.split())
    assert "gpu_worker.media.encode" in loaded  # the probe saw the child's imports
    assert not loaded & {"gpu_worker.media.decode", "core.config", "pydantic_settings", "av"}


def test_a_child_closed_without_waiting_still_ends() -> None:
    process = EncoderProcess()
    pid = process.pid
    assert pid is not None
    process.close(wait=False)
    _, status = os.waitpid(pid, 0)  # returns once the child has ended (it read the end)
    assert os.waitstatus_to_exitcode(status) == 0
