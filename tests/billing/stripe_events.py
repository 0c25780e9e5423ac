"""Realistic Stripe webhook events (the shape Stripe sends for API version ``stripe.api_version``)
and the real signature scheme: ``Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256 hex>`` over
``"<t>.<raw body>"`` with the endpoint's ``whsec_`` secret, made by the SDK's own helper."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import stripe

Event = dict[str, Any]
T0 = 1_795_000_000  # a fixed "created" for orderings; signatures use the real clock


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def event(kind: str, obj: dict[str, Any], *, created: int = T0) -> Event:
    return {
        "id": _id("evt"),
        "object": "event",
        "api_version": stripe.api_version,
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def checkout_completed(
    reference: str | None, customer: str, subscription: str, *, created: int = T0
) -> Event:
    session = {
        "id": _id("cs_test"),
        "object": "checkout.session",
        "amount_subtotal": 799,
        "amount_total": 799,
        "client_reference_id": reference,
        "currency": "usd",
        "customer": customer,
        "customer_details": {"email": "ada@example.com", "name": "Ada", "tax_exempt": "none"},
        "livemode": False,
        "mode": "subscription",
        "payment_link": "plink_1QtestProLink",
        "payment_status": "paid",
        "status": "complete",
        "subscription": subscription,
        "created": created - 60,
    }
    return event("checkout.session.completed", session, created=created)


def subscription_event(
    kind: str, subscription: str, customer: str, status: str, *, created: int = T0
) -> Event:
    sub = {
        "id": subscription,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": False,
        "canceled_at": created if status == "canceled" else None,
        "collection_method": "charge_automatically",
        "currency": "usd",
        "items": {
            "object": "list",
            "data": [
                {
                    "id": _id("si"),
                    "object": "subscription_item",
                    "price": {"id": "price_1QtestPro", "object": "price", "unit_amount": 799},
                    "quantity": 1,
                    "current_period_start": created,
                    "current_period_end": created + 30 * 86400,
                }
            ],
        },
        "livemode": False,
    }
    return event(f"customer.subscription.{kind}", sub, created=created)


def invoice_event(kind: str, subscription: str, customer: str, *, created: int = T0) -> Event:
    paid = kind == "paid"
    invoice = {
        "id": _id("in"),
        "object": "invoice",
        "amount_due": 799,
        "amount_paid": 799 if paid else 0,
        "attempt_count": 1,
        "billing_reason": "subscription_cycle",
        "currency": "usd",
        "customer": customer,
        "hosted_invoice_url": "https://invoice.stripe.com/i/acct_test/test_x",
        "livemode": False,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"metadata": {}, "subscription": subscription},
        },
        "status": "paid" if paid else "open",
    }
    return event(f"invoice.{kind}", invoice, created=created)


def body(evt: Event) -> bytes:
    """The raw request body, as Stripe sends it (pretty-printed JSON)."""
    return json.dumps(evt, indent=2).encode()


def signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header for these exact bytes."""
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, timestamp=timestamp or int(time.time())
    )
    return header
