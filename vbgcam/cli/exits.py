"""How every command ends on an expected failure: ``Kind: message`` on one line of stderr
and a non-zero exit (2 for a bad setting or flag, 1 for anything else), never a traceback.
Anything that is not a ``VbgcamError`` is a bug and keeps its traceback; ``--debug`` keeps
it for expected failures too. Standard library, typer and ``vbgcam.errors`` only:
``vbgcam ctl`` uses it without loading numpy or OpenCV."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from vbgcam.errors import ConfigError, VbgcamError

F = TypeVar("F", bound=Callable[..., Any])

# Set by ``vbgcam --debug``: expected failures are raised with their traceback and cause.
debug = False


def exit_code(exc: VbgcamError) -> int:
    return 2 if isinstance(exc, ConfigError) else 1


def reports_errors(command: F) -> F:
    """Turn expected failures into ``Kind: message`` and an exit code, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except VbgcamError as exc:
            if debug:
                raise
            kind = getattr(exc, "kind", type(exc).__name__)
            typer.echo(f"{kind}: {exc}", err=True)
            raise typer.Exit(exit_code(exc)) from None

    return wrapper  # type: ignore[return-value]
