"""Billing settings: production refuses to start with test or default secrets."""

from __future__ import annotations

from typing import Any

import pytest

from core.config import load_settings
from core.errors import ConfigError

LIVE: dict[str, Any] = {
    "env": "production",
    "storage": {"link_secret": "l" * 40},
    "stripe_api_key": "sk_live_51Qabc",
    "stripe_webhook_secret": "whsec_live",
    "billing_reference_secret": "r" * 40,
    "stripe_payment_links": {"pro": "https://buy.stripe.com/14k9BD5Hc"},
}


def test_production_with_live_secrets_starts() -> None:
    settings = load_settings(**LIVE)
    assert settings.stripe_api_key.get_secret_value() == "sk_live_51Qabc"


def test_production_without_billing_starts_and_everyone_is_free() -> None:
    settings = load_settings(env="production", storage={"link_secret": "l" * 40})
    assert settings.stripe_payment_links == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stripe_api_key": "sk_test_51Qabc"}, "SWAPZY_STRIPE_API_KEY must be a live key"),
        ({"stripe_api_key": ""}, "SWAPZY_STRIPE_API_KEY must be a live key"),
        ({"stripe_webhook_secret": ""}, "SWAPZY_STRIPE_WEBHOOK_SECRET must be the endpoint's"),
        (
            {"stripe_payment_links": {"pro": "https://buy.stripe.com/test_14k9BD5Hc"}},
            "holds a test-mode link",
        ),
        ({"billing_reference_secret": None}, "SWAPZY_BILLING_REFERENCE_SECRET is the public"),
        ({"billing_reference_secret": "short"}, "SWAPZY_BILLING_REFERENCE_SECRET is the public"),
    ],
)
def test_production_refuses_test_or_default_billing_secrets(
    change: dict[str, Any], message: str
) -> None:
    values = {**LIVE, **change}
    values = {k: v for k, v in values.items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        load_settings(**values)


def test_the_sdk_address_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().stripe_api_url == "https://api.stripe.com"
    monkeypatch.setenv("SWAPZY_STRIPE_API_URL", "http://127.0.0.1:12111")
    assert load_settings().stripe_api_url == "http://127.0.0.1:12111"
