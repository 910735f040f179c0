"""What the user's PipeWire offers: the daemon, a session manager, GStreamer's sink, the version.

The PipeWire camera (``camera.py``) needs all four, and ``vbgcam doctor`` explains
each one that is missing. Everything here only asks: it reads the socket path and runs the
small command-line tools PipeWire itself ships (``pw-cli``, ``pipewire --version``,
``gst-inspect-1.0``), each with a short timeout, so a hung daemon cannot hang vbgcam.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

NODE_NAME = "vbgcam"
SESSION_MANAGERS = ("WirePlumber", "pipewire-media-session")
PACKAGES = "pipewire wireplumber gstreamer1.0-pipewire gstreamer1.0-tools"
INSTALL = f"sudo apt install {PACKAGES}"
START = "systemctl --user start pipewire wireplumber"
# The fixes each PipeWire problem names, in one place: the camera's errors, doctor, devices.
INSTALL_GST_SINK = "sudo apt install gstreamer1.0-pipewire gstreamer1.0-tools"
START_SESSION_MANAGER = "systemctl --user start wireplumber"
GST_SINK_MISSING = f"GStreamer's pipewiresink is missing; install it with: {INSTALL_GST_SINK}"
TOOL_TIMEOUT_S = 3.0
GST_INSPECT_TIMEOUT_S = 30.0


def socket_path(environ: dict[str, str] | None = None) -> Path | None:
    """Where a client connects: ``$PIPEWIRE_RUNTIME_DIR`` or ``$XDG_RUNTIME_DIR``, then
    ``$PIPEWIRE_REMOTE`` (default ``pipewire-0``), as libpipewire itself resolves it."""
    env = os.environ if environ is None else environ
    remote = env.get("PIPEWIRE_REMOTE", "pipewire-0")
    if remote.startswith("/"):
        return Path(remote)
    folder = env.get("PIPEWIRE_RUNTIME_DIR") or env.get("XDG_RUNTIME_DIR")
    return Path(folder) / remote if folder else None


def run_tool(command: list[str], timeout_s: float = TOOL_TIMEOUT_S) -> str | None:
    """The tool's standard output, or None when it is missing, fails or hangs."""
    if shutil.which(command[0]) is None:
        return None
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def library_version() -> tuple[int, int, int] | None:
    """The libpipewire this machine links (``pipewire --version``: 'Linked with libpipewire
    0.3.65'), which decides the producer's pipeline; None when PipeWire is not installed."""
    for command in (["pipewire", "--version"], ["pw-cli", "--version"]):
        text = run_tool(command)
        if text:
            found = re.findall(r"libpipewire (\d+)\.(\d+)\.(\d+)", text)
            if found:
                major, minor, micro = found[-1]
                return int(major), int(minor), int(micro)
    return None


def daemon_running(environ: dict[str, str] | None = None) -> bool:
    """A PipeWire daemon answers on the socket (not just a stale socket file). Without
    ``pw-cli`` to ask (a separate package on some systems), the socket has to do."""
    path = socket_path(environ)
    if path is None or not path.exists():
        return False
    if shutil.which("pw-cli") is None:
        return True
    return run_tool(["pw-cli", "info", "0"]) is not None


def client_names(dump: str) -> list[str]:
    """The application names of the clients in ``pw-dump``'s JSON (empty when it is not
    JSON: a daemon that went away mid-answer)."""
    try:
        objects = json.loads(dump)
    except json.JSONDecodeError:
        return []
    names: list[str] = []
    for item in objects if isinstance(objects, list) else []:
        if not isinstance(item, dict) or item.get("type") != "PipeWire:Interface:Client":
            continue
        props = (item.get("info") or {}).get("props") or {}
        name = props.get("application.name") if isinstance(props, dict) else None
        if isinstance(name, str):
            names.append(name)
    return names


def clients() -> list[str]:
    """The application names of the daemon's clients, from ``pw-dump`` (JSON, not the
    text of ``pw-cli ls``)."""
    return client_names(run_tool(["pw-dump", "--no-colors"]) or "")


def session_manager() -> str | None:
    """The running session manager, which links consumers to our node; without one a
    browser sees the camera but never gets a frame."""
    if shutil.which("pw-dump") is None:
        return "unknown (pw-dump is not installed)"
    for name in clients():
        for manager in SESSION_MANAGERS:
            if name.startswith(manager):
                return manager
    return None


def gst_sink_available() -> bool:
    """GStreamer's ``pipewiresink`` element and ``gst-launch-1.0`` to run it."""
    return (
        shutil.which("gst-launch-1.0") is not None
        # The first run after installing builds GStreamer's plugin registry: seen at 20 s.
        and run_tool(["gst-inspect-1.0", "pipewiresink"], GST_INSPECT_TIMEOUT_S) is not None
    )


def node_up(name: str = NODE_NAME) -> bool:
    """Whether a node called ``name`` is published (our camera, as consumers see it)."""
    text = run_tool(["pw-cli", "ls", "Node"]) or ""
    return f'node.name = "{name}"' in text


@dataclass(frozen=True)
class PipeWireStatus:
    version: tuple[int, int, int] | None
    daemon: bool
    session_manager: str | None
    gst_sink: bool
    node: bool
    native: bool = False  # libpipewire can run the native producer (no GStreamer needed)

    @property
    def usable(self) -> bool:
        return self.daemon and self.session_manager is not None and (self.native or self.gst_sink)

    @property
    def producer(self) -> str:
        """What would feed the camera: 'native' or 'gstreamer'."""
        return "native" if self.native else "gstreamer"

    def problem(self) -> str | None:
        """The first thing that stops a PipeWire camera, with its fix; None when usable."""
        if self.version is None:
            return f"PipeWire is not installed; install it with: {INSTALL}"
        if not self.gst_sink and not self.native:
            return GST_SINK_MISSING
        if not self.daemon:
            return f"no PipeWire daemon is running for this user; start it with: {START}"
        if self.session_manager is None:
            return f"PipeWire runs without a session manager; start one with: {START}"
        return None


def status() -> PipeWireStatus:
    from vbgcam.outputs.pipewire import native  # ctypes only

    daemon = daemon_running()
    return PipeWireStatus(
        native=native.available(),
        version=library_version(),
        daemon=daemon,
        session_manager=session_manager() if daemon else None,
        gst_sink=gst_sink_available(),
        node=node_up() if daemon else False,
    )


def version_text(version: tuple[int, int, int] | None) -> str:
    return ".".join(map(str, version)) if version else "not installed"
