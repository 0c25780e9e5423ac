"""Messages owed to users about their plan, written in the same transaction as the change (an
outbox), then handed to the channel the user last used (``jobs.delivery.enqueue_notices``); each
channel words them itself (Telegram: ``bots/telegram/texts.py`` ``NOTICES``).

Kinds: ``pro_now`` (paid or granted Pro began), ``pro_ended``, ``payment_failed``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.billing_models import BillingNotice


def add_notice(
    session: AsyncSession, user_id: str, kind: str, link: str | None = None
) -> BillingNotice:
    notice = BillingNotice(user_id=user_id, kind=kind, link=link)
    session.add(notice)
    return notice


async def unsent(session: AsyncSession, user_id: str) -> list[int]:
    """The user's notices not delivered yet, oldest first."""
    rows = await session.scalars(
        select(BillingNotice.id)
        .where(BillingNotice.user_id == user_id, BillingNotice.sent_at.is_(None))
        .order_by(BillingNotice.id)
    )
    return list(rows)
