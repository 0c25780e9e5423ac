"""``/api/jobs/{id}/events``: the job's status as Server-Sent Events, pushed as the worker
publishes progress (Redis pub/sub, every ~0.25 s while it runs) and re-read every second for
queue positions, until the job ends. The job page falls back to polling ``/api/jobs/{id}``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from core.db.models import SwapJob
from jobs.queues import events_channel
from web.pages import Resources, owned_job, status_json
from web.resources import WebResources

REREAD_S = 1.0
MAX_EVENTS = 3600  # a stream ends after about an hour at worst; the page then polls


def _event(body: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(body, separators=(',', ':'))}\n\n".encode()


async def _events(res: WebResources, job: SwapJob, request: Request) -> AsyncIterator[bytes]:
    pubsub = res.queue.pubsub()
    await pubsub.subscribe(events_channel(job.id))
    try:
        last: dict[str, Any] | None = None
        for _ in range(MAX_EVENTS):
            body = await status_json(res, job)
            if body != last:
                yield _event(body)
                last = body
            if body["state"] not in ("queued", "running") or await request.is_disconnected():
                return
            await pubsub.get_message(ignore_subscribe_messages=True, timeout=REREAD_S)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]


def progress_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/api/jobs/{job_id}/events")
    async def job_events(request: Request, job_id: str, res: Resources) -> StreamingResponse:
        job = await owned_job(res, request, job_id)
        return StreamingResponse(
            _events(res, job, request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router
