"""Admin grants: Pro or extra swaps for a user, with a reason and an expiry; revoked, never
deleted. Only identities in ``settings.admins`` may change them (checked here, so the CLI and the
web admin page refuse the same way). Every change is also recorded as a ``UserEvent``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from billing.notices import add_notice
from billing.quota import plan_name
from core import audit
from core.audit import AuditKind
from core.db.billing_models import Grant
from core.db.models import User, UserEvent, utcnow
from core.db.session import Database
from core.errors import InputError, SwapzyError

What = Literal["pro", "credits"]


class NotAdmin(SwapzyError):
    """Someone who is not an admin asked to change entitlements."""

    exit_code = 17
    code = "forbidden"


class GrantNotFound(InputError):
    code = "grant_not_found"


def require_admin(admins: Collection[str], by: str) -> None:
    if by not in admins:
        raise NotAdmin(f"{by or 'You'} may not change plans or credits: admins only.")


def _check(what: str, amount: int, reason: str, expires_at: datetime) -> None:
    if what not in ("pro", "credits"):
        raise InputError(f"You can grant 'pro' or 'credits', not {what!r}.")
    if what == "credits" and amount < 1:
        raise InputError("Say how many credits to grant (1 or more).")
    if not reason.strip():
        raise InputError("Give a reason; it is kept with the grant.")
    if expires_at <= utcnow():
        raise InputError("The expiry must be in the future.")


async def grant(
    db: Database,
    *,
    admins: Collection[str],
    by: str,
    user_id: str,
    what: What,
    reason: str,
    expires_at: datetime,
    amount: int = 0,
) -> Grant:
    """Give ``user_id`` Pro (``what="pro"``) or ``amount`` extra swaps until ``expires_at``."""
    require_admin(admins, by)
    _check(what, amount, reason, expires_at)
    async with db.sessions() as session, session.begin():
        user = await session.get(User, user_id, with_for_update={"key_share": True})
        if user is None:
            raise InputError(f"There is no user {user_id}.")
        was = await plan_name(session, user_id)
        row = Grant(
            user_id=user_id,
            what=what,
            amount=amount if what == "credits" else 0,
            remaining=amount if what == "credits" else 0,
            reason=reason.strip(),
            granted_by=by,
            expires_at=expires_at,
        )
        session.add(row)
        await session.flush()
        user.plan = await plan_name(session, user_id)
        session.add(UserEvent(user_id=user_id, kind="billing.grant", data=_data(row)))
        if was != "pro" and user.plan == "pro":
            add_notice(session, user_id, "pro_now")
        await audit.record(session, AuditKind.ENTITLEMENT_GRANTED, {**_data(row), "user": user_id})
    return row


async def revoke(
    db: Database, *, admins: Collection[str], by: str, grant_id: int, reason: str
) -> Grant:
    """End a grant now (its unused credits with it)."""
    require_admin(admins, by)
    if not reason.strip():
        raise InputError("Give a reason; it is kept with the revocation.")
    async with db.sessions() as session, session.begin():
        row = await session.get(Grant, grant_id, with_for_update=True)
        if row is None or row.revoked_at is not None:
            raise GrantNotFound(f"There is no active grant {grant_id}.")
        user = await session.get(User, row.user_id, with_for_update={"key_share": True})
        row.revoked_at = utcnow()
        row.revoked_by = by
        row.revoke_reason = reason.strip()
        await session.flush()
        if user is not None:
            user.plan = await plan_name(session, row.user_id)
        data = {**_data(row), "revoke_reason": row.revoke_reason}
        session.add(UserEvent(user_id=row.user_id, kind="billing.revoke", data=data))
        await audit.record(session, AuditKind.ENTITLEMENT_REVOKED, {**data, "user": row.user_id})
    return row


async def list_grants(
    db: Database, *, admins: Collection[str], by: str, user_id: str | None = None
) -> list[Grant]:
    """Every grant (or one user's), newest first, revoked and expired ones included."""
    require_admin(admins, by)
    query = select(Grant).order_by(Grant.created_at.desc(), Grant.id.desc())
    if user_id is not None:
        query = query.where(Grant.user_id == user_id)
    async with db.sessions() as session:
        return list(await session.scalars(query))


def _data(row: Grant) -> dict[str, object]:
    return {
        "grant_id": row.id,
        "what": row.what,
        "amount": row.amount,
        "reason": row.reason,
        "by": row.revoked_by or row.granted_by,
        "expires_at": row.expires_at.isoformat(),
    }
