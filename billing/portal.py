"""Self-service: a Stripe customer-portal session for a user (change card, cancel, invoices).

Calls go through the real Stripe SDK; ``SWAPZY_STRIPE_API_URL`` points it elsewhere (the tests'
local fake speaks Stripe's API for the calls made here)."""

from __future__ import annotations

import stripe
from sqlalchemy import select
from stripe.params.billing_portal import SessionCreateParams

from core.config import Settings
from core.db.billing_models import BillingCustomer
from core.db.session import Database
from core.errors import ServiceUnavailable


def stripe_client(settings: Settings) -> stripe.StripeClient:
    """One client per process: the API key and base address from settings, httpx underneath."""
    return stripe.StripeClient(
        settings.stripe_api_key.get_secret_value(),
        base_addresses={"api": settings.stripe_api_url.rstrip("/")},
        http_client=stripe.HTTPXClient(),
        max_network_retries=2,
    )


class Portal:
    """Customer-portal links. Built once per process with its Stripe client."""

    def __init__(self, settings: Settings, db: Database, client: stripe.StripeClient) -> None:
        self.settings = settings
        self.db = db
        self.client = client

    async def customer_of(self, user_id: str) -> str | None:
        async with self.db.sessions() as session:
            return await session.scalar(
                select(BillingCustomer.stripe_customer_id).where(BillingCustomer.user_id == user_id)
            )

    async def url_for(self, user_id: str, return_url: str | None = None) -> str | None:
        """A fresh portal session URL, or None when the user never paid (no Stripe customer).
        Raises ``ServiceUnavailable`` with a human sentence when Stripe cannot be reached."""
        customer = await self.customer_of(user_id)
        if customer is None or not self.settings.stripe_api_key.get_secret_value():
            return None
        params: SessionCreateParams = {
            "customer": customer,
            "return_url": return_url or self.settings.public_url,
        }
        try:
            session = await self.client.v1.billing_portal.sessions.create_async(params)
        except stripe.StripeError as exc:
            raise ServiceUnavailable(
                "We couldn't open your billing page just now. Please try again in a minute."
            ) from exc
        return str(session.url)
