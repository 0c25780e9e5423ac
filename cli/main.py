"""The ``swapzy`` command line. Sub-commands import their heavy parts only when they run, so
``swapzy --help`` is instant and non-swap commands never load mediapipe."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from core.config import Settings, load_settings
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
    from cli.swap_command import run_swap

    settings = load_settings()
    selection = parse_faces(faces)
    try:
        run_swap(settings, target, source, output, selection, engine, show_progress=not quiet)
    except typer.Exit:
        raise
    except BaseException:  # every failure becomes one clear line
        run_guarded(settings, "swapping")
        raise


@app.command()
def demo(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the swapped sample.")
    ] = Path("out/swapzy-demo.gif"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Swap the built-in sample (public-domain portraits shipped with our dependencies)."""
    from cli.swap_command import run_swap
    from gpu_worker.media.samples import write_sample_files

    settings = load_settings()
    try:
        target, source = write_sample_files(output.parent / "sample-inputs")
        typer.echo(f"Sample GIF: {target}\nSample face: {source}", err=True)
        run_swap(
            settings, target, source, output, "largest", settings.engine, show_progress=not quiet
        )
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
    """Engine frames/s on 320-px frames on one core, and whole-clip time vs decode+encode."""
    import json

    from rich.console import Console
    from rich.table import Table

    from gpu_worker import bench as engine_bench
    from gpu_worker.engines import build_engine

    settings = load_settings()
    console = Console(stderr=True)
    core = engine_bench.pin_to_one_core()
    console.print(f"Pinned to core {core}." if core is not None else "Could not pin to one core.")
    engine = build_engine(settings.engine, settings)
    try:
        rows = engine_bench.run(engine, media, repeats)
    finally:
        engine.close()
    table = Table("clip", "frames", "size", "engine fps", "floor s", "whole s", "whole/floor")
    for r in rows:
        table.add_row(
            r.clip,
            str(r.frames),
            f"{r.size[0]}×{r.size[1]}",
            f"{r.engine_fps:.1f}",
            f"{r.floor_s:.3f}",
            f"{r.whole_s:.3f}",
            f"{r.whole_over_floor:.2f}",
        )
    Console().print(table)
    totals = engine_bench.summary(rows)
    Console().print(totals)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "engine": settings.engine,
            "core": core,
            "clips": engine_bench.as_dicts(rows),
            "summary": totals,
        }
        json_out.write_text(json.dumps(payload, indent=1))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
