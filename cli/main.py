"""The ``swapzy`` command line. Sub-commands import their heavy parts only when they run, so
``swapzy --help`` is instant and non-swap commands never load mediapipe."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from cli.admin_command import admin_app
from cli.audit_command import audit_app
from cli.bot_command import bot_app
from cli.db_command import db_app
from cli.models_command import models_app
from core.config import Settings
from core.config import load_settings as _load_settings
from core.errors import SwapzyError

if TYPE_CHECKING:
    from gpu_worker.engines.base import FaceSelection

app = typer.Typer(
    name="swapzy",
    help="Swapzy: put the face from a photo into every frame of a GIF.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app)
app.add_typer(bot_app)
app.add_typer(admin_app)
app.add_typer(audit_app)
app.add_typer(models_app)


def parse_faces(value: str) -> FaceSelection:
    """``largest``, ``all`` or a face number (1-based) as listed by ``swapzy swap``."""
    v = value.strip().lower()
    if v == "largest":
        return "largest"
    if v == "all":
        return "all"
    if v.isdigit() and int(v) >= 1:
        return int(v)
    fail(f"--faces must be 'largest', 'all' or a face number such as 2, not {value!r}.", 2)


def load_settings() -> Settings:
    """The settings for this command; an invalid one ends it with one line (exit 15)."""
    try:
        return _load_settings()
    except SwapzyError as exc:
        fail(exc.message, exc.exit_code)


def fail(message: str, code: int) -> NoReturn:
    typer.echo(f"swapzy: {message}", err=True)
    raise typer.Exit(code)


def run_guarded(settings: Settings, action: str) -> None:
    """Turn the error being handled into one line on stderr with the error's exit code (no
    traceback). Call it from an ``except`` block; it returns only when SWAPZY_DEBUG is set, and
    the caller then re-raises the error with a bare ``raise``."""
    exc = sys.exc_info()[1]
    if isinstance(exc, SwapzyError):
        fail(exc.message, exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        fail("interrupted.", 130)
    if isinstance(exc, MemoryError):
        fail(f"ran out of memory while {action}; try a shorter or smaller clip.", 1)
    if os.environ.get("SWAPZY_DEBUG"):
        return
    fail(
        f"something went wrong on our side while {action} ({type(exc).__name__}). "
        "Set SWAPZY_DEBUG=1 to see the details.",
        1,
    )


@app.command()
def swap(
    target: Annotated[Path, typer.Argument(help="GIF, MP4/WebM, animated WebP or still image.")],
    source: Annotated[Path, typer.Argument(help="Face photo (JPEG, PNG or WebP).")],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Output file; .gif, .mp4 or .webp picks the format."),
    ],
    faces: Annotated[
        str,
        typer.Option(
            "--faces",
            help="Which faces to swap: 'largest', 'all', or a face number (faces are numbered by "
            "first appearance, left to right; the same person all clip long).",
        ),
    ] = "largest",
    engine: Annotated[str, typer.Option("--engine", help="Swap engine.")] = "classic",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Swap the face from SOURCE into every frame of TARGET and write OUTPUT."""
    import gc

    # One clip, then the process ends: no collections meanwhile (its imports and frames make
    # no garbage cycles worth ~50 ms a run; bench/README.md).
    gc.disable()
    try:
        settings = load_settings()
        selection = parse_faces(faces)
        try:
            _swap_with_encoder(settings, target, source, output, selection, engine, quiet)
        except typer.Exit:
            raise
        except BaseException:  # every failure becomes one clear line
            run_guarded(settings, "swapping")
            raise
    finally:
        gc.enable()


def _swap_with_encoder(
    settings: Settings,
    target: Path,
    source: Path,
    output: Path,
    faces: FaceSelection,
    engine: str,
    quiet: bool,
) -> None:
    """``run_swap`` with the encoder in a process of its own, started first: its imports
    (~0.2 s) run on another core while this process imports the engine and loads its models,
    and then drawing and encoding hold two GILs, not one (bench/README.md). The child's
    stderr is /dev/null, as the models' native logging is: the user sees one line or none."""
    from cli.native_log import native_stderr_silenced
    from gpu_worker.media.encoder_process import EncoderProcess

    with native_stderr_silenced():
        encoder = EncoderProcess()
    try:
        # Imported between the two silenced spans, with stderr as it is: what the import
        # prints (`python -X importtime`, a broken install's warning) stays visible.
        from cli.swap_command import run_swap

        with native_stderr_silenced():
            run_swap(
                settings,
                target,
                source,
                output,
                faces,
                engine,
                show_progress=not quiet,
                encoder=encoder,
            )
    finally:
        encoder.close(wait=False)  # it leaves by itself; this process is about to


@app.command()
def demo(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the swapped sample.")
    ] = Path("out/swapzy-demo.gif"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Swap the built-in sample (public-domain portraits shipped with our dependencies)."""
    from gpu_worker.media.samples import write_sample_files

    settings = load_settings()
    try:
        target, source = write_sample_files(output.parent / "sample-inputs")
        typer.echo(f"Sample GIF: {target}\nSample face: {source}", err=True)
        _swap_with_encoder(settings, target, source, output, "largest", settings.engine, quiet)
    except typer.Exit:
        raise
    except BaseException:
        run_guarded(settings, "running the demo")
        raise


@app.command()
def bench(
    media: Annotated[
        Path | None,
        typer.Option(help="Real media folder (../shared/media) to add to the built-in sample."),
    ] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Timed runs per clip.")] = 3,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the figures here.")] = None,
) -> None:
    """Engine frames/s on 320-px frames on one core, and whole-clip time vs decode+encode
    (at 320 px, and for real media also at the clip's own size)."""
    import json

    from rich.console import Console
    from rich.table import Table

    from gpu_worker import bench as engine_bench
    from gpu_worker.engines import build_engine

    settings = load_settings()
    engine = build_engine(settings.engine, settings)
    try:
        rows = engine_bench.run(engine, media, repeats)
    finally:
        engine.close()
    columns = ("clip", "frames", "size", "engine fps (1 core)", "floor s", "whole s")
    table = Table(
        *columns,
        "whole/floor",
        "1 core: whole/floor",
        "worker: whole/floor",
        "own size: whole/floor",
    )
    for r in rows:
        full = "–"
        if r.full_size is not None and r.full_whole_over_floor is not None:
            full = f"{r.full_whole_over_floor:.2f} ({r.full_size[0]}×{r.full_size[1]})"
        table.add_row(
            r.clip,
            str(r.frames),
            f"{r.size[0]}×{r.size[1]}",
            f"{r.engine_fps:.1f}",
            f"{r.floor_s:.3f}",
            f"{r.whole_s:.3f}",
            f"{r.whole_over_floor:.2f}",
            f"{r.whole_one_core_over_floor:.2f}",
            f"{r.whole_worker_over_floor:.2f}",
            full,
        )
    Console().print(table)
    totals = engine_bench.summary(rows)
    Console().print(totals)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "engine": settings.engine,
            "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "clips": engine_bench.as_dicts(rows),
            "summary": totals,
        }
        json_out.write_text(json.dumps(payload, indent=1))


def setup_logging() -> None:
    import logging

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True
    )
    for noisy in ("httpx", "arq.worker", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)  # httpx logs bot tokens in URLs


@app.command()
def worker() -> None:
    """Run a swap worker: loads the engine once, then takes jobs (Pro lane first) until Ctrl-C."""
    import asyncio

    from gpu_worker.main import serve

    settings = load_settings()
    setup_logging()
    try:
        asyncio.run(serve(settings))
    except typer.Exit:
        raise
    except BaseException:
        run_guarded(settings, "running the worker")
        raise


@app.command()
def web() -> None:
    """Run the web app (share links, health, metrics) on SWAPZY_WEB_HOST:SWAPZY_WEB_PORT."""
    from web.main import serve

    settings = load_settings()
    setup_logging()
    try:
        serve(settings)
    except typer.Exit:
        raise
    except BaseException:
        run_guarded(settings, "running the web app")
        raise


@app.command()
def up() -> None:
    """Run the whole service on this machine: queue (embedded Valkey unless SWAPZY_REDIS_URL is
    set), database, web app, one worker, and the bots whose tokens are set. Ctrl-C stops it."""
    from cli.up_command import run_up

    settings = load_settings()
    try:
        run_up(settings, lambda line: typer.echo(line, err=True))
    except typer.Exit:
        raise
    except BaseException:
        run_guarded(settings, "starting the service")
        raise


@app.command()
def submit(
    target: Annotated[Path, typer.Argument(help="GIF, MP4/WebM, animated WebP or still image.")],
    source: Annotated[Path, typer.Argument(help="Face photo (JPEG, PNG or WebP).")],
    faces: Annotated[str, typer.Option("--faces", help="'largest', 'all' or a face number.")] = (
        "largest"
    ),
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Result format: gif, mp4 or webp (default: from -o's extension, else gif).",
        ),
    ] = None,
    pro: Annotated[bool, typer.Option("--pro", help="Use the Pro lane.")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also download the result here.")
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="Wait for the result (--no-wait: print the job id).")
    ] = (True),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Send a swap through the running service (see `swapzy up`) and print its share link."""
    from rich.console import Console

    from cli.submit_command import run_submit
    from core.db.models import Lane

    settings = load_settings()
    if output_format is None:
        suffix = output.suffix.lower().lstrip(".") if output is not None else ""
        if output is not None and suffix not in ("gif", "mp4", "webp"):
            fail(f"-o must end in .gif, .mp4 or .webp (or give --format), not {output.name!r}.", 13)
        output_format = suffix or "gif"
    if output_format not in ("gif", "mp4", "webp"):
        fail(f"--format must be gif, mp4 or webp, not {output_format!r}.", 2)
    try:
        outcome = run_submit(
            settings,
            target,
            source,
            faces=faces,
            output_format=output_format,  # type: ignore[arg-type]
            lane=Lane.PRO if pro else Lane.FREE,
            wait=wait,
            output=output,
            console=Console(stderr=True),
            show_progress=not quiet,
        )
    except typer.Exit:
        raise
    except BaseException:
        run_guarded(settings, "submitting the swap")
        raise
    if outcome.link is None:
        typer.echo(outcome.job_id)
        return
    if output is not None:
        typer.echo(f"Saved {output}", err=True)
    typer.echo(outcome.link)


def main() -> None:
    import gc

    try:
        app()
    finally:
        # The process ends here: spare its objects the collector's last sweep on the way out
        # (0.1-0.2 s after a swap, a tenth of a short clip's whole run; bench/README.md).
        gc.freeze()


if __name__ == "__main__":
    main()
