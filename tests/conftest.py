"""Session fixtures: the built-in sample media (written once per run) and the real media in
``../shared/media`` (skipped on a clone without it; CI has it).

Nothing is registered or configured at import time; heavy modules load inside the fixtures.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pytest

if TYPE_CHECKING:
    from gpu_worker.media.clip import Clip, Frame

# Real services (PostgreSQL, Redis/Valkey, moto): reachable ones, or throwaway ones started here.
pytest_plugins = [
    "tests.fixtures_postgres",
    "tests.fixtures_redis",
    "tests.fixtures_moto",
    "tests.bots.fake_telegram",
    "tests.bots.fake_discord",
]

SHARED_MEDIA = Path(__file__).parents[1].parent / "shared" / "media"


class SampleFiles(NamedTuple):
    target: Path  # sample.gif: 24 frames, 320x240, durations 120/80 ms, loops forever
    source: Path  # sample-face.jpg: one frontal face


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> SampleFiles:
    """The demo's sample GIF and face photo, written once into a session folder. Read-only."""
    from gpu_worker.media.samples import write_sample_files

    target, source = write_sample_files(tmp_path_factory.mktemp("samples"))
    return SampleFiles(target=target, source=source)


@pytest.fixture(scope="session")
def sample_clip() -> Clip:
    """The sample clip in memory (as written to ``sample.gif``, before GIF quantisation)."""
    from gpu_worker.media import samples

    return samples.sample_clip()


@pytest.fixture(scope="session")
def sample_face() -> Frame:
    """Grace Hopper's portrait as RGB."""
    from gpu_worker.media import samples

    return samples.sample_face()


@pytest.fixture(scope="session")
def shared_media() -> Path:
    """``../shared/media`` next to the repository; the test is skipped when it is absent."""
    if not (SHARED_MEDIA / "MANIFEST.md").is_file():
        pytest.skip(f"real media not found at {SHARED_MEDIA} (a clone without ../shared)")
    return SHARED_MEDIA
