"""POST /stripe/webhook on the real web process (``web.main.build_app`` under uvicorn, real
database and Redis), with realistic Stripe events signed by the real scheme."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from billing.links import reference_for
from core.config import Settings
from core.db.audit_models import AuditEvent
from core.db.billing_models import BillingNotice, StripeEvent, StripeSubscription
from core.db.models import Channel, User, UserEvent
from core.db.session import Database
from jobs.accounts import user_for
from tests.billing import stripe_events as se
from tests.jobs.service import service
from tests.web.server import serve
from web.main import build_app

SECRET = "whsec_test_" + "k" * 32
REFERENCE_SECRET = "reference-secret-" * 3


@dataclass
class Shop:
    base: str
    settings: Settings
    user_id: str

    def post(self, payload: bytes, signature: str | None) -> httpx.Response:
        """POST these bytes with this ``Stripe-Signature`` header (None: no header at all)."""
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        return httpx.post(
            f"{self.base}/stripe/webhook", content=payload, headers=headers, timeout=30
        )

    def send(self, event: se.Event) -> httpx.Response:
        """What Stripe does: the event's bytes, signed with the endpoint's secret."""
        payload = se.body(event)
        return self.post(payload, se.signature(payload, SECRET))

    def state(self) -> dict[str, Any]:
        """What the user and the books look like now."""

        async def read() -> dict[str, Any]:
            db = Database.connect(self.settings.sqlalchemy_url)
            try:
                async with db.sessions() as s:

                    async def count(model: Any) -> int:
                        return int(await s.scalar(select(func.count()).select_from(model)) or 0)

                    return {
                        "plan": await s.scalar(select(User.plan).where(User.id == self.user_id)),
                        "events": await count(StripeEvent),
                        "user_events": await count(UserEvent),
                        "audit": list(
                            await s.scalars(
                                select(AuditEvent.body).where(AuditEvent.kind == "payment")
                            )
                        ),
                        "notices": list(
                            await s.scalars(select(BillingNotice.kind).order_by(BillingNotice.id))
                        ),
                        "subscriptions": dict(
                            (
                                await s.execute(
                                    select(StripeSubscription.id, StripeSubscription.status)
                                )
                            ).all()
                        ),
                    }
            finally:
                await db.close()

        return asyncio.run(read())

    @property
    def reference(self) -> str:
        return reference_for(REFERENCE_SECRET, self.user_id)


@contextlib.contextmanager
def shop(tmp_path: Path, redis_url: str, database_url: str, **more: Any) -> Iterator[Shop]:
    overrides = {
        "stripe_webhook_secret": SECRET,
        "billing_reference_secret": REFERENCE_SECRET,
        **more,
    }
    with service(tmp_path, redis_url, database_url, **overrides) as svc:
        settings = svc.settings
        assert isinstance(settings.stripe_webhook_secret, SecretStr)

        async def make_user() -> str:
            db = Database.connect(settings.sqlalchemy_url)
            try:
                return await user_for(db, Channel.TELEGRAM, "4242", "ada")
            finally:
                await db.close()

        user_id = asyncio.run(make_user())
        with serve(build_app(settings)) as base:
            yield Shop(base, settings, user_id)


def test_a_paid_checkout_makes_the_user_pro_once_and_a_replay_changes_nothing(
    tmp_path: Path, redis_url: str, database_url: str
) -> None:
    with shop(tmp_path, redis_url, database_url) as s:
        paid = se.checkout_completed(s.reference, "cus_ada", "sub_ada")
        answer = s.send(paid)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"received": True, "outcome": "sub_ada: active"}
        after = s.state()
        assert after["plan"] == "pro"
        assert after["subscriptions"] == {"sub_ada": "active"}
        assert after["notices"] == ["pro_now"]
        assert after["events"] == 1
        [record] = after["audit"]  # the tamper-evident log has the payment
        assert '"outcome":"sub_ada: active"' in record and f'"user":"{s.user_id}"' in record
        replay = s.send(paid)  # Stripe retries with the same event id (and a fresh signature)
        assert (replay.status_code, replay.json()["outcome"]) == (200, "duplicate")
        assert s.state() == after


def test_forged_tampered_stale_or_wrongly_signed_events_are_refused_and_change_nothing(
    tmp_path: Path, redis_url: str, sqlite_url: str
) -> None:
    with shop(tmp_path, redis_url, sqlite_url) as s:
        before = s.state()
        payload = se.body(se.checkout_completed(s.reference, "cus_eve", "sub_eve"))
        good = se.signature(payload, SECRET)
        tampered = payload.replace(b'"payment_status": "paid"', b'"payment_status": "paid" ')
        assert tampered != payload
        stale = se.signature(payload, SECRET, timestamp=int(time.time()) - 301)
        wrong = se.signature(payload, "whsec_someone_else")
        for body, header in [
            (tampered, good),
            (payload, wrong),
            (payload, stale),
            (payload, ""),
            (payload, None),
            (payload, "t=1,v1=deadbeef"),
        ]:
            answer = s.post(body, header)
            assert answer.status_code == 400, (header, answer.text)
            assert answer.json()["error"].startswith("Rejected Stripe webhook: ")
        assert s.state() == before
        # A genuine event whose reference was forged (another user id, or no signature) is
        # stored but gives nobody Pro.
        forged = reference_for("not-our-secret", s.user_id)
        answer = s.send(se.checkout_completed(forged, "cus_eve", "sub_eve"))
        assert answer.json()["outcome"] == "ignored: no valid client_reference_id"
        assert s.state()["plan"] == "free"


@pytest.mark.parametrize("deleted_first", [True, False])
def test_a_deleted_subscription_stays_deleted_whatever_the_delivery_order(
    tmp_path: Path, redis_url: str, database_url: str, deleted_first: bool
) -> None:
    with shop(tmp_path, redis_url, database_url) as s:
        t = se.T0
        assert s.send(
            se.checkout_completed(s.reference, "cus_ada", "sub_ada", created=t)
        ).is_success
        updated = se.subscription_event("updated", "sub_ada", "cus_ada", "active", created=t + 5)
        deleted = se.subscription_event("deleted", "sub_ada", "cus_ada", "canceled", created=t + 10)
        order = [deleted, updated] if deleted_first else [updated, deleted]
        for evt in order:
            assert s.send(evt).status_code == 200
        late_paid = se.invoice_event("paid", "sub_ada", "cus_ada", created=t + 4)
        assert s.send(late_paid).json()["outcome"] == "ignored: sub_ada is already canceled"
        state = s.state()
        assert state["plan"] == "free"
        assert state["subscriptions"] == {"sub_ada": "canceled"}
        assert state["notices"] == ["pro_now", "pro_ended"]


def test_subscription_events_before_the_checkout_still_end_with_the_right_user_pro(
    tmp_path: Path, redis_url: str, sqlite_url: str
) -> None:
    with shop(tmp_path, redis_url, sqlite_url) as s:
        t = se.T0
        created = se.subscription_event("created", "sub_ada", "cus_ada", "active", created=t)
        assert s.send(created).json()["outcome"] == "sub_ada: active"
        assert s.state()["plan"] == "free"  # nobody is linked to cus_ada yet
        assert s.send(se.checkout_completed(s.reference, "cus_ada", "sub_ada", created=t + 1))
        assert s.state()["plan"] == "pro"
        failed = se.invoice_event("payment_failed", "sub_ada", "cus_ada", created=t + 40)
        assert s.send(failed).json()["outcome"] == "payment failed: user told"
        past_due = se.subscription_event(
            "updated", "sub_ada", "cus_ada", "past_due", created=t + 41
        )
        s.send(past_due)
        assert s.state()["plan"] == "free"
        paid = se.invoice_event("paid", "sub_ada", "cus_ada", created=t + 50)
        assert s.send(paid).json()["outcome"] == "sub_ada: active"
        state = s.state()
        assert state["plan"] == "pro"
        assert state["notices"] == ["pro_now", "payment_failed", "pro_ended", "pro_now"]


def test_a_checkout_through_someone_elses_payment_link_gives_no_pro(
    tmp_path: Path, redis_url: str, sqlite_url: str
) -> None:
    ours = {"pro": "plink_1QtestProLink"}
    with shop(tmp_path, redis_url, sqlite_url, stripe_payment_link_ids=ours) as s:
        other = se.checkout_completed(s.reference, "cus_ada", "sub_cheap")
        other["data"]["object"]["payment_link"] = "plink_1QcheapSticker"
        assert s.send(other).json()["outcome"] == "ignored: not one of our payment links"
        assert s.state()["plan"] == "free"
        assert s.send(se.checkout_completed(s.reference, "cus_ada", "sub_pro")).json() == {
            "received": True,
            "outcome": "sub_pro: active",
        }
        assert s.state()["plan"] == "pro"


def test_the_same_event_delivered_many_times_at_once_is_processed_once(
    tmp_path: Path, redis_url: str, database_url: str
) -> None:
    with shop(tmp_path, redis_url, database_url) as s:
        payload = se.body(se.checkout_completed(s.reference, "cus_ada", "sub_ada"))

        async def deliver_all() -> list[str]:
            async with httpx.AsyncClient(timeout=60) as http:
                answers = await asyncio.gather(
                    *(
                        http.post(
                            f"{s.base}/stripe/webhook",
                            content=payload,
                            headers={"Stripe-Signature": se.signature(payload, SECRET)},
                        )
                        for _ in range(8)
                    )
                )
            assert [a.status_code for a in answers] == [200] * 8
            return sorted(a.json()["outcome"] for a in answers)

        outcomes = asyncio.run(deliver_all())
        assert outcomes == ["duplicate"] * 7 + ["sub_ada: active"]
        state = s.state()
        assert (state["plan"], state["events"], state["notices"]) == ("pro", 1, ["pro_now"])
        assert state["user_events"] == 1  # one billing.stripe record, not eight
