"""``jobs.accounts``' audit events on real databases: consent, and a data deletion with every
job it removed, each in the same transaction as the change it records."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import select

from core import audit
from core.config import Settings
from core.db import migrate
from core.db.audit_models import AuditEvent
from core.db.models import AssetKind, Channel, MediaAsset, SwapJob, User
from core.db.session import Database
from core.storage import build_storage
from jobs.accounts import delete_user_data, record_consent, user_for


async def _events(db: Database) -> list[tuple[str, dict[str, object]]]:
    async with db.sessions() as session:
        rows = await session.scalars(select(AuditEvent).order_by(AuditEvent.seq))
        return [(r.kind, json.loads(r.body)["data"]) for r in rows]


async def _scenario(url: str, media: Path) -> None:
    db = Database.connect(url)
    storage = build_storage(Settings(data_dir=media))
    try:
        user = await user_for(db, Channel.TELEGRAM, "42", "ada")
        await record_consent(db, user, Channel.TELEGRAM)
        async with db.sessions() as session, session.begin():
            assets = []
            for kind in (AssetKind.TARGET, AssetKind.SOURCE):
                key = f"jobs/x/{kind.value}.gif"
                storage.put_bytes(key, b"GIF89a", "image/gif")
                assets.append(
                    MediaAsset(
                        user_id=user,
                        kind=kind,
                        storage_key=key,
                        content_type="image/gif",
                        bytes=6,
                        sha256="ab" * 32,
                    )
                )
            session.add_all(assets)
            await session.flush()
            jobs = [
                SwapJob(user_id=user, channel=Channel.TELEGRAM, target_asset_id=assets[0].id,
                        source_asset_id=assets[1].id)
                for _ in range(2)
            ]  # fmt: skip
            session.add_all(jobs)
        deleted = await delete_user_data(db, storage, user)
        assert (deleted.files, deleted.jobs) == (2, 2)
        assert await _events(db) == [
            ("consent.given", {"user": user, "channel": "telegram"}),
            ("data.deletion", {"user": user, "state": "requested"}),
            *[("job.deleted", {"job": j, "user": user}) for j in sorted(j.id for j in jobs)],
            ("data.deletion", {"user": user, "state": "done", "files": 2, "jobs": 2}),
        ]
        async with db.sessions() as session:
            assert await session.get(User, user) is not None  # the user record stays
        assert (await audit.verify(db, [])).ok
    finally:
        await db.close()


def test_consent_and_deletion_are_in_the_audit_log(database_url: str, tmp_path: Path) -> None:
    migrate.upgrade(database_url)
    asyncio.run(_scenario(database_url, tmp_path / "media"))
