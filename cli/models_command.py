"""``swapzy models list|fetch``: the GPU engines' model registry. Registered in ``cli/main.py``.

Fetching needs no GPU and never loads onnxruntime: run it at image build time, or on a worker
with ``SWAPZY_MODELS_OFFLINE=true`` after copying the cache folder in.
"""

from __future__ import annotations

from typing import Annotated

import typer

models_app = typer.Typer(
    name="models",
    help="The GPU engines' models: list them with their licences, or fetch them into the cache.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@models_app.command("list")
def list_models() -> None:
    """Every model: role, input size, licence, commercial use, and whether it is cached."""
    from cli.main import load_settings, run_guarded
    from gpu_worker.engines.registry import registry_from_settings

    settings = load_settings()
    try:
        registry = registry_from_settings(settings)
        typer.echo(f"Model cache: {registry.cache_dir}")
        for spec in registry.specs.values():
            commercial = "commercial use OK" if spec.commercial_use else "NO commercial use"
            typer.echo(
                f"{spec.name:<20} {spec.role:<10} {spec.input_size:>4}px  "
                f"{registry.status(spec.name):<9} {commercial:<17}  {spec.licence}"
            )
    except BaseException:
        run_guarded(settings, "listing the models")
        raise


@models_app.command()
def fetch(
    names: Annotated[list[str] | None, typer.Argument(help="Models to fetch (see list).")] = None,
    all_models: Annotated[bool, typer.Option("--all", help="Fetch every model.")] = False,
    force: Annotated[bool, typer.Option(help="Download again even when verified.")] = False,
) -> None:
    """Download models into the cache, verify them against their published hash, pin them."""
    from cli.main import fail, load_settings, run_guarded
    from gpu_worker.engines.registry import registry_from_settings

    settings = load_settings()
    try:
        registry = registry_from_settings(settings)
        wanted = list(registry.specs) if all_models else list(names or [])
        if not wanted:
            fail("name the models to fetch (see `swapzy models list`) or give --all.", 2)
        for name in wanted:
            registry.spec(name)  # unknown names fail before anything is downloaded
        for name in wanted:
            path = registry.fetch(name, force=force)
            typer.echo(f"{name}: {path} ({path.stat().st_size} bytes, verified)")
    except typer.Exit:
        raise
    except BaseException:
        run_guarded(settings, "fetching models")
        raise
