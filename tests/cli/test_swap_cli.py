"""``swapzy swap`` as a user runs it: a separate process, its exit code and what it prints.

Bad input ends with the error's own exit code and exactly one line on stderr, before any model
is loaded; a good swap keeps the clip's size, frame count and timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.config import MediaLimits
from core.errors import (
    CorruptMedia,
    FaceNotFound,
    FileTooLarge,
    InputMissing,
    NoFaceInSource,
    NoFaceInTarget,
    TooManyFrames,
    TooManyPixels,
    UnsupportedMedia,
    UnsupportedOutput,
)
from gpu_worker.media import Clip, load_clip, save_clip
from tests.conftest import SampleFiles
from tests.media_files import crafted_gif, damaged_at, gradient, png_declaring

USAGE_ERROR = 2  # the command-line parser's own code


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        """stderr without blank lines. Native logging (mediapipe's absl "W0000 ..." lines)
        counts: the user would see it."""
        return [line for line in self.stderr.splitlines() if line.strip()]


def swapzy(
    *args: str | Path,
    cwd: Path,
    env: dict[str, str] | None = None,
    python_flags: tuple[str, ...] = (),
    timeout: float = 120,
) -> Run:
    """Run ``swapzy`` in ``cwd`` (no stray ``.env``) with no SWAPZY_ variables but ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SWAPZY_")}
    clean.update(env or {})
    clean["COLUMNS"] = "200"  # keep any message on one terminal line
    done = subprocess.run(
        [sys.executable, *python_flags, "-m", "cli.main", *map(str, args)],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def assert_one_clean_line(run: Run) -> str:
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.error_lines
    assert len(lines) == 1, f"expected one line on stderr, got:\n{run.stderr}"
    assert lines[0].startswith("swapzy: "), lines[0]
    return lines[0]


# --- bad input: refused before any model loads ----------------------------------------------


@dataclass
class Case:
    args: list[str | Path]
    code: int
    says: str
    env: dict[str, str] = field(default_factory=dict)


def _missing_target(tmp: Path, sample: SampleFiles) -> Case:
    return Case([tmp / "nope.gif", sample.source], InputMissing.exit_code, "does not exist")


def _missing_source(tmp: Path, sample: SampleFiles) -> Case:
    return Case([sample.target, tmp / "nope.jpg"], InputMissing.exit_code, "does not exist")


def _text_target(tmp: Path, sample: SampleFiles) -> Case:
    (tmp / "notes.gif").write_text("shopping list\n- milk\n")
    return Case([tmp / "notes.gif", sample.source], UnsupportedMedia.exit_code, "a text file")


def _gif_as_face(tmp: Path, sample: SampleFiles) -> Case:
    return Case([sample.target, sample.target], UnsupportedMedia.exit_code, "JPEG, PNG or WebP")


def _truncated_gif(tmp: Path, sample: SampleFiles) -> Case:
    data = sample.target.read_bytes()
    (tmp / "cut.gif").write_bytes(data[: len(data) // 2])
    return Case([tmp / "cut.gif", sample.source], CorruptMedia.exit_code, "damaged")


def _too_large(tmp: Path, sample: SampleFiles) -> Case:
    env = {"SWAPZY_LIMITS__MAX_FILE_BYTES": "100000"}
    return Case([sample.target, sample.source], FileTooLarge.exit_code, "the limit is", env)


def _too_many_frames(tmp: Path, sample: SampleFiles) -> Case:
    env = {"SWAPZY_LIMITS__MAX_FRAMES": "10"}
    return Case([sample.target, sample.source], TooManyFrames.exit_code, "more than 10", env)


def _gif_bomb(tmp: Path, sample: SampleFiles) -> Case:
    (tmp / "bomb.gif").write_bytes(crafted_gif(screen=(8000, 8000)))
    return Case([tmp / "bomb.gif", sample.source], TooManyPixels.exit_code, "8000×8000")


def _png_bomb_face(tmp: Path, sample: SampleFiles) -> Case:
    (tmp / "bomb.png").write_bytes(png_declaring(100_000, 100_000))
    return Case([sample.target, tmp / "bomb.png"], TooManyPixels.exit_code, "face photo")


def _bad_output(tmp: Path, sample: SampleFiles) -> Case:
    args: list[str | Path] = [sample.target, sample.source, "-o", tmp / "out.avi"]
    return Case(args, UnsupportedOutput.exit_code, ".gif, .mp4 or .webp")


def _faces_banana(tmp: Path, sample: SampleFiles) -> Case:
    args: list[str | Path] = [sample.target, sample.source, "--faces", "banana"]
    return Case(args, USAGE_ERROR, "largest")


BAD_INPUTS: list[Callable[[Path, SampleFiles], Case]] = [
    _missing_target,
    _missing_source,
    _text_target,
    _gif_as_face,
    _truncated_gif,
    _too_large,
    _too_many_frames,
    _gif_bomb,
    _png_bomb_face,
    _bad_output,
    _faces_banana,
]


@pytest.mark.parametrize("make_case", BAD_INPUTS, ids=lambda f: f.__name__.strip("_"))
def test_bad_input_exits_with_its_code_and_one_line(
    tmp_path: Path, sample_files: SampleFiles, make_case: Callable[[Path, SampleFiles], Case]
) -> None:
    case = make_case(tmp_path, sample_files)
    args = list(case.args)
    if "-o" not in args:
        args += ["-o", tmp_path / "out.gif"]
    run = swapzy("swap", *args, cwd=tmp_path, env=case.env)
    assert run.code == case.code, run.stderr
    assert case.says in assert_one_clean_line(run)
    assert not (tmp_path / "out.gif").exists()
    assert not (tmp_path / "out.avi").exists()


def test_bad_input_is_refused_before_the_face_models_load(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    (tmp_path / "notes.gif").write_text("not a gif\n")
    run = swapzy(
        "swap",
        tmp_path / "notes.gif",
        sample_files.source,
        "-o",
        tmp_path / "out.gif",
        cwd=tmp_path,
        python_flags=("-X", "importtime"),
    )
    assert run.code == UnsupportedMedia.exit_code
    imported = [line for line in run.stderr.splitlines() if line.startswith("import time:")]
    assert any(line.endswith(" core.media") for line in imported)  # the check really ran
    assert not [line for line in imported if "mediapipe" in line]


# --- the engine's refusals ------------------------------------------------------------------


def _no_face_photo(tmp: Path) -> Path:
    Image.fromarray(gradient(400, 400)).save(tmp / "gradient.jpg", quality=90)
    return tmp / "gradient.jpg"


def _no_face_gif(tmp: Path) -> Path:
    import skimage.data

    coffee = np.asarray(skimage.data.coffee(), dtype=np.uint8)  # type: ignore[no-untyped-call]
    frames = [np.ascontiguousarray(coffee[40 + 8 * i : 280 + 8 * i, 80:400]) for i in range(6)]
    save_clip(Clip(frames=frames, durations_ms=[100.0] * 6), tmp / "coffee.gif")
    return tmp / "coffee.gif"


def test_a_face_photo_without_a_face_is_refused(tmp_path: Path, sample_files: SampleFiles) -> None:
    run = swapzy(
        "swap",
        sample_files.target,
        _no_face_photo(tmp_path),
        "-o",
        tmp_path / "out.gif",
        cwd=tmp_path,
        timeout=600,
    )
    assert run.code == NoFaceInSource.exit_code, run.stderr
    assert "face" in assert_one_clean_line(run).lower()
    assert not (tmp_path / "out.gif").exists()


def test_a_gif_without_a_face_is_refused(tmp_path: Path, sample_files: SampleFiles) -> None:
    run = swapzy(
        "swap",
        _no_face_gif(tmp_path),
        sample_files.source,
        "-o",
        tmp_path / "out.gif",
        cwd=tmp_path,
        timeout=600,
    )
    assert run.code == NoFaceInTarget.exit_code, run.stderr
    assert "face" in assert_one_clean_line(run).lower()
    assert not (tmp_path / "out.gif").exists()


def test_a_gif_damaged_after_its_first_frames_is_refused(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    """Its blocks are whole, so the probe passes and the engine starts on the first frames
    while the rest decode; the frame that cannot be decoded ends the swap with the message."""
    damaged = damaged_at(sample_files.target, 12)
    run = swapzy("swap", damaged, sample_files.source, "-o", tmp_path / "out.gif", cwd=tmp_path)
    assert run.code == CorruptMedia.exit_code, run.stderr
    assert "damaged and cannot be decoded" in assert_one_clean_line(run)
    assert not (tmp_path / "out.gif").exists()


def test_asking_for_a_face_the_clip_does_not_have_is_refused(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    run = swapzy(
        "swap",
        sample_files.target,
        sample_files.source,
        "-o",
        tmp_path / "out.gif",
        "--faces",
        "5",
        cwd=tmp_path,
        timeout=600,
    )
    assert run.code == FaceNotFound.exit_code, run.stderr
    assert "5" in assert_one_clean_line(run)
    assert not (tmp_path / "out.gif").exists()


# --- a good swap ----------------------------------------------------------------------------


def test_the_sample_swap_keeps_the_clip_and_changes_the_face(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    out = tmp_path / "out.gif"
    run = swapzy(
        "swap",
        sample_files.target,
        sample_files.source,
        "-o",
        out,
        "-q",
        cwd=tmp_path,
        timeout=600,
    )
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    before = load_clip(sample_files.target, MediaLimits())
    after = load_clip(out, MediaLimits())
    assert after.size == before.size == (320, 240)
    assert len(after) == len(before) == 24
    assert after.durations_ms == before.durations_ms
    assert after.loop == before.loop == 0
    # The face (middle of the frame) changed; the frame's edges are the same picture.
    frames_in = np.stack(before.frames).astype(np.int16)
    frames_out = np.stack(after.frames).astype(np.int16)
    diff = np.abs(frames_out - frames_in).mean(axis=3)  # (frames, h, w)
    assert float(diff[:, 60:180, 100:220].mean()) > 2.0
    edges = np.ones((240, 320), bool)
    edges[20:220, 30:290] = False
    assert float(diff[:, edges].mean()) < 1.0
