"""Fixtures shared by the Telegram bot's tests: the sample clip as Telegram delivers it, the
face photo, and a service whose bot talks to the fake Bot API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bots.fake_telegram import FakeTelegram
from tests.bots.telegram_chat import as_telegram_animation
from tests.conftest import SampleFiles
from tests.fixtures_redis import Valkey
from tests.jobs.service import Service, service


@pytest.fixture(scope="session")
def gif_mp4(tmp_path_factory: pytest.TempPathFactory, sample_files: SampleFiles) -> bytes:
    """The sample GIF, as an animation from Telegram."""
    return as_telegram_animation(sample_files.target, tmp_path_factory.mktemp("telegram"))


@pytest.fixture
def face(sample_files: SampleFiles) -> bytes:
    return sample_files.source.read_bytes()


@pytest.fixture
def svc(
    tmp_path: Path, valkey: Valkey, sqlite_url: str, fake_telegram: FakeTelegram
) -> Iterator[Service]:
    """Settings for the bot against the fake (``noop`` engine, database migrated); no worker
    until a test starts one."""
    with service(
        tmp_path,
        valkey.url,
        sqlite_url,
        telegram_token=fake_telegram.token,
        telegram_api_url=fake_telegram.url,
    ) as s:
        yield s
