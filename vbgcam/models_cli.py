"""``vbgcam models``: list, pull, import and locate the segmentation models.

A thin shell over ``vbgcam.models``: results go to stdout, progress bars to stderr (only on a
terminal), and a ModelError becomes ``ModelError: message`` on stderr with exit status 1.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from vbgcam import models
from vbgcam.errors import ModelError

models_app = typer.Typer(
    help="Download, import and check the segmentation models "
    "(cached in $XDG_CACHE_HOME/vbgcam/models).",
    no_args_is_help=True,
)

F = TypeVar("F", bound=Callable[..., Any])


def _reports_errors(command: F) -> F:
    """Turn a ModelError into one ``ModelError: message`` on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ModelError as exc:
            typer.echo(f"{type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@models_app.command("list")
@_reports_errors
def list_models() -> None:
    """Show each model, its input size, whether the cached file is intact, and where it is."""
    rows = [("MODEL", "INPUT", "STATUS", "PATH")]
    for found in models.describe():
        width, height = models.MODELS[found.name].input_size
        rows.append((found.name, f"{width}x{height}", found.status, str(found.path)))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for name, size, status, path in rows:
        padded = (
            cell.ljust(width) for cell, width in zip((name, size, status), widths, strict=True)
        )
        typer.echo("  ".join((*padded, path)))


@contextmanager
def _bars() -> Iterator[models.OnProgress]:
    """One transfer bar per model on stderr, gone when the block ends."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TaskID

    tasks: dict[str, TaskID] = {}
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:

        def update(name: str, done_bytes: int, total_bytes: int | None) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total_bytes)
            progress.update(tasks[name], completed=done_bytes, total=total_bytes)

        yield update


def _describe(pulled: models.Pulled) -> str:
    if pulled.route == "cache":
        return f"{pulled.name}: already in the cache at {pulled.path}"
    return f"{pulled.name}: saved {pulled.path} (from {pulled.route})"


@models_app.command("pull")
@_reports_errors
def pull_models(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help=f"Models to fetch, any of: {', '.join(models.MODELS)}. Default: all.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Download models into the cache and check their sha256.

    Each model's own URLs are tried first, then the mediapipe wheel on PyPI.
    """
    if not sys.stderr.isatty():
        models.pull(names or None, on_pulled=lambda pulled: typer.echo(_describe(pulled)))
        return
    # The lines wait until the bars are gone, so stdout and the bars never share a line.
    lines: list[str] = []
    try:
        with _bars() as update:
            models.pull(
                names or None,
                progress=update,
                on_pulled=lambda pulled: lines.append(_describe(pulled)),
            )
    finally:
        for line in lines:
            typer.echo(line)


def offer_pull() -> bool:
    """Ask, on a terminal, whether to download missing models now; True once they are here.

    For ``vbgcam run`` on first use: a newcomer gets the best segmenter with one keypress
    instead of a warning. Without a terminal (services, scripts) nothing is asked.
    """
    missing = [name for name in models.MODELS if models.verified_path(name) is None]
    if not missing:
        return True
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    if not typer.confirm(
        "The person segmentation model is not downloaded yet (about 500 KB). Download it now?",
        default=True,
        err=True,
    ):
        return False
    try:
        with _bars() as update:
            models.pull(missing, progress=update)
    except ModelError as exc:
        typer.echo(f"ModelError: {exc}", err=True)
        return False
    return True


@models_app.command("import")
@_reports_errors
def import_models(
    path: Annotated[
        Path,
        typer.Argument(
            help="A .tflite model (recognised by its checksum) or a mediapipe wheel (.whl).",
            show_default=False,
        ),
    ],
) -> None:
    """Copy models into the cache from a file, for machines that cannot download them."""
    by_filename = {spec.filename: spec.name for spec in models.MODELS.values()}
    for saved in models.import_model(path):
        typer.echo(f"{by_filename[saved.name]}: imported to {saved}")


@models_app.command("path")
@_reports_errors
def model_path(
    name: Annotated[
        str | None,
        typer.Argument(
            help="A model name; without one, the cache folder is printed.", show_default=False
        ),
    ] = None,
) -> None:
    """Print the cache folder, or the path of a model that is cached and intact."""
    if name is None:
        typer.echo(str(models.cache_dir()))
        return
    found = models.state(name)
    if found.status == "missing":
        raise ModelError(
            f"{found.name} is not in the cache ({found.path}); run 'vbgcam models pull "
            f"{found.name}', or 'vbgcam models import PATH' without internet"
        )
    if found.status == "corrupt":
        raise ModelError(
            f"{found.path} fails its checksum (truncated or damaged); run 'vbgcam models pull "
            f"{found.name}' to replace it"
        )
    typer.echo(str(found.path))
