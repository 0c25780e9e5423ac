"""Settings: environment names, nested values, and refusals that name the variable."""

from __future__ import annotations

from typing import Any

import pytest

from core.config import DEV_LINK_SECRET, load_settings, to_environment
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


def test_settings_handed_to_a_child_process_read_back_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values: dict[str, Any] = {
        "admins": ("telegram:1", "discord:2"),
        "stripe_payment_links": {"pro": "https://buy.stripe.com/abc"},
        "worker": {"lanes": ("free",), "slots": 2, "heartbeat_s": 0.2},
        "data_dir": "/srv/swapzy",
    }
    env = to_environment(values, {"PATH": "/bin", "SWAPZY_ENGINE": "noop"})
    assert "SWAPZY_ENGINE" not in env and env["PATH"] == "/bin"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.admins == ("telegram:1", "discord:2")
    assert settings.stripe_payment_links == {"pro": "https://buy.stripe.com/abc"}
    assert (settings.worker.lanes, settings.worker.slots) == (("free",), 2)
    assert settings.worker.heartbeat_s == 0.2
    assert settings.engine == "classic"
