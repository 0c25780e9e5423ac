"""``/m/{key}``: signed media served by the real app (uvicorn in a thread), over real HTTP."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request

from core.config import Settings
from core.storage import LocalStorage, S3Storage, build_storage, make_s3_client
from tests.web.server import base_url, bind_free_socket, serve
from web.app import create_app
from web.media import EXPIRED_TEXT, INVALID_TEXT

GIF = b"GIF89a" + os.urandom(4000)


@dataclass
class Site:
    base: str
    storage: LocalStorage
    client: httpx.Client

    def link(self, key: str, *, expires_at: int | None = None) -> str:
        """A signed link made by the app's own signer."""
        if expires_at is None:
            return self.storage.url(key, expires_s=600)
        return self.storage.links.url(key, expires_at)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    sock = bind_free_socket()
    settings = Settings(data_dir=tmp_path, public_url=base_url(sock))
    storage = build_storage(settings)
    assert isinstance(storage, LocalStorage)
    with serve(create_app(settings, storage=storage), sock) as base, httpx.Client() as client:
        yield Site(base, storage, client)


def test_valid_link_serves_exact_bytes(site: Site) -> None:
    site.storage.put_bytes("clips/j1/out.gif", GIF, "image/gif")
    link = site.link("clips/j1/out.gif")
    assert link.startswith(site.base + "/m/clips/j1/out.gif?exp=")
    response = site.client.get(link)
    assert response.status_code == 200
    assert response.content == GIF
    assert response.headers["content-type"] == "image/gif"
    assert response.headers["content-length"] == str(len(GIF))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    assert response.headers["x-content-type-options"] == "nosniff"
    cache = response.headers["cache-control"]
    assert cache.startswith("private, max-age=")
    assert 590 <= int(cache.rsplit("=", 1)[1]) <= 600


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("a.mp4", "video/mp4"),
        ("a.webp", "image/webp"),
        ("a.jpg", "image/jpeg"),
        ("a.png", "image/png"),
        ("a.bin", "application/octet-stream"),
    ],
)
def test_content_type_from_extension(site: Site, name: str, content_type: str) -> None:
    site.storage.put_bytes(f"x/{name}", b"data", content_type)
    response = site.client.get(site.link(f"x/{name}"))
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type


def test_expired_link(site: Site) -> None:
    site.storage.put_bytes("a.gif", GIF, "image/gif")
    response = site.client.get(site.link("a.gif", expires_at=int(time.time()) - 5))
    assert response.status_code == 403
    assert response.text == EXPIRED_TEXT == "This link has expired."
    assert response.headers["cache-control"] == "no-store"


def test_tampered_and_foreign_links(site: Site) -> None:
    site.storage.put_bytes("a/b.gif", GIF, "image/gif")
    site.storage.put_bytes("a/c.gif", GIF, "image/gif")
    link = site.link("a/b.gif")
    sig = link.rsplit("sig=", 1)[1]
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    bad_links = [
        link.replace(f"sig={sig}", f"sig={flipped}"),  # tampered signature
        link.replace("/m/a/b.gif", "/m/a/c.gif"),  # the link of another key
        link.replace("exp=", "exp=1"),  # tampered expiry
        link.split("?", 1)[0],  # no parameters
        link.split("&sig=", 1)[0],  # no signature
        site.base + "/m/a/%2e%2e/a/b.gif?" + link.split("?", 1)[1],  # a path trick
    ]
    for bad in bad_links:
        response = site.client.get(bad)
        assert response.status_code == 403, bad
        assert response.text == INVALID_TEXT == "This link is not valid."


def test_deleted_object_is_404(site: Site) -> None:
    site.storage.put_bytes("gone.gif", GIF, "image/gif")
    link = site.link("gone.gif")
    assert site.client.get(link).status_code == 200
    site.storage.delete("gone.gif")
    response = site.client.get(link)
    assert response.status_code == 404
    assert response.text == "This file is no longer available."


def test_folder_is_not_an_object(site: Site) -> None:
    site.storage.put_bytes("dir/x.gif", GIF, "image/gif")
    assert site.client.get(site.link("dir")).status_code == 404


def test_range_first_bytes(site: Site) -> None:
    site.storage.put_bytes("r.gif", GIF, "image/gif")
    response = site.client.get(site.link("r.gif"), headers={"Range": "bytes=0-9"})
    assert response.status_code == 206
    assert response.content == GIF[:10]
    assert response.headers["content-range"] == f"bytes 0-9/{len(GIF)}"
    assert response.headers["content-length"] == "10"
    assert response.headers["content-type"] == "image/gif"


def test_range_open_ended_and_suffix(site: Site) -> None:
    site.storage.put_bytes("r.gif", GIF, "image/gif")
    link, size = site.link("r.gif"), len(GIF)
    response = site.client.get(link, headers={"Range": "bytes=-5"})
    assert response.status_code == 206
    assert response.content == GIF[-5:]
    assert response.headers["content-range"] == f"bytes {size - 5}-{size - 1}/{size}"

    response = site.client.get(link, headers={"Range": "bytes=4000-"})
    assert response.status_code == 206
    assert response.content == GIF[4000:]
    assert response.headers["content-range"] == f"bytes 4000-{size - 1}/{size}"

    response = site.client.get(link, headers={"Range": f"bytes=10-{size + 1000}"})  # clamped
    assert response.status_code == 206
    assert response.content == GIF[10:]


def test_range_unsatisfiable(site: Site) -> None:
    site.storage.put_bytes("r.gif", GIF, "image/gif")
    for header in ("bytes=100000-", f"bytes={len(GIF)}-", "bytes=-0"):
        response = site.client.get(site.link("r.gif"), headers={"Range": header})
        assert response.status_code == 416, header
        assert response.headers["content-range"] == f"bytes */{len(GIF)}"


def test_malformed_range_gets_the_whole_file(site: Site) -> None:
    site.storage.put_bytes("r.gif", GIF, "image/gif")
    for header in ("bytes=9-2", "items=0-5", "bytes=abc", "bytes"):
        response = site.client.get(site.link("r.gif"), headers={"Range": header})
        assert response.status_code == 200, header
        assert response.content == GIF


def test_multiple_ranges(site: Site) -> None:
    site.storage.put_bytes("r.gif", GIF, "image/gif")
    response = site.client.get(site.link("r.gif"), headers={"Range": "bytes=0-1,10-12"})
    # Starlette answers several ranges as multipart/byteranges.
    assert response.status_code == 206
    assert response.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert GIF[0:2] in response.content and GIF[10:13] in response.content


def test_if_range_with_a_stale_etag_gets_the_whole_file(site: Site) -> None:
    site.storage.put_bytes("r.gif", GIF, "image/gif")
    link = site.link("r.gif")
    etag = site.client.get(link).headers["etag"]
    fresh = site.client.get(link, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert fresh.status_code == 206
    stale = site.client.get(link, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert stale.status_code == 200
    assert stale.content == GIF


def test_if_none_match(site: Site) -> None:
    site.storage.put_bytes("r.gif", GIF, "image/gif")
    link = site.link("r.gif")
    etag = site.client.get(link).headers["etag"]
    response = site.client.get(link, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert site.client.get(link, headers={"If-None-Match": '"other"'}).status_code == 200


def test_head(site: Site) -> None:
    site.storage.put_bytes("h.gif", GIF, "image/gif")
    link = site.link("h.gif")
    response = site.client.head(link)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(GIF))
    assert response.headers["content-type"] == "image/gif"
    assert response.content == b""
    partial = site.client.head(link, headers={"Range": "bytes=0-9"})
    assert partial.status_code == 206
    assert partial.headers["content-length"] == "10"
    assert partial.content == b""
    expired = site.client.head(site.link("h.gif", expires_at=int(time.time()) - 1))
    assert expired.status_code == 403


def test_large_file_streams_in_full(site: Site, tmp_path: Path) -> None:
    src = tmp_path / "big.mp4"
    src.write_bytes(os.urandom(5 * 1024 * 1024 + 123))
    site.storage.put_file("big/out.mp4", src, "video/mp4")
    response = site.client.get(site.link("big/out.mp4"))
    assert response.status_code == 200
    assert response.content == src.read_bytes()
    middle = site.client.get(site.link("big/out.mp4"), headers={"Range": "bytes=1048570-2097160"})
    assert middle.status_code == 206
    assert middle.content == src.read_bytes()[1048570:2097161]


def test_only_get_and_head(site: Site) -> None:
    site.storage.put_bytes("a.gif", GIF, "image/gif")
    assert site.client.post(site.link("a.gif")).status_code == 405


def test_app_with_s3_storage_extra_routers_and_lifespan(tmp_path: Path) -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.greeting = "pong"
        events.append("start")
        yield
        events.append("stop")

    extra = APIRouter()

    @extra.get("/ping")
    def ping(request: Request) -> dict[str, str]:
        return {"answer": request.app.state.greeting}

    storage = S3Storage(make_s3_client("us-east-1", "http://127.0.0.1:9"), "bucket")
    app = create_app(
        Settings(data_dir=tmp_path), storage=storage, extra_routers=[extra], lifespan=lifespan
    )
    assert app.title == "Swapzy"
    assert app.state.storage is storage
    with serve(app) as base:
        assert urlsplit(base).hostname == "127.0.0.1"
        assert httpx.get(f"{base}/ping").json() == {"answer": "pong"}
        # Media lives in S3/CloudFront: the app serves no /m/ route.
        assert httpx.get(f"{base}/m/a.gif?exp=1&sig=x").status_code == 404
    assert events == ["start", "stop"]
