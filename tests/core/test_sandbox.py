"""``core.sandbox``: decoding in a child process with RLIMIT_AS, RLIMIT_CPU and a wall-clock
timeout. Real children doing the real bad things (allocating without end, spinning, hanging,
crashing in native code); the caller gets one clear ``InputError`` and carries on."""

from __future__ import annotations

import ctypes
import os
import threading
import time
from pathlib import Path

import pytest

from core.config import DecodeSandbox, MediaLimits
from core.errors import CorruptMedia, InputError, TooManyFrames, TooManyPixels, UnsupportedMedia
from core.media import MediaKind
from core.sandbox import probe_inputs, run_limited
from tests.conftest import SampleFiles
from tests.media_files import assert_user_message, crafted_gif, png_declaring

TIGHT = DecodeSandbox(memory_mb=512, cpu_s=1, timeout_s=20)


def allocate_forever() -> int:
    hoard = []
    while True:
        hoard.append(bytearray(64 * 1024 * 1024))


def spin_forever() -> int:
    n = 0
    while True:
        n += 1


def hang_forever() -> int:
    threading.Event().wait()
    return 0


def crash_in_native_code() -> int:
    ctypes.string_at(0)  # reads address 0: SIGSEGV
    return 0


def refuse_as_input() -> int:
    raise TooManyFrames("The GIF/video has 900 frames (the limit is 300); trim it and try again.")


def fail_inside() -> int:
    raise ValueError("broken data stream while reading image file")


def the_pid() -> int:
    return os.getpid()


def refused(fn: object, error: type[InputError], box: DecodeSandbox = TIGHT) -> str:
    with pytest.raises(error) as caught:
        run_limited(fn, box=box, what="GIF/video")  # type: ignore[arg-type]
    assert_user_message(caught.value.message)
    return caught.value.message


def test_runs_in_another_process_and_returns_the_value() -> None:
    assert run_limited(the_pid, box=TIGHT, what="x") != os.getpid()
    assert run_limited(the_pid, box=DecodeSandbox(enabled=False), what="x") == os.getpid()


def test_memory_beyond_the_limit_is_too_many_pixels() -> None:
    assert refused(allocate_forever, TooManyPixels) == (
        "The GIF/video needs more than 512 MB to decode; use a shorter or smaller clip."
    )


def test_cpu_time_beyond_the_limit_is_refused() -> None:
    started = time.monotonic()
    message = refused(spin_forever, CorruptMedia)
    assert message.startswith("The GIF/video took more than 1 s of processor time to decode")
    assert time.monotonic() - started < TIGHT.timeout_s  # the CPU limit, not the timeout


def test_a_hang_is_cut_at_the_wall_clock_timeout() -> None:
    box = DecodeSandbox(timeout_s=1)
    started = time.monotonic()
    message = refused(hang_forever, CorruptMedia, box)
    assert message.startswith("The GIF/video took longer than 1 s to decode")
    assert time.monotonic() - started < 10


def test_a_native_crash_is_damaged_input() -> None:
    assert refused(crash_in_native_code, CorruptMedia) == (
        "The GIF/video is damaged: the decoder gave up on it."
    )


def test_input_errors_come_back_as_they_were_raised() -> None:
    message = refused(refuse_as_input, TooManyFrames)
    assert message == "The GIF/video has 900 frames (the limit is 300); trim it and try again."
    assert refused(fail_inside, CorruptMedia) == (
        "The file is damaged (broken data stream while reading image file)."
    )


def test_probe_inputs_probes_both_files(tmp_path: Path, sample_files: SampleFiles) -> None:
    target, source = probe_inputs(
        sample_files.target, sample_files.source, MediaLimits(), DecodeSandbox()
    )
    assert (target.kind, target.width, target.height, target.frames) == (
        MediaKind.GIF, 320, 240, 24,
    )  # fmt: skip
    assert source.kind is MediaKind.JPEG
    fake = tmp_path / "face.jpg"
    fake.write_bytes(b"%PDF-1.7 not a face")
    with pytest.raises(UnsupportedMedia, match="this is a PDF document"):
        probe_inputs(sample_files.target, fake, MediaLimits(), DecodeSandbox())


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("screen.gif", crafted_gif(screen=(8000, 8000)), TooManyPixels),
        ("frames.gif", crafted_gif(screen=(1, 1), frames=5000), TooManyFrames),
        ("total.gif", crafted_gif(screen=(6000, 6000), frames=300), TooManyPixels),
        ("png.gif", png_declaring(100_000, 100_000), TooManyPixels),
    ],
)
def test_bombs_are_refused_within_a_second(
    tmp_path: Path, sample_files: SampleFiles, name: str, data: bytes, error: type[InputError]
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    run_limited(the_pid, box=TIGHT, what="x")  # the fork server starts once per process
    started = time.monotonic()
    with pytest.raises(error) as caught:
        probe_inputs(path, sample_files.source, MediaLimits(), DecodeSandbox())
    assert time.monotonic() - started < 1.0
    assert_user_message(caught.value.message)
