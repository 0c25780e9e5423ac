"""``swapzy submit``: send a clip through the real pipeline (the same ``jobs.submit`` every
channel uses), show its queue position and progress live, print the share link when done."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core.config import Settings
from core.db.models import Channel, JobState, Lane
from core.db.session import Database
from core.errors import InputError, InputMissing, ServiceUnavailable, SwapzyError
from core.storage import build_storage
from jobs.connect import connect_queue, redis_url
from jobs.contract import MediaInput, OutputFormat, SwapRequest
from jobs.queues import inbox_key
from jobs.status import job_status
from jobs.submit import Submitter

POLL_S = 0.2


@dataclass(frozen=True)
class Outcome:
    job_id: str
    state: JobState
    link: str | None
    message: str | None
    reason: str | None


def read_input(path: Path, what: str) -> MediaInput:
    try:
        return MediaInput(path.read_bytes(), path.name)
    except FileNotFoundError:
        raise InputMissing(f"The {what} {path} does not exist.") from None
    except OSError as exc:
        raise InputMissing(f"Cannot read the {what} {path}: {exc.strerror}.") from None


async def submit_and_wait(
    settings: Settings,
    target: Path,
    source: Path,
    *,
    faces: str,
    output_format: OutputFormat,
    lane: Lane,
    wait: bool,
    console: Console,
    show_progress: bool,
) -> Outcome:
    request = SwapRequest(
        channel=Channel.CLI,
        external_user_id="local",
        username="command line",
        target=read_input(target, "GIF/video"),
        source=read_input(source, "face photo"),
        faces=faces,
        output_format=output_format,
        lane=lane,
    )
    queue = await connect_queue(redis_url(settings))
    db = Database.connect(settings.sqlalchemy_url)
    try:
        submitter = Submitter(settings, db, build_storage(settings), queue)
        submitted = await submitter.submit(request)
        if not wait:
            return Outcome(submitted.job_id, submitted.state, None, None, None)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not show_progress,
        ) as bar:
            task = bar.add_task("Queued", total=None)
            while True:
                # redis-py types BLPOP's timeout as int; Redis >= 6 takes fractions of a second.
                popped = await cast(
                    Awaitable[list[bytes] | None],
                    queue.blpop([inbox_key(submitted.job_id)], timeout=POLL_S),  # type: ignore[arg-type]
                )
                if popped is not None:
                    result = json.loads(popped[1])
                    return Outcome(
                        submitted.job_id,
                        JobState(result["state"]),
                        result.get("link"),
                        result.get("failure_message"),
                        result.get("failure_reason"),
                    )
                status = await job_status(db, queue, submitted.job_id)
                if status is None:
                    raise ServiceUnavailable("The job disappeared from the database.")
                if status.state is JobState.QUEUED:
                    where = f" (#{status.queue_position} in line)" if status.queue_position else ""
                    bar.update(task, description=f"Waiting for a worker{where}", total=None)
                elif status.state is JobState.RUNNING:
                    bar.update(
                        task,
                        description="Swapping faces",
                        completed=status.frames_done,
                        total=status.frames_total or None,
                    )
                else:
                    bar.update(task, description="Delivering")
    finally:
        await queue.aclose()
        await db.close()


def download(link: str, output: Path) -> None:
    with httpx.stream("GET", link, timeout=30.0) as response:
        if response.status_code != 200:
            raise ServiceUnavailable(
                f"Could not download the result ({response.status_code}) from {link}."
            )
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("wb") as f:
            for chunk in response.iter_bytes():
                f.write(chunk)


def outcome_error(outcome: Outcome) -> SwapzyError:
    """The failed job's reason as the same error (and exit code) `swapzy swap` would give."""
    message = outcome.message or "The swap failed."
    for cls in _input_errors():
        if cls.code == outcome.reason:
            return cls(message)
    return SwapzyError(message)


def _input_errors() -> list[type[InputError]]:
    found: list[type[InputError]] = []
    stack: list[type[InputError]] = [InputError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


def run_submit(
    settings: Settings,
    target: Path,
    source: Path,
    *,
    faces: str,
    output_format: OutputFormat,
    lane: Lane,
    wait: bool,
    output: Path | None,
    console: Console,
    show_progress: bool,
) -> Outcome:
    outcome = asyncio.run(
        submit_and_wait(
            settings,
            target,
            source,
            faces=faces,
            output_format=output_format,
            lane=lane,
            wait=wait,
            console=console,
            show_progress=show_progress,
        )
    )
    if outcome.state is JobState.FAILED:
        raise outcome_error(outcome)
    if output is not None and outcome.link is not None:
        download(outcome.link, output)
    return outcome
