"""Signing in with a one-time link from the Telegram bot's /web command (the real bot against the
fake Bot API), the account page, deleting my data, and the admin pages (403 for everyone else)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import update

from billing.links import upgrade_url, user_of
from core.db.models import Channel, utcnow
from core.db.web_models import LoginToken
from core.login_links import issue_login_link
from jobs.accounts import user_for
from tests.bots.fake_telegram import FakeTelegram
from tests.bots.harness import polling_bot
from tests.bots.telegram_chat import exchange
from tests.bots.telegram_objects import FakeUser
from tests.conftest import SampleFiles
from tests.fixtures_redis import Valkey
from tests.web.pages_client import BASE, make_clip, open_app, parse, path_of, site_service, text_of
from web.login import LINK_USED

ALICE = FakeUser(id=2001, first_name="Alice", username="alice")
BOB = FakeUser(id=2002, first_name="Bob", username="bob")


async def sign_in(http: httpx.AsyncClient, link: str) -> httpx.Response:
    """Open the link (a page with a button: the GET alone signs no one in), press the button."""
    page = await http.get(path_of(link))
    assert page.status_code == 200
    assert "Sign in to Swapzy" in text_of(page.text)
    inputs = parse(page.text).inputs
    return await http.post("/login", data={"csrf": inputs["csrf"], "token": inputs["token"]})


async def web_link_from_bot(fake: FakeTelegram, user: FakeUser) -> str:
    shown = await exchange(
        fake, user.id, lambda: fake.send_command(user, None, "/web"), "sign-in link"
    )
    assert shown.content.startswith("Your sign-in link for the Swapzy website.")
    link = shown.content.split("\n")[-1]
    assert link.startswith(f"{BASE}/login/")
    return link


def test_the_bots_web_command_signs_me_in_once_and_admins_only_see_admin_pages(
    tmp_path: Path, valkey: Valkey, sqlite_url: str, fake_telegram: FakeTelegram
) -> None:
    fake = fake_telegram
    with site_service(
        tmp_path,
        valkey.url,
        sqlite_url,
        telegram_token=fake.token,
        telegram_api_url=fake.url,
        admins=[f"telegram:{ALICE.id}"],
    ) as svc:

        async def scenario() -> None:
            async with polling_bot(svc.settings), open_app(svc.settings) as (app, alice):
                assert (await alice.get("/account")).status_code == 401
                assert (await alice.get("/admin")).status_code == 403
                link = await web_link_from_bot(fake, ALICE)
                # A chat app previewing the link (a GET) does not use it up.
                assert (await alice.get(path_of(link))).status_code == 200
                signed = await sign_in(alice, link)
                assert signed.status_code == 303 and signed.headers["location"] == "/account"
                account = await alice.get("/account")
                assert account.status_code == 200
                words = text_of(account.text)
                assert "Plan: Free" in words and "5 swaps left today" in words
                assert "No clips yet." in words
                assert "Upgrade to Pro" not in words  # no payment link configured
                # The link works once.
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url=BASE
                ) as thief:
                    again = await sign_in(thief, link)
                    assert again.status_code == 400 and LINK_USED in text_of(again.text)
                    assert (await thief.get("/account")).status_code == 401
                # Alice is an admin: every admin page answers.
                for path in ("/admin", "/admin/users", "/admin/reports", "/admin/entitlements"):
                    page = await alice.get(path)
                    assert page.status_code == 200, path
                    assert f"Signed in as telegram:{ALICE.id}" in text_of(page.text)
                users = text_of((await alice.get("/admin/users")).text)
                assert f"telegram:{ALICE.id}" in users
                # Bob signs in the same way and is refused.
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url=BASE
                ) as bob:
                    assert (
                        await sign_in(bob, await web_link_from_bot(fake, BOB))
                    ).status_code == 303
                    assert (await bob.get("/account")).status_code == 200
                    for path in ("/admin", "/admin/users", "/admin/reports", "/admin/entitlements"):
                        refused = await bob.get(path)
                        assert refused.status_code == 403, path
                        assert "This page is for Swapzy admins only." in text_of(refused.text)
                    csrf = parse((await bob.get("/account")).text).inputs["csrf"]
                    grant = await bob.post(
                        "/admin/entitlements",
                        data={"csrf": csrf, "what": "pro", "user_id": "x", "days": "9"},
                    )
                    assert grant.status_code == 403

        asyncio.run(scenario())


def test_an_expired_link_is_refused(tmp_path: Path, redis_url: str, sqlite_url: str) -> None:
    with site_service(tmp_path, redis_url, sqlite_url) as svc:

        async def scenario() -> None:
            async with open_app(svc.settings) as (app, http):
                db = app.state.resources.db
                user = await user_for(db, Channel.TELEGRAM, "77")
                link = await issue_login_link(svc.settings, db, user)
                async with db.sessions() as s, s.begin():
                    await s.execute(
                        update(LoginToken).values(expires_at=utcnow() - timedelta(seconds=1))
                    )
                refused = await sign_in(http, link)
                assert refused.status_code == 400 and LINK_USED in text_of(refused.text)
                assert (await http.get("/account")).status_code == 401

        asyncio.run(scenario())


def test_my_clips_on_the_account_page_and_deleting_them(
    tmp_path: Path, redis_url: str, database_url: str, sample_files: SampleFiles
) -> None:
    with site_service(tmp_path, redis_url, database_url) as svc:

        async def scenario() -> None:
            async with open_app(svc.settings) as (app, http):
                res = app.state.resources
                user = await user_for(res.db, Channel.TELEGRAM, "88")
                await sign_in(http, await issue_login_link(svc.settings, res.db, user))
                job_id, share = await make_clip(svc, http, sample_files.target, sample_files.source)
                assert (await http.get(share)).status_code == 200  # renditions made
                account = await http.get("/account")
                assert f'href="{share}"' in account.text
                assert "succeeded" in text_of(account.text)
                assert "4 swaps left today" in text_of(account.text)
                files = sorted(p.name for p in (svc.settings.media_dir / "jobs" / job_id).iterdir())
                assert files == ["share.mp4", "source.jpg", "swapzy.gif", "target.gif", "thumb.jpg"]
                csrf = parse(account.text).inputs["csrf"]
                kept = await http.post("/account/delete", data={"csrf": csrf})
                assert kept.status_code == 400
                assert "Tick the box to confirm" in text_of(kept.text)
                gone = await http.post("/account/delete", data={"csrf": csrf, "confirm": "yes"})
                assert gone.status_code == 303
                after = await http.get(gone.headers["location"])
                assert "your uploads and clips are deleted (1 clip(s))" in text_of(after.text)
                assert "No clips yet." in text_of(after.text)
                assert (await http.get(share)).status_code == 404
                assert list((svc.settings.media_dir / "jobs" / job_id).glob("*")) == []

        asyncio.run(scenario())


def test_the_account_page_offers_my_own_pro_link_when_stripe_is_set_up(
    tmp_path: Path, redis_url: str, sqlite_url: str
) -> None:
    link = "https://buy.stripe.com/abc123"
    with site_service(tmp_path, redis_url, sqlite_url) as svc:
        settings = svc.settings.model_copy(update={"stripe_payment_links": {"pro": link}})

        async def scenario() -> None:
            async with open_app(settings) as (app, http):
                db = app.state.resources.db
                user = await user_for(db, Channel.TELEGRAM, "66")
                await sign_in(http, await issue_login_link(settings, db, user))
                page = await http.get("/account")
                href = parse(page.text).ids["upgrade"]["href"]
                assert href == upgrade_url(settings, user)
                assert href.startswith(f"{link}?client_reference_id=")
                assert (
                    user_of(
                        settings.billing_reference_secret.get_secret_value(),
                        href.split("client_reference_id=")[1],
                    )
                    == user
                )

        asyncio.run(scenario())
