"""The plan check ``jobs.submit`` runs inside the transaction that creates the job.

The user's row is locked first (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the
transaction already holds the database's write lock), so concurrent submissions of one user
take turns: each reads the count the previous one committed. The count and the job commit or
roll back together, so a refused or failed submission never uses a swap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.plans import FREE, PRO, Plan, plans
from core.config import Settings
from core.db.billing_models import Grant, QuotaUsage, StripeSubscription
from core.db.models import Lane, User, utcnow
from core.errors import InputError, TooManyFrames

PAID_STATUSES = ("active", "trialing")


class QuotaReached(InputError):
    """The plan has no swaps left in this period; the message says what to do."""

    exit_code = 18
    code = "quota_reached"


@dataclass(frozen=True)
class PlanTerms:
    """``jobs.contract.JobTerms``: what the plan allows for one job."""

    lane: Lane
    watermark: bool
    max_side: int | None
    formats: tuple[str, ...]


async def has_paid_pro(session: AsyncSession, user_id: str) -> bool:
    """An active (or trialing) Stripe subscription is linked to the user."""
    query = select(
        exists().where(
            StripeSubscription.user_id == user_id, StripeSubscription.status.in_(PAID_STATUSES)
        )
    )
    return bool(await session.scalar(query))


async def has_granted_pro(session: AsyncSession, user_id: str, now: datetime) -> bool:
    query = select(
        exists().where(
            Grant.user_id == user_id,
            Grant.what == PRO,
            Grant.revoked_at.is_(None),
            Grant.expires_at > now,
        )
    )
    return bool(await session.scalar(query))


async def plan_name(session: AsyncSession, user_id: str, now: datetime | None = None) -> str:
    """``pro`` when paid for or granted by an admin (and not expired), else ``free``."""
    now = now or utcnow()
    if await has_paid_pro(session, user_id) or await has_granted_pro(session, user_id, now):
        return PRO
    return FREE


class PlanAdmission:
    """billing's ``jobs.contract.Admission``: the plan's limits, and one swap counted per job."""

    def __init__(self, settings: Settings) -> None:
        self.plans = plans(settings)

    async def admit(self, session: AsyncSession, *, user_id: str, frames: int) -> PlanTerms:
        # FOR NO KEY UPDATE: the job's inserts already hold KEY SHARE on this row (foreign keys);
        # a plain FOR UPDATE would deadlock two submissions of the same user.
        await session.execute(
            select(User.id).where(User.id == user_id).with_for_update(key_share=True)
        )
        now = utcnow()
        plan = self.plans[await plan_name(session, user_id, now)]
        if frames > plan.max_frames:
            hint = " Get /pro for longer clips." if plan.name == FREE else ""
            raise TooManyFrames(
                f"That clip has {frames} frames; the {plan.title} plan allows up to "
                f"{plan.max_frames}.{hint}"
            )
        await self._count(session, user_id, plan, now)
        return PlanTerms(
            lane=plan.lane,
            watermark=plan.watermark,
            max_side=plan.max_side,
            formats=plan.formats,
        )

    async def _count(self, session: AsyncSession, user_id: str, plan: Plan, now: datetime) -> None:
        period = plan.period_key(now)
        usage = await session.scalar(
            select(QuotaUsage).where(QuotaUsage.user_id == user_id, QuotaUsage.period == period)
        )
        if usage is None:
            usage = QuotaUsage(user_id=user_id, period=period, used=0)
            session.add(usage)
        if usage.used < plan.swaps:
            usage.used += 1
            return
        credit = await session.scalar(
            select(Grant)
            .where(
                Grant.user_id == user_id,
                Grant.what == "credits",
                Grant.revoked_at.is_(None),
                Grant.expires_at > now,
                Grant.remaining > 0,
            )
            .order_by(Grant.expires_at)
            .limit(1)
        )
        if credit is None:
            raise QuotaReached(plan.used_up_message())
        credit.remaining -= 1


async def swaps_left(session: AsyncSession, settings: Settings, user_id: str) -> tuple[Plan, int]:
    """The user's plan and how many swaps they have left now (plan quota plus credits)."""
    now = utcnow()
    plan = plans(settings)[await plan_name(session, user_id, now)]
    used = await session.scalar(
        select(QuotaUsage.used).where(
            QuotaUsage.user_id == user_id, QuotaUsage.period == plan.period_key(now)
        )
    )
    credits = await session.scalars(
        select(Grant.remaining).where(
            Grant.user_id == user_id,
            Grant.what == "credits",
            Grant.revoked_at.is_(None),
            Grant.expires_at > now,
        )
    )
    return plan, max(plan.swaps - (used or 0), 0) + sum(credits)
