"""The real web app (``build_app``: its lifespan connects the database and the queue) driven
in-process through httpx's ASGI transport, plus small readers of what a browser would see."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from core.config import Settings
from tests.jobs.service import Service, service, wait_for
from web.main import build_app

BASE = "http://swapzy.test"


@dataclass
class Site:
    app: FastAPI
    http: httpx.AsyncClient
    svc: Service

    @property
    def settings(self) -> Settings:
        return self.svc.settings


@contextlib.asynccontextmanager
async def open_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = build_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=30
        ) as http,
    ):
        yield app, http


def site_service(
    tmp_path: Path, redis_url: str, database_url: str, **overrides: Any
) -> contextlib.AbstractContextManager[Service]:
    return service(tmp_path, redis_url, database_url, public_url=BASE, **overrides)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.inputs: dict[str, str] = {}
        self.ids: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "meta" and ("property" in a or "name" in a):
            self.meta[a.get("property") or a["name"]] = a.get("content", "")
        if tag == "input" and "name" in a and a.get("type") == "hidden":
            self.inputs[a["name"]] = a.get("value", "")
        if "id" in a:
            self.ids[a["id"]] = {"tag": tag, **a}


def parse(html: str) -> _Parser:
    parser = _Parser()
    parser.feed(html)
    return parser


def text_of(html: str) -> str:
    """The page's visible words, one space apart (tags, scripts and styles dropped)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def path_of(url: str) -> str:
    assert url.startswith(BASE), url
    return url.removeprefix(BASE)


async def wait_for_state(http: httpx.AsyncClient, job_url: str, states: set[str]) -> Any:
    async def reached() -> Any:
        body = (await http.get(job_url)).json()
        return body if body["state"] in states else None

    return await wait_for(reached, f"the job to reach {sorted(states)}", 120)


async def make_clip(
    svc: Service, http: httpx.AsyncClient, target: Path, face: Path, *, worker: bool = True
) -> tuple[str, str]:
    """Upload ``target`` + ``face`` through the landing page's form; with ``worker``, start one
    (noop engine) and wait for the clip. Returns (job id, share page path)."""
    page = await http.get("/")
    csrf = parse(page.text).inputs["csrf"]
    made = await http.post(
        "/make",
        data={"csrf": csrf, "consent": "yes"},
        files={
            "gif": (target.name, target.read_bytes(), "application/octet-stream"),
            "face": (face.name, face.read_bytes(), "image/jpeg"),
        },
    )
    assert made.status_code == 303, text_of(made.text)
    job_id = made.headers["location"].removeprefix("/j/")
    if worker and not svc.workers:
        svc.start_worker()
    done = await wait_for_state(http, f"/api/jobs/{job_id}", {"succeeded", "failed"})
    assert done["state"] == "succeeded", done
    return job_id, str(done["share_url"])
