"""Settings: environment names, nested values, and refusals that name the variable."""

from __future__ import annotations

import pytest

from core.config import DEV_LINK_SECRET, load_settings
from core.errors import ConfigError


def test_nested_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWAPZY_WORKER__LANES", '["free"]')
    monkeypatch.setenv("SWAPZY_WORKER__SLOTS", "2")
    monkeypatch.setenv("SWAPZY_DATA_DIR", "/srv/swapzy")
    settings = load_settings()
    assert settings.worker.lanes == ("free",) and settings.worker.slots == 2
    assert settings.sqlalchemy_url == "sqlite:////srv/swapzy/swapzy.db"


def test_an_invalid_setting_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWAPZY_WORKER__LANES", '["gold"]')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.message.startswith(
        "Invalid setting SWAPZY_WORKER__LANES: Input should be 'pro' or 'free'"
    )
    assert caught.value.exit_code == 15


def test_production_refuses_the_public_development_link_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWAPZY_ENV", "production")
    with pytest.raises(ConfigError, match="SWAPZY_STORAGE__LINK_SECRET is still the public"):
        load_settings()
    monkeypatch.setenv("SWAPZY_STORAGE__LINK_SECRET", "a-long-random-production-secret")
    assert load_settings().storage.link_secret.get_secret_value() != DEV_LINK_SECRET


def test_a_telegram_webhook_needs_an_https_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWAPZY_TELEGRAM_WEBHOOK_SECRET", "s3cret")
    with pytest.raises(ConfigError, match="Telegram only calls https webhooks"):
        load_settings()
    monkeypatch.setenv("SWAPZY_PUBLIC_URL", "https://swapzy.example")
    assert load_settings().public_url == "https://swapzy.example"
