"""Tables of billing (issue 6): paid subscriptions, admin grants, quota usage, Stripe events.

Same rules as ``core.db.models``: portable types, UTC times, stable constraint names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base, UTCDateTime, utcnow


class StripeEvent(Base):
    """Every webhook event, stored under Stripe's id before it is processed (a replay finds it)."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # evt_...
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[int] = mapped_column(BigInteger)  # Stripe's event.created (epoch seconds)
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(200), default="")


class StripeSubscription(Base):
    """A paid subscription as the newest event we saw says it is. ``status_at`` is that event's
    ``created``: an older event never overwrites a newer state, and ``canceled`` is final."""

    __tablename__ = "stripe_subscriptions"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # sub_...
    customer_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    plan: Mapped[str] = mapped_column(String(16), default="pro")
    status: Mapped[str] = mapped_column(String(32))  # Stripe's: active, past_due, canceled ...
    status_at: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class BillingCustomer(Base):
    """Which Stripe customer a user is (set by a completed checkout; used for the portal)."""

    __tablename__ = "billing_customers"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Grant(Base):
    """Pro or extra swaps given by an admin, with a reason and an expiry; revoked, not deleted."""

    __tablename__ = "billing_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    what: Mapped[str] = mapped_column(String(16))  # pro | credits
    amount: Mapped[int] = mapped_column(Integer, default=0)  # credits given
    remaining: Mapped[int] = mapped_column(Integer, default=0)  # credits left
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class QuotaUsage(Base):
    """Swaps a user started in one quota period ("2026-11-28" for a day, "2026-11" a month)."""

    __tablename__ = "quota_usage"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class BillingNotice(Base):
    """A message owed to a user about their plan ("You're Pro now"), written in the same
    transaction as the change (an outbox): the channel's delivery worker sends it once."""

    __tablename__ = "billing_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # pro_now | payment_failed | pro_ended
    link: Mapped[str | None] = mapped_column(Text)  # where to fix it (the portal), if any
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


__all__ = [
    "Base",
    "BillingCustomer",
    "BillingNotice",
    "Grant",
    "QuotaUsage",
    "StripeEvent",
    "StripeSubscription",
]
