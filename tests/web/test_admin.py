"""Admin work through the pages: review a report and remove the clip (its page and files go),
and grant Pro (billing's entitlements) that the user's account page then shows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from core.db.audit_models import AuditEvent
from core.db.billing_models import BillingNotice
from core.db.models import Channel
from core.db.web_models import Report, ShareLink
from core.login_links import issue_login_link
from jobs.accounts import user_for
from jobs.delivery import notice_job_id
from jobs.queues import delivery_queue
from tests.conftest import SampleFiles
from tests.jobs.service import Service
from tests.web.pages_client import BASE, make_clip, open_app, parse, path_of, site_service, text_of
from tests.web.test_login import sign_in

ADMIN = "telegram:99"


async def made_and_reported(
    svc: Service, app: FastAPI, sample: SampleFiles
) -> tuple[str, str, str]:
    """Someone makes a clip and someone reports it; returns (job id, share path, MP4 link)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as maker:
        job_id, share = await make_clip(svc, maker, sample.target, sample.source)
        page = await maker.get(share)
        mp4_url = parse(page.text).meta["og:video"]
        form = await maker.get(f"{share}/report")
        await maker.post(
            f"{share}/report",
            data={"csrf": parse(form.text).inputs["csrf"], "reason": "sexual"},
        )
    return job_id, share, mp4_url


def test_an_admin_removes_a_reported_clip_and_grants_pro(
    tmp_path: Path, redis_url: str, database_url: str, sample_files: SampleFiles
) -> None:
    with site_service(tmp_path, redis_url, database_url) as svc:
        # Only the web app needs to know the admins (the worker's environment does not).
        settings = svc.settings.model_copy(update={"admins": (ADMIN,)})

        async def scenario() -> None:
            async with open_app(settings) as (app, admin):
                res = app.state.resources
                admin_id = await user_for(res.db, Channel.TELEGRAM, ADMIN.split(":")[1])
                await sign_in(admin, await issue_login_link(svc.settings, res.db, admin_id))
                job_id, share, mp4_url = await made_and_reported(svc, app, sample_files)
                jobs = text_of((await admin.get("/admin")).text)
                assert "succeeded 1" in jobs and "web" in jobs
                reports = await admin.get("/admin/reports")
                assert "sexual" in text_of(reports.text) and "open" in text_of(reports.text)
                csrf = parse(reports.text).inputs["csrf"]
                async with res.db.sessions() as s:
                    report = await s.scalar(select(Report))
                assert report is not None
                removed = await admin.post(
                    f"/admin/reports/{report.id}", data={"csrf": csrf, "action": "remove"}
                )
                assert removed.status_code == 303
                assert "(removed)" in text_of((await admin.get("/admin/reports")).text)
                assert (await admin.get(share)).status_code == 404
                assert (await admin.get(path_of(mp4_url))).status_code == 404  # file deleted
                assert not (settings.media_dir / "jobs" / job_id / "swapzy.gif").exists()
                async with res.db.sessions() as s:
                    link = await s.get(ShareLink, share.removeprefix("/c/"))
                    report = await s.scalar(select(Report))
                assert link is not None and link.removed_at is not None
                assert report is not None and report.resolution == "removed"
                async with res.db.sessions() as s:
                    logged = (await s.scalars(select(AuditEvent.body))).all()
                assert any('"action":"report.remove"' in body for body in logged)

                # Grant Pro (here to the admin's own account); the account page shows it.
                ents = await admin.get("/admin/entitlements")
                csrf = parse(ents.text).inputs["csrf"]
                bad = await admin.post(
                    "/admin/entitlements",
                    data={"csrf": csrf, "what": "pro", "user_id": admin_id, "days": "30"},
                )
                assert bad.status_code == 400
                assert "Give a reason" in text_of(bad.text)
                granted = await admin.post(
                    "/admin/entitlements",
                    data={
                        "csrf": csrf,
                        "what": "pro",
                        "user_id": admin_id,
                        "days": "30",
                        "reason": "beta tester",
                    },
                )
                assert granted.status_code == 303, text_of(granted.text)
                grants = text_of((await admin.get("/admin/entitlements")).text)
                assert "beta tester" in grants and ADMIN in grants
                assert "Plan: Pro" in text_of((await admin.get("/account")).text)
                # "You're Pro now" is on its way to the user's chat (their Telegram).
                async with res.db.sessions() as s:
                    notice = await s.scalar(select(BillingNotice))
                assert notice is not None and notice.kind == "pro_now"
                queued = await res.queue.zrange(delivery_queue(Channel.TELEGRAM), 0, -1)
                assert [q.decode() for q in queued] == [notice_job_id(notice.id)]

        asyncio.run(scenario())
