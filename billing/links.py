"""Upgrade links: a Stripe Payment Link personalised with a signed reference to the user.

``client_reference_id`` comes back in ``checkout.session.completed``, but anyone can put any value
in a payment link's URL, so the reference carries an HMAC of the user id: a forged or altered one
is rejected and gives nobody Pro. Stripe allows letters, digits, ``-`` and ``_`` (up to 200) and
silently drops anything else, so the reference uses only those: ``sz1_<user id>_<base64url mac>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import urlencode

from core.config import Settings

VERSION = "sz1"
_REFERENCE = re.compile(r"^sz1_([A-Za-z0-9]{1,64})_([A-Za-z0-9_-]{43})$")


def _mac(secret: str, user_id: str) -> str:
    digest = hmac.new(secret.encode(), f"{VERSION}:{user_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def reference_for(secret: str, user_id: str) -> str:
    """The ``client_reference_id`` for ``user_id`` (user ids are letters and digits)."""
    if not re.fullmatch(r"[A-Za-z0-9]{1,64}", user_id):
        raise ValueError(f"not a user id: {user_id!r}")
    return f"{VERSION}_{user_id}_{_mac(secret, user_id)}"


def user_of(secret: str, reference: str | None) -> str | None:
    """The user a reference names, or None when it is missing, malformed, forged or altered."""
    match = _REFERENCE.fullmatch(reference or "")
    if match is None:
        return None
    user_id, mac = match.groups()
    return user_id if hmac.compare_digest(mac, _mac(secret, user_id)) else None


def upgrade_url(
    settings: Settings, user_id: str, email: str | None = None, plan: str = "pro"
) -> str | None:
    """The plan's Payment Link for this user (None when no link is configured)."""
    link = settings.stripe_payment_links.get(plan)
    if not link:
        return None
    secret = settings.billing_reference_secret.get_secret_value()
    params = {"client_reference_id": reference_for(secret, user_id)}
    if email:
        params["prefilled_email"] = email
    return f"{link}{'&' if '?' in link else '?'}{urlencode(params)}"
