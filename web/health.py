"""/healthz (the process answers), /readyz (it can do its job: database, queue, storage) and
Prometheus /metrics, all read at request time."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from jobs.figures import Figures, gather_figures
from web.resources import WebResources, get_resources

Resources = Annotated[WebResources, Depends(get_resources)]
CHECK_TIMEOUT_S = 2.0
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class _Snapshot(Collector):
    def __init__(self, figures: Figures) -> None:
        self.f = figures

    def collect(self):  # type: ignore[no-untyped-def]
        f = self.f
        waiting = GaugeMetricFamily(
            "swapzy_queue_waiting_jobs",
            "Jobs ready to run and not started, per lane.",
            labels=["lane"],
        )
        running = GaugeMetricFamily(
            "swapzy_queue_running_jobs", "Jobs running on a worker, per lane.", labels=["lane"]
        )
        deferred = GaugeMetricFamily(
            "swapzy_queue_deferred_jobs",
            "Retries waiting for their backoff, per lane.",
            labels=["lane"],
        )
        for lane in f.lanes:
            waiting.add_metric([lane.lane.value], lane.waiting)
            running.add_metric([lane.lane.value], lane.running)
            deferred.add_metric([lane.lane.value], lane.deferred)
        yield from (waiting, running, deferred)
        jobs = GaugeMetricFamily("swapzy_jobs", "Jobs in the database by state.", labels=["state"])
        for state, n in f.jobs_by_state.items():
            jobs.add_metric([state.value], n)
        yield jobs
        yield GaugeMetricFamily(
            "swapzy_oldest_waiting_job_age_seconds",
            "Age of the oldest job still queued (0 when none).",
            value=f.oldest_waiting_s,
        )
        yield CounterMetricFamily(
            "swapzy_engine_seconds", "Engine time spent on finished jobs.", value=f.engine_seconds
        )
        yield GaugeMetricFamily(
            "swapzy_undelivered_jobs", "Finished jobs not yet handed back.", value=f.undelivered
        )
        yield GaugeMetricFamily("swapzy_workers", "Live swap worker processes.", value=f.workers)


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(res: Resources) -> JSONResponse:
        checks = {
            "database": _check(_database(res)),
            "queue": _check(res.queue.ping()),
            "storage": _check(asyncio.to_thread(res.storage.exists, "readyz/probe")),
        }
        results = dict(zip(checks, await asyncio.gather(*checks.values()), strict=True))
        ready = all(v == "ok" for v in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics")
    async def metrics(request: Request, res: Resources) -> Response:
        try:
            figures = await asyncio.wait_for(gather_figures(res.db, res.queue), CHECK_TIMEOUT_S)
        except (TimeoutError, RedisError, OSError, SQLAlchemyError) as exc:
            # Better no scrape than a hung or partial one: Prometheus records the target as down.
            return PlainTextResponse(
                f"figures unavailable: {type(exc).__name__}\n", status_code=503
            )
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Snapshot(figures))
        return Response(generate_latest(registry), media_type=PROMETHEUS_TEXT)

    return router


async def _database(res: WebResources) -> None:
    async with res.db.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _check(awaitable: object) -> str:
    try:
        await asyncio.wait_for(awaitable, CHECK_TIMEOUT_S)  # type: ignore[arg-type]
    except TimeoutError:
        return "timed out"
    except Exception as exc:
        return f"failed: {type(exc).__name__}"
    return "ok"
