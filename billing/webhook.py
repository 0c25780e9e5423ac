"""Stripe webhooks, dj-stripe style: verify the signature over the raw bytes, store the event
under its unique id, then process it once.

Processing is idempotent (a replay finds the stored event already processed and changes
nothing) and copes with any delivery order: a subscription's state is only replaced by an event
created at or after the one that set it, and ``canceled`` is final (Stripe never revives a
canceled subscription). A processing error leaves the event stored but unprocessed and answers
500, so Stripe's retry processes it then.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import stripe
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing.links import user_of
from billing.notices import add_notice
from billing.quota import plan_name
from core import audit
from core.audit import AuditKind
from core.config import Settings
from core.db.billing_models import BillingCustomer, BillingNotice, StripeEvent, StripeSubscription
from core.db.models import User, UserEvent, utcnow
from core.db.session import Database
from core.errors import SwapzyError

log = logging.getLogger(__name__)

HANDLED = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
)
Obj = dict[str, Any]


class WebhookRejected(SwapzyError):
    """Not a genuine, fresh Stripe event (bad signature, old timestamp, not JSON)."""

    code = "bad_webhook"


def verify(payload: bytes, header: str | None, secret: str) -> Obj:
    """The event as a dict, if ``header`` is Stripe's signature of exactly these bytes made
    with ``secret`` within the default tolerance (5 minutes)."""
    if not secret:
        raise WebhookRejected("Stripe webhooks are not configured (no signing secret).")
    if not header:
        raise WebhookRejected("Rejected Stripe webhook: no Stripe-Signature header.")
    try:
        stripe.Webhook.construct_event(payload, header, secret)
        event: Obj = json.loads(payload)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        raise WebhookRejected(f"Rejected Stripe webhook: {exc}") from None
    if not isinstance(event.get("id"), str) or not isinstance(event.get("created"), int):
        raise WebhookRejected("Rejected Stripe webhook: no event id or created time.")
    return event


@dataclass(frozen=True)
class Outcome:
    event_id: str
    outcome: str  # what processing did, or "duplicate"
    notices: tuple[int, ...] = ()  # billing notices written (to hand to the user's channel)


class StripeWebhooks:
    """Built once per web process; ``handle`` per request."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db

    async def handle(self, payload: bytes, header: str | None) -> Outcome:
        event = verify(payload, header, self.settings.stripe_webhook_secret.get_secret_value())
        await self._store(event)
        return await self._process(event["id"])

    async def _store(self, event: Obj) -> None:
        try:
            async with self.db.sessions() as session, session.begin():
                if await session.get(StripeEvent, event["id"]) is not None:
                    return
                session.add(
                    StripeEvent(
                        id=event["id"],
                        type=str(event.get("type", "")),
                        created=event["created"],
                        livemode=bool(event.get("livemode", False)),
                        payload=event,
                    )
                )
        except IntegrityError:
            pass  # the same event, delivered twice at once: the other copy stored it

    async def _process(self, event_id: str) -> Outcome:
        async with self.db.sessions() as session, session.begin():
            # Claim it with a write first: PostgreSQL locks the row (a concurrent copy waits,
            # then finds it processed); SQLite takes its write lock before anything is read.
            claimed = await session.execute(
                update(StripeEvent)
                .where(StripeEvent.id == event_id, StripeEvent.processed_at.is_(None))
                .values(outcome="processing")
            )
            if not getattr(claimed, "rowcount", 0):
                return Outcome(event_id, "duplicate")
            row = await session.get(StripeEvent, event_id)
            assert row is not None
            processor = Processor(self.settings, session, row.payload)
            outcome = await processor.run()
            row.processed_at = utcnow()
            row.outcome = outcome[:200]
            await session.flush()
            notices = tuple(n.id for n in processor.notices)
            await audit.record(session, AuditKind.PAYMENT, processor.summary(outcome))
        log.info("stripe event %s (%s): %s", event_id, row.type, outcome)
        return Outcome(event_id, outcome, notices)


def _id(value: Any) -> str | None:
    """An expandable field: an id string, or the expanded object with its id."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _invoice_subscription(invoice: Obj) -> str | None:
    """The invoice's subscription: ``parent.subscription_details`` (API 2025-03-31 and later),
    else the older top-level ``subscription``."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return _id(details.get("subscription")) or _id(invoice.get("subscription"))


class Processor:
    """One event's effects, inside the transaction that marks it processed."""

    def __init__(self, settings: Settings, session: AsyncSession, event: Obj) -> None:
        self.settings = settings
        self.session = session
        self.event = event
        self.type = str(event.get("type", ""))
        self.created = int(event["created"])
        self.obj: Obj = (event.get("data") or {}).get("object") or {}
        self.notices: list[BillingNotice] = []
        self.user_id: str | None = None

    def summary(self, outcome: str) -> dict[str, Any]:
        """What the audit log keeps of this event (ids, not card or address details)."""
        return {
            "event": self.event["id"],
            "type": self.type,
            "created": self.created,
            "object": _id(self.obj.get("id")),
            "customer": _id(self.obj.get("customer")),
            "user": self.user_id,
            "outcome": outcome,
        }

    async def run(self) -> str:
        if self.type not in HANDLED:
            return "ignored: not an event we use"
        user_id = self.user_id = await self._affected_user()
        before = await plan_name(self.session, user_id) if user_id else None
        if self.type == "checkout.session.completed":
            outcome = await self._checkout(user_id)
        elif self.type.startswith("customer.subscription."):
            outcome = await self._subscription()
        elif self.type == "invoice.paid":
            outcome = await self._invoice_paid()
        else:
            outcome = await self._payment_failed(user_id)
        if user_id is not None and before is not None:
            await self._after(user_id, before, outcome)
        return outcome

    async def _affected_user(self) -> str | None:
        if self.type == "checkout.session.completed":
            secret = self.settings.billing_reference_secret.get_secret_value()
            user_id = user_of(secret, self.obj.get("client_reference_id"))
            if user_id is None or await self.session.get(User, user_id) is None:
                return None
            return user_id
        if self.type.startswith("customer.subscription."):
            sub_id = _id(self.obj.get("id"))
        else:
            sub_id = _invoice_subscription(self.obj)
        if sub_id is not None:
            row = await self.session.get(StripeSubscription, sub_id)
            if row is not None and row.user_id is not None:
                return row.user_id
        return await self._user_of_customer(_id(self.obj.get("customer")))

    async def _user_of_customer(self, customer: str | None) -> str | None:
        if customer is None:
            return None
        return await self.session.scalar(
            select(BillingCustomer.user_id).where(BillingCustomer.stripe_customer_id == customer)
        )

    async def _checkout(self, user_id: str | None) -> str:
        if user_id is None:
            log.warning("checkout %s: missing or forged client_reference_id", self.obj.get("id"))
            return "ignored: no valid client_reference_id"
        customer, sub_id = _id(self.obj.get("customer")), _id(self.obj.get("subscription"))
        if self.obj.get("mode") != "subscription" or customer is None or sub_id is None:
            return "ignored: not a subscription checkout"
        ours = self.settings.stripe_payment_link_ids.values()
        if ours and _id(self.obj.get("payment_link")) not in ours:
            return "ignored: not one of our payment links"
        email = str((self.obj.get("customer_details") or {}).get("email") or "")
        if not await self._link_customer(user_id, customer, email):
            return "ignored: that customer belongs to another user"
        paid = self.obj.get("payment_status") == "paid"
        outcome = await self._set_state(sub_id, customer, "active" if paid else None, user_id)
        await self.session.execute(
            update(StripeSubscription)
            .where(StripeSubscription.customer_id == customer, StripeSubscription.user_id.is_(None))
            .values(user_id=user_id)
        )
        return outcome

    async def _link_customer(self, user_id: str, customer: str, email: str) -> bool:
        owner = await self._user_of_customer(customer)
        if owner is not None:
            return owner == user_id
        mine = await self.session.get(BillingCustomer, user_id)
        if mine is None:
            self.session.add(
                BillingCustomer(user_id=user_id, stripe_customer_id=customer, email=email)
            )
        else:  # a new customer for the same user (a second checkout): the portal uses the newest
            mine.stripe_customer_id = customer
            mine.email = email or mine.email
        await self.session.flush()
        return True

    async def _subscription(self) -> str:
        sub_id, customer = _id(self.obj.get("id")), _id(self.obj.get("customer"))
        if sub_id is None or customer is None:
            return "ignored: no subscription id"
        status = "canceled" if self.type.endswith(".deleted") else str(self.obj.get("status"))
        return await self._set_state(sub_id, customer, status)

    async def _invoice_paid(self) -> str:
        sub_id, customer = _invoice_subscription(self.obj), _id(self.obj.get("customer"))
        if sub_id is None or customer is None:
            return "ignored: not a subscription invoice"
        return await self._set_state(sub_id, customer, "active")

    async def _payment_failed(self, user_id: str | None) -> str:
        if user_id is None:
            return "ignored: payment failed for an unknown customer"
        self.notices.append(add_notice(self.session, user_id, "payment_failed"))
        return "payment failed: user told"

    async def _set_state(
        self, sub_id: str, customer: str, status: str | None, user_id: str | None = None
    ) -> str:
        """Newer-wins state of one subscription; ``status=None`` only links the user."""
        row = await self.session.get(StripeSubscription, sub_id, with_for_update=True)
        if row is None:
            row = StripeSubscription(
                id=sub_id,
                customer_id=customer,
                user_id=user_id or await self._user_of_customer(customer),
                status=status or "incomplete",
                status_at=self.created if status else 0,
            )
            self.session.add(row)
            await self.session.flush()
            return f"{sub_id}: {row.status}"
        if user_id is not None and row.user_id is None:
            row.user_id = user_id
        if status is None:
            return f"{sub_id}: linked"
        if row.status == "canceled":
            return f"ignored: {sub_id} is already canceled"
        if self.created < row.status_at:
            return f"ignored: older than the {row.status} state we have"
        row.status, row.status_at = status, self.created
        await self.session.flush()
        return f"{sub_id}: {status}"

    async def _after(self, user_id: str, before: str, outcome: str) -> None:
        after = await plan_name(self.session, user_id)
        user = await self.session.get(User, user_id)
        if user is not None:
            user.plan = after
        data = {"event": self.event["id"], "type": self.type, "outcome": outcome, "plan": after}
        self.session.add(UserEvent(user_id=user_id, kind="billing.stripe", data=data))
        if before != after:
            kind = "pro_now" if after == "pro" else "pro_ended"
            self.notices.append(add_notice(self.session, user_id, kind))
        await self.session.flush()
