"""Security of the pages: headers, the session cookie, CSRF, the upload cap enforced while the
body streams in, and the per-IP / per-user rate limits (kept in real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from pydantic import SecretStr

from core.config import Settings
from core.db.models import Channel
from core.login_links import issue_login_link
from jobs.accounts import user_for
from tests.conftest import SampleFiles
from tests.web.pages_client import BASE, open_app, parse, site_service, text_of
from tests.web.test_login import sign_in
from web.security import CSRF_MESSAGE
from web.session import COOKIE, SessionCodec, WebSession

MB = 1024 * 1024


def test_pages_carry_security_headers_and_a_safe_session_cookie(
    tmp_path: Path, redis_url: str, sqlite_url: str
) -> None:
    with site_service(tmp_path, redis_url, sqlite_url) as svc:

        async def scenario() -> None:
            async with open_app(svc.settings) as (_, http):
                for path in ("/", "/c/missing", "/healthz"):
                    response = await http.get(path)
                    csp = response.headers["content-security-policy"]
                    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
                    assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp
                    assert response.headers["x-content-type-options"] == "nosniff"
                    assert response.headers["x-frame-options"] == "DENY"
                cookie = (await open_fresh(http)).headers["set-cookie"]
                assert cookie.startswith(f"{COOKIE}=")
                assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
                assert "Secure" not in cookie  # plain http here; see the https case below

        asyncio.run(scenario())


async def open_fresh(http: httpx.AsyncClient) -> httpx.Response:
    http.cookies.clear()
    return await http.get("/")


def test_the_session_cookie_is_signed_and_secure_on_https() -> None:
    codec = SessionCodec(Settings(public_url="https://swapzy.example"))
    assert codec.secure
    session = WebSession("abc", "user-1", 1_000)
    value = codec.encode(session)
    assert codec.decode(value, 1_001) == session
    body, mac = value.split(".")
    forged = SessionCodec(Settings(web_session_secret=SecretStr("another"))).encode(session)
    assert codec.decode(forged, 1_001) is None
    assert codec.decode(body + "." + mac[::-1], 1_001) is None
    assert codec.decode(value, 1_000 + codec.ttl_s + 1) is None  # too old
    assert codec.csrf_ok(session, codec.csrf_token(session))
    assert not codec.csrf_ok(WebSession("other"), codec.csrf_token(session))


def test_forms_need_this_sessions_csrf_token_and_our_origin(
    tmp_path: Path, redis_url: str, sqlite_url: str, sample_files: SampleFiles
) -> None:
    with site_service(tmp_path, redis_url, sqlite_url) as svc:

        async def scenario() -> None:
            async with open_app(svc.settings) as (_, http):
                csrf = parse((await http.get("/")).text).inputs["csrf"]
                face = {"face": ("f.jpg", sample_files.source.read_bytes(), "image/jpeg")}
                form = {"template": "hopper-sway", "consent": "yes"}
                for data, headers in (
                    (form, {}),
                    ({**form, "csrf": "forged"}, {}),
                    ({**form, "csrf": csrf}, {"origin": "https://evil.example"}),
                ):
                    refused = await http.post("/make", data=data, files=face, headers=headers)
                    assert refused.status_code == 403
                    assert CSRF_MESSAGE in text_of(refused.text)
                ok = await http.post(
                    "/make", data={**form, "csrf": csrf}, files=face, headers={"origin": BASE}
                )
                assert ok.status_code == 303

        asyncio.run(scenario())


def test_an_upload_over_the_cap_is_refused_before_the_rest_is_read(
    tmp_path: Path, redis_url: str, sqlite_url: str
) -> None:
    with site_service(tmp_path, redis_url, sqlite_url, web_max_request_bytes=MB) as svc:

        async def scenario() -> None:
            async with open_app(svc.settings) as (_, http):
                csrf = parse((await http.get("/")).text).inputs["csrf"]
                sent = 0
                boundary = "swapzyboundary"

                async def body() -> AsyncIterator[bytes]:
                    nonlocal sent
                    head = (
                        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'
                        f"{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; "
                        'name="gif"; filename="big.gif"\r\nContent-Type: image/gif\r\n\r\nGIF89a'
                    ).encode()
                    sent += len(head)
                    yield head
                    for _ in range(100):  # 100 MB if it were all read
                        sent += MB
                        yield b"\0" * MB

                # No Content-Length: only counting while streaming can stop it.
                response = await http.post(
                    "/make",
                    content=body(),
                    headers={"content-type": f"multipart/form-data; boundary={boundary}"},
                )
                assert response.status_code == 413
                assert "That upload is too big: the limit is 1 MB in all." in text_of(response.text)
                assert sent <= 3 * MB, sent
                # A declared length over the cap is refused without reading anything.
                declared = await http.post(
                    "/make", content=b"x" * (MB + 1), headers={"content-type": "text/plain"}
                )
                assert declared.status_code == 413

        asyncio.run(scenario())


def test_too_many_posts_from_one_ip_or_user_are_slowed_down(
    tmp_path: Path, redis_url: str, sqlite_url: str
) -> None:
    with site_service(
        tmp_path, redis_url, sqlite_url, web_rate_per_ip=3, web_rate_window_s=600
    ) as svc:

        async def scenario() -> None:
            async with open_app(svc.settings) as (_, http):
                csrf = parse((await http.get("/")).text).inputs["csrf"]
                codes = [
                    (await http.post("/make", data={"csrf": csrf})).status_code for _ in range(4)
                ]
                assert codes == [400, 400, 400, 429]  # no files: refused, but counted
                slow = await http.post("/make", data={"csrf": csrf})
                assert slow.status_code == 429
                wait = int(slow.headers["retry-after"])
                assert 0 < wait <= 600
                assert f"Please wait {wait} seconds" in text_of(slow.text)
                # Share pages are not rate limited.
                assert (await http.get("/c/missing")).status_code == 404

        asyncio.run(scenario())


def test_a_signed_in_user_has_a_limit_of_their_own(
    tmp_path: Path, redis_url: str, sqlite_url: str
) -> None:
    with site_service(
        tmp_path, redis_url, sqlite_url, web_rate_per_user=2, web_rate_window_s=600
    ) as svc:

        async def scenario() -> None:
            async with open_app(svc.settings) as (app, http):
                db = app.state.resources.db
                user = await user_for(db, Channel.TELEGRAM, "5")
                await sign_in(http, await issue_login_link(svc.settings, db, user))
                csrf = parse((await http.get("/")).text).inputs["csrf"]
                codes = [
                    (await http.post("/make", data={"csrf": csrf})).status_code for _ in range(3)
                ]
                assert codes == [400, 400, 429]
                # Someone else behind the same IP is not held back by that user's limit.
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url=BASE
                ) as other:
                    token = parse((await other.get("/")).text).inputs["csrf"]
                    assert (await other.post("/make", data={"csrf": token})).status_code == 400

        asyncio.run(scenario())
