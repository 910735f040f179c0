"""``vbgcam ctl``: change a running vbgcam from a shell, a hotkey or a script.

A thin client of the control server (``vbgcam/control/server.py``) on 127.0.0.1: it reads the token
file, sends one request, and prints one line. Every failure is one line on stderr (``vbgcam is
not running (...)``, or the server's ``ConfigError: ...``) and exit status 1, never a traceback.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from vbgcam.cli.exits import reports_errors
from vbgcam.control.token import (
    DEFAULT_PORT,
    page_url,
    read_token_file,
    read_token_port,
    token_path,
)
from vbgcam.errors import ControlError
from vbgcam.file_kinds import IMAGE_SUFFIXES, VIDEO_SUFFIXES

ctl_app = typer.Typer(
    help="Control a running vbgcam: background, pause, status (talks to 127.0.0.1:PORT).",
    no_args_is_help=True,
)

TIMEOUT_S = 5.0

PortOpt = Annotated[
    int | None,
    typer.Option(
        "--port",
        "-p",
        help="The control port of the running vbgcam. (default: the one it recorded, or 8765)",
    ),
]


def request(port: int | None, method: str, path: str, body: Any = None) -> Any:
    """Send one request with the token and return the decoded JSON answer.

    Raises ControlError with the line to show: not running, no or wrong token, or the server's
    error (``ConfigError: ...``). The token only ever goes to the port vbgcam recorded.
    """
    recorded = read_token_port()
    if port is not None and recorded is not None and port != recorded:
        raise ControlError(
            f"the running vbgcam serves its control page on port {recorded}, not {port}; "
            f"use --port {recorded}"
        )
    port = port or recorded or DEFAULT_PORT
    where = f"127.0.0.1:{port}"
    token = read_token_file()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        text = response.read()
    except ConnectionRefusedError:
        raise ControlError(f"vbgcam is not running (no control server on {where})") from None
    except TimeoutError:
        raise ControlError(
            f"the control server on {where} did not answer within {TIMEOUT_S:g} s"
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        raise ControlError(f"cannot talk to the control server on {where}: {exc}") from exc
    finally:
        connection.close()
    try:
        answer = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        answer = None
    if response.status == 200 and answer is not None:
        return answer
    message = answer.get("error") if isinstance(answer, dict) else None
    if response.status == 401:
        raise ControlError(
            f"no control token at {token_path()}; is vbgcam running as this user, with the "
            "same XDG_RUNTIME_DIR?"
        )
    if response.status == 403 and token is not None and "token" in str(message):
        raise ControlError(
            f"the server on {where} refused the token in {token_path()}; "
            "is that port another program's, or another vbgcam's? (--port)"
        )
    if response.status == 400 and message:
        # The server's own "ConfigError: ..." line: shown under the server's kind.
        kind, _, text_part = str(message).partition(": ")
        if kind.isidentifier() and kind.endswith("Error") and text_part:
            raise ControlError(text_part, kind=kind)
        raise ControlError(str(message))
    raise ControlError(
        f"the control server on {where} answered {response.status}: {message or text[:200]!r}"
    )


def _number(value: Any, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "?"


def describe_background(settings: dict[str, Any]) -> str:
    mode = settings.get("background.mode", "?")
    path = settings.get("background.path") or ""
    if mode == "blur" or (mode == "auto" and not path):
        return f"blur {settings.get('background.blur', '?')}"
    if mode == "color":
        return f"colour {settings.get('background.color', '?')}"
    if mode == "none":
        return "none"
    return f"{mode} {path}" if mode != "auto" else path


def summarise(status: dict[str, Any]) -> str:
    """One line: state, rates, drops, CPU, background, segmenter."""
    settings = status.get("settings") or {}
    state = "paused" if status.get("paused") else "live"
    parts = [
        f"{state}: {_number(status.get('fps_in'), 1)} fps in, "
        f"{_number(status.get('fps_out'), 1)} fps out",
        f"{status.get('dropped', '?')} dropped",
        f"CPU {_number(status.get('cpu_percent'), 0)}%",
        f"background {describe_background(settings)}",
    ]
    if "segmenter.name" in settings:
        parts.append(f"segmenter {settings['segmenter.name']}")
    return ", ".join(parts)


@ctl_app.command()
@reports_errors
def status(
    port: PortOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw status JSON.")] = False,
) -> None:
    """Show whether vbgcam is live or paused, its frame rates, CPU and background."""
    answer = request(port, "GET", "/api/status")
    typer.echo(json.dumps(answer, indent=2) if as_json else summarise(answer))


@ctl_app.command()
@reports_errors
def bg(
    path: Annotated[
        Path,
        typer.Argument(help="A picture, a folder of pictures, or a video.", show_default=False),
    ],
    port: PortOpt = None,
) -> None:
    """Show a picture, a folder of pictures (one at a time) or a video as the background."""
    try:
        absolute = path.expanduser().resolve()
        is_folder = absolute.is_dir()
    except (OSError, RuntimeError) as exc:  # a name too long, "~user" of no such user
        raise ControlError(f"cannot use {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    suffix = absolute.suffix.lower()
    if is_folder:
        mode = "folder"
    elif suffix in VIDEO_SUFFIXES:
        mode = "video"
    elif suffix in IMAGE_SUFFIXES:
        mode = "image"
    else:  # a .ts clip, a picture without its suffix: vbgcam looks inside, as `run --bg` does
        mode = "auto"
    request(port, "POST", "/api/background", {"mode": mode, "path": str(absolute)})
    typer.echo(f"background: {mode} {absolute}")


@ctl_app.command()
@reports_errors
def blur(
    strength: Annotated[int, typer.Argument(help="0 (sharp) to 100.", show_default=False)],
    port: PortOpt = None,
) -> None:
    """Show the camera picture, blurred, as the background."""
    request(port, "POST", "/api/background", {"mode": "blur", "strength": strength})
    typer.echo(f"background: blur {strength}")


@ctl_app.command()
@reports_errors
def color(
    value: Annotated[
        str, typer.Argument(help="#RRGGBB (or RRGGBB) or a colour name.", show_default=False)
    ],
    port: PortOpt = None,
) -> None:
    """Fill the background with one colour."""
    text = value.strip()
    if len(text) == 6 and all(c in "0123456789abcdefABCDEF" for c in text):
        text = "#" + text  # '#' starts a comment in most shells; let people leave it out
    request(port, "POST", "/api/background", {"mode": "color", "color": text})
    typer.echo(f"background: colour {text}")


@ctl_app.command()
@reports_errors
def none(port: PortOpt = None) -> None:
    """Send the camera picture as it is, background and all."""
    request(port, "POST", "/api/background", {"mode": "none"})
    typer.echo("background: none")


@ctl_app.command("next")
@reports_errors
def next_picture(port: PortOpt = None) -> None:
    """Show the next picture of a folder background."""
    request(port, "POST", "/api/background/next")
    typer.echo("background: next picture")


@ctl_app.command()
@reports_errors
def framing(
    mode: Annotated[str, typer.Argument(help="auto (keep you centred and framed) or off.")],
    port: PortOpt = None,
) -> None:
    """Auto-framing on or off, live."""
    request(port, "POST", "/api/settings", {"framing.mode": mode})
    typer.echo(f"framing: {mode}")


@ctl_app.command()
@reports_errors
def people(
    who: Annotated[str, typer.Argument(help="main (only the person the call is about) or all.")],
    port: PortOpt = None,
) -> None:
    """Keep everyone in the picture, or only the main person, live."""
    request(port, "POST", "/api/settings", {"segmenter.people": who})
    typer.echo(f"people: {who}")


@ctl_app.command()
@reports_errors
def pause(port: PortOpt = None) -> None:
    """Release the webcam and send the pause picture."""
    request(port, "POST", "/api/pause")
    typer.echo("paused")


@ctl_app.command()
@reports_errors
def resume(port: PortOpt = None) -> None:
    """Reopen the webcam and go live again."""
    request(port, "POST", "/api/resume")
    typer.echo("resumed")


@ctl_app.command()
@reports_errors
def url(port: PortOpt = None) -> None:
    """Print the control page's address, with its token, to open in a browser."""
    request(port, "GET", "/api/status")  # checks that it runs and that the token fits
    port = port or read_token_port() or DEFAULT_PORT
    token = read_token_file()
    if token is None:  # removed between the two reads: vbgcam just stopped
        raise ControlError(f"vbgcam is not running (no control server on 127.0.0.1:{port})")
    typer.echo(page_url(port, token))
