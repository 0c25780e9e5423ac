"""Payment links carry a signed reference to the user; forged or altered ones are rejected."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from billing.links import reference_for, upgrade_url, user_of
from core.config import Settings

USER = "0123456789abcdef0123456789abcdef"
LINK = "https://buy.stripe.com/test_6oE5kN3fG0aB"


def test_the_pro_link_names_the_user_with_a_signed_reference_and_their_email() -> None:
    secret = SecretStr("s3cret-" * 6)
    settings = Settings(stripe_payment_links={"pro": LINK}, billing_reference_secret=secret)
    url = upgrade_url(settings, USER, "ada@example.com")
    assert url is not None and url.startswith(LINK + "?")
    query = parse_qs(urlsplit(url).query)
    assert query["prefilled_email"] == ["ada@example.com"]
    (reference,) = query["client_reference_id"]
    assert len(reference) <= 200 and all(c.isalnum() or c in "-_" for c in reference)
    assert user_of("s3cret-" * 6, reference) == USER


def test_forged_altered_or_foreign_references_name_nobody() -> None:
    good = reference_for("right-secret", USER)
    assert user_of("right-secret", good) == USER
    other = "fedcba9876543210fedcba9876543210"
    swapped_user = good.replace(USER, other)
    assert user_of("right-secret", swapped_user) is None
    assert user_of("wrong-secret", good) is None
    assert user_of("right-secret", reference_for("wrong-secret", USER)) is None
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")
    assert user_of("right-secret", flipped) is None
    assert user_of("right-secret", None) is None
    assert user_of("right-secret", "") is None
    assert user_of("right-secret", USER) is None


def test_no_link_configured_means_no_upgrade_url() -> None:
    assert upgrade_url(Settings(), USER) is None
