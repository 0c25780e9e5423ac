"""/healthz, /readyz and /metrics of the real web process (``web.main.build_app``: its lifespan
connects the database and the queue and runs the built-in delivery), served by uvicorn over real
HTTP, with real ``swapzy worker`` processes taking the jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import redis
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from core.config import Settings, WorkerSettings
from core.db.models import JobState, Lane
from jobs.submit import Submitter
from tests.conftest import SampleFiles
from tests.fixtures_redis import Valkey
from tests.jobs.helpers import deliveries, job_row
from tests.jobs.service import Service, client, request_for, service, wait_for, wait_until
from tests.web.server import base_url, bind_free_socket, serve
from web.health import CHECK_TIMEOUT_S, PROMETHEUS_TEXT
from web.main import build_app

ALL_OK = {"database": "ok", "queue": "ok", "storage": "ok"}
# A check may take CHECK_TIMEOUT_S; the rest of the request (HTTP, the other checks) gets this.
ANSWER_MARGIN_S = 1.5
# A worker's default clocks (heartbeat, sweeps): nothing about it expires under a busy machine.
CLOCKS = {
    name: getattr(WorkerSettings(), name)
    for name in ("heartbeat_s", "stale_after_s", "sweep_every_s", "retry_backoff_s")
}


@dataclass
class Site:
    base: str
    svc: Service

    @property
    def settings(self) -> Settings:
        return self.svc.settings


@contextlib.contextmanager
def site(tmp_path: Path, redis_url: str, database_url: str) -> Iterator[Site]:
    """The service's settings (database migrated) with ``public_url`` at a bound socket, and the
    real web app served on that socket; workers started by the test stop at the end."""
    sock = bind_free_socket()
    with (
        service(tmp_path, redis_url, database_url, public_url=base_url(sock)) as svc,
        serve(build_app(svc.settings), sock) as base,
    ):
        yield Site(base, svc)


# --- metrics ---------------------------------------------------------------------------------


class Metrics(dict[str, float]):
    """One scrape: ``'name{label="value"}'`` (labels sorted) -> value."""

    def lanes(self, name: str) -> int:
        return round(sum(self[f'{name}{{lane="{lane.value}"}}'] for lane in Lane))


def parse_metrics(text: str) -> tuple[Metrics, dict[str, str]]:
    """The samples and each family's type, as Prometheus' own parser reads them."""
    samples, types = Metrics(), {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples, types


async def scrape(http: httpx.AsyncClient) -> Metrics:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == PROMETHEUS_TEXT
    samples, _ = parse_metrics(response.text)
    return samples


def jobs_in(m: Metrics, state: JobState) -> int:
    return round(m[f'swapzy_jobs{{state="{state.value}"}}'])


async def submit_jobs(submitter: Submitter, sample: SampleFiles, lanes: list[Lane]) -> list[str]:
    ids = []
    for n, lane in enumerate(lanes):
        request = request_for(sample.target, sample.source, user=f"u{n}", lane=lane)
        ids.append((await submitter.submit(request)).job_id)
    return ids


def test_metrics_is_prometheus_text_with_every_family(
    tmp_path: Path, redis_url: str, sqlite_url: str
) -> None:
    with site(tmp_path, redis_url, sqlite_url) as s:
        response = httpx.get(f"{s.base}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == PROMETHEUS_TEXT
    samples, types = parse_metrics(response.text)
    assert types == {
        "swapzy_queue_waiting_jobs": "gauge",
        "swapzy_queue_running_jobs": "gauge",
        "swapzy_queue_deferred_jobs": "gauge",
        "swapzy_jobs": "gauge",
        "swapzy_oldest_waiting_job_age_seconds": "gauge",
        "swapzy_engine_seconds": "counter",
        "swapzy_undelivered_jobs": "gauge",
        "swapzy_workers": "gauge",
    }
    # An empty service: every figure is there, and zero.
    expected = {
        f'swapzy_queue_{what}_jobs{{lane="{lane.value}"}}': 0.0
        for what in ("waiting", "running", "deferred")
        for lane in Lane
    }
    expected |= {f'swapzy_jobs{{state="{state.value}"}}': 0.0 for state in JobState}
    expected |= {
        "swapzy_oldest_waiting_job_age_seconds": 0.0,
        "swapzy_engine_seconds_total": 0.0,
        "swapzy_undelivered_jobs": 0.0,
        "swapzy_workers": 0.0,
    }
    assert samples == expected


def test_metrics_count_waiting_running_and_finished_jobs(
    tmp_path: Path, redis_url: str, database_url: str, sample_files: SampleFiles
) -> None:
    with site(tmp_path, redis_url, database_url) as s:

        async def scenario() -> None:
            async with (
                client(s.settings, deliver=False) as c,  # the web process delivers
                httpx.AsyncClient(base_url=s.base, timeout=10) as http,
            ):
                # No worker runs: everything waits.
                await submit_jobs(c.submitter, sample_files, [Lane.FREE, Lane.FREE, Lane.PRO])
                m = await scrape(http)
                assert m['swapzy_queue_waiting_jobs{lane="free"}'] == 2
                assert m['swapzy_queue_waiting_jobs{lane="pro"}'] == 1
                assert m.lanes("swapzy_queue_running_jobs") == 0
                assert m.lanes("swapzy_queue_deferred_jobs") == 0
                assert jobs_in(m, JobState.QUEUED) == 3
                assert sum(jobs_in(m, state) for state in JobState) == 3
                assert m["swapzy_oldest_waiting_job_age_seconds"] > 0
                assert m["swapzy_workers"] == 0
                assert m["swapzy_engine_seconds_total"] == 0
                assert m["swapzy_undelivered_jobs"] == 0

                # One worker, slow enough (24 frames x 100 ms a job) to be seen mid-job. arq
                # keeps a running job in its lane's sorted set: it must count as running only.
                # The worker keeps the default clocks: its /metrics key lives 15 s, not 0.6 s.
                await asyncio.to_thread(s.svc.start_worker, noop_frame_delay_ms=100, **CLOCKS)

                async def one_running() -> Metrics | None:
                    m = await scrape(http)
                    running = m.lanes("swapzy_queue_running_jobs")
                    return m if running and jobs_in(m, JobState.RUNNING) else None

                m = await wait_for(one_running, "a job to be running", 60)
                assert m['swapzy_queue_running_jobs{lane="pro"}'] == 1  # the Pro lane goes first
                assert m['swapzy_queue_running_jobs{lane="free"}'] == 0
                assert m['swapzy_queue_waiting_jobs{lane="pro"}'] == 0
                assert m['swapzy_queue_waiting_jobs{lane="free"}'] == 2
                assert m.lanes("swapzy_queue_waiting_jobs") == 2
                assert (jobs_in(m, JobState.RUNNING), jobs_in(m, JobState.QUEUED)) == (1, 2)
                assert m["swapzy_oldest_waiting_job_age_seconds"] > 0
                assert m["swapzy_workers"] == 1

                async def all_delivered() -> Metrics | None:
                    m = await scrape(http)
                    done = jobs_in(m, JobState.SUCCEEDED) == 3
                    return m if done and m["swapzy_undelivered_jobs"] == 0 else None

                m = await wait_for(all_delivered, "all three jobs to finish and be delivered", 90)
                assert m.lanes("swapzy_queue_waiting_jobs") == 0
                assert m.lanes("swapzy_queue_running_jobs") == 0
                assert m.lanes("swapzy_queue_deferred_jobs") == 0
                assert sum(jobs_in(m, state) for state in JobState) == 3
                assert m["swapzy_oldest_waiting_job_age_seconds"] == 0
                assert m["swapzy_workers"] == 1
                # 3 clips x 24 frames x 100 ms of (noop) engine time.
                assert m["swapzy_engine_seconds_total"] >= 3 * 24 * 0.1 * 0.9

        asyncio.run(scenario())


def test_the_web_process_delivers_a_link_that_it_serves(
    tmp_path: Path, redis_url: str, sqlite_url: str, sample_files: SampleFiles
) -> None:
    with site(tmp_path, redis_url, sqlite_url) as s:
        s.svc.start_worker()

        async def scenario() -> None:
            async with (
                client(s.settings, deliver=False) as c,  # only the web process delivers
                httpx.AsyncClient(timeout=10) as http,
            ):
                [job_id] = await submit_jobs(c.submitter, sample_files, [Lane.FREE])

                async def delivered() -> bool:
                    return (await job_row(c.db, job_id)).delivered_at is not None

                await wait_for(delivered, "the web process to deliver the result", 60)
                [message] = await deliveries(c.queue, job_id)
                assert message["job_id"] == job_id and message["state"] == "succeeded"
                assert message["failure_reason"] is None
                link = message["link"]
                assert link.startswith(f"{s.base}/m/jobs/{job_id}/swapzy.gif?exp=")
                response = await http.get(link)
                assert response.status_code == 200
                assert response.headers["content-type"] == "image/gif"
                assert response.content == c.storage.get_bytes(f"jobs/{job_id}/swapzy.gif")
                with Image.open(io.BytesIO(response.content)) as gif:
                    assert gif.format == "GIF" and getattr(gif, "n_frames", 1) == 24

        asyncio.run(scenario())


# --- health and readiness --------------------------------------------------------------------


def test_healthz_and_readyz_when_everything_is_up(
    tmp_path: Path, redis_url: str, database_url: str
) -> None:
    with site(tmp_path, redis_url, database_url) as s:
        health = httpx.get(f"{s.base}/healthz", timeout=10)
        ready = httpx.get(f"{s.base}/readyz", timeout=10)
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": ALL_OK}


def timed_readyz(base: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(f"{base}/readyz", timeout=CHECK_TIMEOUT_S * 5)
    return response, time.monotonic() - started


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def test_readyz_is_503_at_once_when_the_queue_is_down_and_ready_again_after(
    tmp_path: Path, valkey: Valkey, sqlite_url: str
) -> None:
    with site(tmp_path, valkey.url, sqlite_url) as s:
        assert httpx.get(f"{s.base}/readyz", timeout=10).status_code == 200
        valkey.kill()
        wait_until(lambda: refuses_connections(valkey.port), "the killed Valkey's port to close")

        response, took = timed_readyz(s.base)
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "not ready"
        assert body["checks"]["queue"] != "ok"
        assert body["checks"]["queue"].startswith(("failed: ", "timed out")), body
        assert {k: v for k, v in body["checks"].items() if k != "queue"} == {
            "database": "ok",
            "storage": "ok",
        }
        assert took < CHECK_TIMEOUT_S + ANSWER_MARGIN_S, f"/readyz took {took:.1f} s"
        assert httpx.get(f"{s.base}/healthz", timeout=10).status_code == 200  # still alive

        valkey.start()  # same port, empty

        def ready() -> bool:
            return httpx.get(f"{s.base}/readyz", timeout=10).status_code == 200

        wait_until(ready, "/readyz to recover once the queue is back", 30)
        assert httpx.get(f"{s.base}/readyz", timeout=10).json()["checks"] == ALL_OK


def test_readyz_answers_within_the_check_timeout_when_the_queue_hangs(
    tmp_path: Path, valkey: Valkey, sqlite_url: str
) -> None:
    """A queue that accepts connections but never answers (a frozen server) must not hang the
    probe: the check gives up after CHECK_TIMEOUT_S."""
    with site(tmp_path, valkey.url, sqlite_url) as s:
        assert httpx.get(f"{s.base}/readyz", timeout=10).status_code == 200
        probe = redis.Redis.from_url(valkey.url)
        try:
            pid = int(cast(dict[str, Any], probe.info("server"))["process_id"])
        finally:
            probe.close()
        os.kill(pid, signal.SIGSTOP)
        try:
            response, took = timed_readyz(s.base)
            started = time.monotonic()
            scrape = httpx.get(f"{s.base}/metrics", timeout=10)
            scrape_took = time.monotonic() - started
        finally:
            os.kill(pid, signal.SIGCONT)
        # A scrape does not hang either: Prometheus sees the target down, not a stuck request.
        assert scrape.status_code == 503 and scrape.text == "figures unavailable: TimeoutError\n"
        assert scrape_took < CHECK_TIMEOUT_S + ANSWER_MARGIN_S, scrape_took
        assert response.status_code == 503
        checks: dict[str, Any] = response.json()["checks"]
        assert checks == {**ALL_OK, "queue": "timed out"}
        assert CHECK_TIMEOUT_S * 0.9 <= took < CHECK_TIMEOUT_S + ANSWER_MARGIN_S, took
        wait_until(
            lambda: httpx.get(f"{s.base}/readyz", timeout=10).status_code == 200,
            "/readyz to recover once the queue answers again",
            30,
        )
