"""Queue names, function names and Redis keys: the wire contract between submitters, workers and
channels. Payloads carry IDs only; everything else is read from the database."""

from __future__ import annotations

from core.db.models import Channel, Lane

# arq functions
RUN_SWAP = "run_swap"  # run_swap(job_id)
DELIVER = "deliver_result"  # deliver_result(job_id)

# arq's own keys (arq.constants), used by the sweeper and the queue figures.
ARQ_JOB = "arq:job:"
ARQ_IN_PROGRESS = "arq:in-progress:"
ARQ_RETRY = "arq:retry:"
ARQ_RESULT = "arq:result:"

SWEEPER_LOCK = "swapzy:sweeper-lock"
WORKER_PREFIX = "swapzy:worker:"  # one key per live worker process, with a TTL (for /metrics)


def lane_queue(lane: Lane | str) -> str:
    return f"swapzy:lane:{Lane(lane).value}"


def delivery_queue(channel: Channel | str) -> str:
    return f"swapzy:deliver:{Channel(channel).value}"


def delivery_job_id(job_id: str) -> str:
    return f"deliver-{job_id}"


def progress_key(job_id: str) -> str:
    """JSON {state, frames_done, frames_total, stage}; written by the worker while it runs."""
    return f"swapzy:progress:{job_id}"


def events_channel(job_id: str) -> str:
    """Pub/sub channel with the same JSON on every change, for live status in chats and pages."""
    return f"swapzy:events:{job_id}"


def inbox_key(job_id: str) -> str:
    """Where the built-in (cli/web) channel delivers a finished job: a list with one entry."""
    return f"swapzy:inbox:{job_id}"


def output_key(job_id: str, output_format: str) -> str:
    """Deterministic: a re-run after a crash overwrites the same object, never adds one."""
    return f"jobs/{job_id}/swapzy.{output_format}"
