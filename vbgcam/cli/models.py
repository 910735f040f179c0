"""``vbgcam models``: list, pull, import and locate the segmentation models.

A thin shell over ``vbgcam.models``: results go to stdout, progress bars, notices and prompts to
stderr (bars only on a terminal), and a ModelError becomes ``ModelError: message`` on stderr
with exit status 1.

Weights that are someone else's work and not ours to ship (RVM's, ``models.NPM_MODELS``) are
only downloaded after the user has seen where they come from and whose they are, and said yes:
at the prompt, or with ``--yes`` where there is no terminal to ask on.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import typer

from vbgcam import models
from vbgcam.cli.exits import reports_errors
from vbgcam.errors import ModelError
from vbgcam.models import npm

models_app = typer.Typer(
    help="Download, import and check the segmentation models "
    "(cached in $XDG_CACHE_HOME/vbgcam/models).",
    no_args_is_help=True,
)


def _can_ask() -> bool:
    """Whether a person can answer a prompt: stdin and stderr are both terminals."""
    return sys.stdin.isatty() and sys.stderr.isatty()


@models_app.command("list")
@reports_errors
def list_models() -> None:
    """Show each model, its input size, whether the cached files are intact, and where they are."""
    rows = [("MODEL", "INPUT", "STATUS", "PATH")]
    for found in models.describe():
        width, height = models.MODELS[found.name].input_size
        rows.append((found.name, f"{width}x{height}", found.status, str(found.path)))
    for spec in models.NPM_MODELS.values():
        files = models.npm_file_states(spec)
        paths = " ".join(str(one.path) for one in files)
        # Any input size: RVM resizes inside the network.
        rows.append((spec.name, "any", models.npm_state(spec).status, paths))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for name, size, status, path in rows:
        padded = (
            cell.ljust(width) for cell, width in zip((name, size, status), widths, strict=True)
        )
        typer.echo("  ".join((*padded, path)))


@contextmanager
def _bars() -> Iterator[models.OnProgress]:
    """One transfer bar per download on stderr, gone when the block ends."""
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


@contextmanager
def _reporting() -> Iterator[tuple[models.OnProgress | None, Callable[[str], None]]]:
    """``(progress, say)`` for a batch of downloads: bars on a terminal, with the result lines
    held back until the bars are gone so the two never share a line; else lines at once."""
    if not sys.stderr.isatty():
        yield None, typer.echo
        return
    lines: list[str] = []
    try:
        with _bars() as update:
            yield update, lines.append
    finally:
        for line in lines:
            typer.echo(line)


def _describe(pulled: models.Pulled) -> str:
    if pulled.route == "cache":
        return f"{pulled.name}: already in the cache at {pulled.path}"
    return f"{pulled.name}: saved {pulled.path} (from {pulled.route})"


def consent_lines(spec: models.NpmSpec) -> list[str]:
    """Where ``spec``'s files come from and whose work they are, one line each."""
    weights = npm.size_words(sum(pinned.size for pinned in spec.files))
    files = " and ".join(pinned.filename for pinned in spec.files)
    hosts = " or ".join(dict.fromkeys(urlsplit(url).netloc for url in spec.cdn_urls))
    mirrors = f"from {hosts}, else " if hosts else ""
    return [
        f"{spec.name}: {weights} of weights ({files}) from the npm package "
        f"{spec.package}@{spec.version}, {mirrors}streamed out of its "
        f"{npm.size_words(spec.tarball_bytes)} package from {npm.registry_url()}",
        f"{spec.name}: the files are the work of {spec.credit}, used under their terms "
        f"({spec.terms}); vbgcam does not ship them",
    ]


Consent = Literal["yes", "no", "cannot ask"]


def _consent(spec: models.NpmSpec, yes: bool) -> Consent:
    """Show where ``spec``'s files come from and whose they are, then ask (unless ``yes``)."""
    for line in consent_lines(spec):
        typer.echo(line, err=True)
    if yes:
        return "yes"
    if not _can_ask():
        return "cannot ask"
    return "yes" if typer.confirm(f"Download {spec.name} now?", default=True, err=True) else "no"


def _how_to_get(spec: models.NpmSpec) -> str:
    files = " and ".join(pinned.filename for pinned in spec.files)
    return (
        f"run 'vbgcam models pull {spec.name} --yes' to accept their terms and download it, or "
        f"'vbgcam models import PATH' with {files} or {npm.tarball_name(spec)}"
    )


def _convert(spec: models.NpmSpec) -> None:
    """Build what the segmenter runs from ``spec``'s files, now that they are all here."""
    if spec.name != models.RVM.name:
        return
    from vbgcam.models import rvm_onnx

    def say(message: str) -> None:
        typer.echo(f"{spec.name}: {message}", err=True)

    onnx_path = rvm_onnx.ensure_converted(progress=say)
    typer.echo(f"{spec.name}: ONNX model ready at {onnx_path}")
    if importlib.util.find_spec("onnxruntime") is None:  # OpenCV runs the float model
        return
    quantized = rvm_onnx.ensure_quantized(progress=say)
    if quantized is not None:
        typer.echo(f"{spec.name}: 8-bit decoder model ready at {quantized}")


def _fetch(
    selfie: list[str],
    specs: list[models.NpmSpec],
    progress: models.OnProgress | None,
    on_pulled: Callable[[models.Pulled], None] | None,
    errors: list[str],
) -> list[models.NpmSpec]:
    """Pull the named selfie models, then each npm model; the npm models that arrived. Each
    failure is one line added to ``errors``; the others are still tried."""
    if selfie:
        try:
            models.pull(selfie, progress=progress, on_pulled=on_pulled)
        except ModelError as exc:
            errors.append(str(exc))
    arrived = []
    for spec in specs:
        try:
            npm.pull_npm(spec, progress=progress, on_pulled=on_pulled)
        except ModelError as exc:
            errors.append(str(exc))
        else:
            arrived.append(spec)
    return arrived


def _convert_all(specs: list[models.NpmSpec], errors: list[str]) -> None:
    for spec in specs:
        try:
            _convert(spec)
        except ModelError as exc:
            errors.append(str(exc))


@models_app.command("pull")
@reports_errors
def pull_models(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Models to fetch, any of: "
            f"{', '.join([*models.MODELS, *models.NPM_MODELS])}. Default: all.",
            show_default=False,
        ),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Accept the authors' terms for third-party weights (rvm) without asking.",
        ),
    ] = False,
) -> None:
    """Download models into the cache and check their sha256.

    Selfie models: their own URLs, then the mediapipe wheel on PyPI.

    RVM: CDN mirrors of its npm package, then the package; asked first (its authors' work).
    """
    requested = list(dict.fromkeys(models.check_name(name) for name in names or ()))
    selfie = [name for name in requested if name in models.MODELS]
    npm_specs = [models.NPM_MODELS[name] for name in requested if name in models.NPM_MODELS]
    if not requested:
        selfie, npm_specs = list(models.MODELS), list(models.NPM_MODELS.values())
    errors: list[str] = []
    notices: list[str] = []
    # Every question first, so the downloads then run unattended.
    accepted: list[models.NpmSpec] = []
    for spec in npm_specs:
        answer = "yes" if models.npm_sources(spec) is not None else _consent(spec, yes)
        if answer == "yes":
            accepted.append(spec)
        elif answer == "no":
            notices.append(f"{spec.name}: skipped; {_how_to_get(spec)}")
        elif requested:
            errors.append(f"{spec.name} not downloaded: no terminal to ask on; {_how_to_get(spec)}")
        else:
            notices.append(f"{spec.name}: skipped, no terminal to ask on; {_how_to_get(spec)}")
    with _reporting() as (progress, say):

        def tell(pulled: models.Pulled) -> None:
            say(_describe(pulled))

        arrived = _fetch(selfie, accepted, progress, tell, errors)
    _convert_all(arrived, errors)
    for notice in notices:
        typer.echo(notice, err=True)
    if errors:
        for error in errors:
            typer.echo(f"ModelError: {error}", err=True)
        raise typer.Exit(1)


def _declined_marker(spec: models.NpmSpec) -> Path:
    return models.cache_dir() / f".{spec.name}-declined"


def _offered(spec: models.NpmSpec) -> bool:
    return models.npm_sources(spec) is None and not _declined_marker(spec).exists()


def offer_pull() -> bool:
    """Ask, on a terminal, whether to download missing models now; True once they are here.

    For ``vbgcam run`` on first use: a newcomer gets the best segmenters with one keypress
    instead of a warning. Without a terminal (services, scripts) nothing is asked. RVM is
    offered with its authors' terms; a "no" is remembered (a marker in the cache folder) so
    that later runs do not ask about it again; ``vbgcam models pull rvm`` still gets it.
    """
    missing = [name for name in models.MODELS if models.verified_path(name) is None]
    offered = [spec for spec in models.NPM_MODELS.values() if _offered(spec)]
    if not missing and not offered:
        return True
    if not _can_ask():
        return False
    if missing:
        typer.echo(
            "selfie: the person segmentation models are not downloaded yet (about 500 KB)",
            err=True,
        )
    for spec in offered:
        for line in consent_lines(spec):
            typer.echo(line, err=True)
    if not typer.confirm("Download now?", default=True, err=True):
        for spec in offered:
            try:
                _declined_marker(spec).parent.mkdir(parents=True, exist_ok=True)
                _declined_marker(spec).touch()
            except OSError:
                continue  # then we ask again next time; nothing worse
            typer.echo(
                f"{spec.name}: not asked again; 'vbgcam models pull {spec.name}' gets it later",
                err=True,
            )
        return False
    problems: list[str] = []
    with _bars() as update:
        arrived = _fetch(missing, offered, update, None, problems)
    _convert_all(arrived, problems)
    for problem in problems:
        typer.echo(f"ModelError: {problem}", err=True)
    return not problems


@models_app.command("import")
@reports_errors
def import_models(
    path: Annotated[
        Path,
        typer.Argument(
            help="A .tflite model, rvm.json or rvm.bin (each recognised by its checksum), a "
            "mediapipe wheel (.whl), or the npm package human-models-3.0.4.tgz.",
            show_default=False,
        ),
    ],
) -> None:
    """Copy models into the cache from a file, for machines that cannot download them."""
    owner = {spec.filename: spec.name for spec in models.MODELS.values()}
    for spec in models.NPM_MODELS.values():
        owner.update((pinned.filename, spec.name) for pinned in spec.files)
    saved = models.import_model(path)
    for one in saved:
        typer.echo(f"{owner[one.name]}: imported to {one}")
    for spec in models.NPM_MODELS.values():
        if spec.name not in {owner[one.name] for one in saved}:
            continue
        still = [f.name for f in models.npm_file_states(spec) if f.status != "verified"]
        if still:
            typer.echo(
                f"{spec.name}: {' and '.join(still)} still needed; import it too, or run "
                f"'vbgcam models pull {spec.name}'"
            )
        else:
            _convert(spec)


@models_app.command("path")
@reports_errors
def model_path(
    name: Annotated[
        str | None,
        typer.Argument(
            help="A model name; without one, the cache folder is printed.", show_default=False
        ),
    ] = None,
) -> None:
    """Print the cache folder, or the path of a model that is cached and intact (rvm: the path
    of each of its files, one a line)."""
    if name is None:
        typer.echo(str(models.cache_dir()))
        return
    if models.check_name(name) in models.NPM_MODELS:
        spec = models.NPM_MODELS[name]
        files = models.npm_file_states(spec)
        for found in files:
            if found.status == "corrupt":
                raise ModelError(
                    f"{found.path} fails its checksum (truncated or damaged); run "
                    f"'vbgcam models pull {spec.name}' to replace it"
                )
        absent = [str(found.path) for found in files if found.status == "missing"]
        if absent:
            raise ModelError(
                f"{spec.name} is not in the cache (no {' and no '.join(absent)}); "
                f"run 'vbgcam models pull {spec.name}', or 'vbgcam models import PATH' with "
                f"{' and '.join(f.filename for f in spec.files)} or "
                f"{npm.tarball_name(spec)} without internet"
            )
        for found in files:
            typer.echo(str(found.path))
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
