"""Customer-portal links through the real Stripe SDK, pointed at a local fake Stripe."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from billing.portal import Portal, stripe_client
from core.config import Settings
from core.db.billing_models import BillingCustomer
from core.db.migrate import upgrade
from core.db.models import Channel
from core.db.session import Database
from core.errors import ServiceUnavailable
from jobs.accounts import user_for
from tests.billing.fake_stripe import FakeStripe

KEY = "sk_test_51Qswapzy"


def _settings(sqlite_url: str, tmp_path: Path, api_url: str, key: str = KEY) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=sqlite_url,
        stripe_api_key=key,  # type: ignore[arg-type]
        stripe_api_url=api_url,
        public_url="https://swapzy.example",
    )


async def _paying_user(db: Database, customer: str) -> str:
    user_id = await user_for(db, Channel.TELEGRAM, "77")
    async with db.sessions() as session, session.begin():
        session.add(BillingCustomer(user_id=user_id, stripe_customer_id=customer))
    return user_id


def test_a_paying_user_gets_a_portal_session_for_their_own_customer(
    tmp_path: Path, sqlite_url: str
) -> None:
    upgrade(sqlite_url)
    with FakeStripe(api_key=KEY, customers={"cus_ada"}) as fake:
        settings = _settings(sqlite_url, tmp_path, fake.url)

        async def scenario() -> None:
            db = Database.connect(sqlite_url)
            try:
                portal = Portal(settings, db, stripe_client(settings))
                ada = await _paying_user(db, "cus_ada")
                url = await portal.url_for(ada)
                assert url is not None
                assert url.startswith("https://billing.stripe.com/p/session/test_bps_")
                stranger = await user_for(db, Channel.TELEGRAM, "78")
                assert await portal.url_for(stranger) is None  # never paid: no portal
            finally:
                await db.close()

        asyncio.run(scenario())
        (call,) = fake.calls
        assert (call.method, call.path) == ("POST", "/v1/billing_portal/sessions")
        assert call.form == {"customer": "cus_ada", "return_url": "https://swapzy.example"}
        assert call.headers["stripe-version"]  # the SDK pins its API version


def test_stripe_refusing_the_call_is_one_clear_sentence(tmp_path: Path, sqlite_url: str) -> None:
    upgrade(sqlite_url)
    with FakeStripe(api_key=KEY, customers=set()) as fake:

        async def scenario(key: str) -> None:
            settings = _settings(sqlite_url, tmp_path, fake.url, key)
            db = Database.connect(sqlite_url)
            try:
                portal = Portal(settings, db, stripe_client(settings))
                user_id = await user_for(db, Channel.TELEGRAM, "79")
                if await portal.customer_of(user_id) is None:
                    async with db.sessions() as session, session.begin():
                        session.add(BillingCustomer(user_id=user_id, stripe_customer_id="cus_x"))
                with pytest.raises(ServiceUnavailable, match="couldn't open your billing page"):
                    await portal.url_for(user_id)
            finally:
                await db.close()

        asyncio.run(scenario(KEY))  # Stripe: no such customer
        asyncio.run(scenario("sk_test_wrong"))  # Stripe: invalid API key
        assert [c.headers["authorization"] for c in fake.calls] == [
            f"Bearer {KEY}",
            "Bearer sk_test_wrong",
        ]
