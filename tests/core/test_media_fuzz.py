"""Fuzzing the media intake: hundreds of broken GIF/PNG/JPEG/MP4 files (Hypothesis, derandomised
so CI is repeatable) through the submit-time probe and the worker's decode, both in the limited
child process. Every file either decodes or is refused with one clear sentence, within the
sandbox's timeout; nothing crashes the caller. The thousands-of-inputs run with its figures is
``make bench-fuzz`` (bench/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.media_files import assert_user_message
from tests.media_fuzz import BOX, broken, intake

CI_SETTINGS = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Two limited children per file (probe, then decode), each cut at BOX.timeout_s.
WORST_S = 2 * BOX.timeout_s + 5


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check(folder: Path, case: tuple[str, bytes], *, as_face: bool) -> None:
    kind, data = case
    outcome = intake(folder, kind, data, as_face=as_face)
    assert outcome.seconds < WORST_S, f"{kind}: {outcome.seconds:.1f} s"
    if outcome.error is not None:
        assert_user_message(outcome.error.message)


def test_broken_clips_decode_or_are_refused_clearly(folder: Path) -> None:
    @CI_SETTINGS
    @given(case=broken())
    def run(case: tuple[str, bytes]) -> None:
        check(folder, case, as_face=False)

    run()


def test_broken_face_photos_decode_or_are_refused_clearly(folder: Path) -> None:
    @settings(CI_SETTINGS, max_examples=100)
    @given(case=broken())
    def run(case: tuple[str, bytes]) -> None:
        check(folder, case, as_face=True)

    run()
