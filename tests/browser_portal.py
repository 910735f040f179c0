"""A desktop for a browser test: an X display, xdg-desktop-portal with its GTK backend and
camera permission granted in the portal's permission store, on a private PipeWire.

Chromium with ``WebRtcPipeWireCamera`` never opens PipeWire itself: it asks the Camera portal
(``org.freedesktop.portal.Camera``) for access and for a PipeWire connection that shows camera
nodes only. The portal offers that interface only when a backend implements ``Access`` (the GTK
one, chosen through ``XDG_CURRENT_DESKTOP=GNOME``), and the GTK backend needs an X display.

The portal services are started here, in order, each once the one it calls owns its bus name,
so each has a PID to end. What the bus still starts on request (Chromium asks for the
accessibility bus) runs in the bus's process group and ends with it. Every process runs with
the private ``XDG_RUNTIME_DIR`` and a throwaway ``HOME`` (the permission store writes under
``$XDG_DATA_HOME``), so nothing of the user's desktop is read or written, and ``stragglers``
finds any process still carrying that runtime folder after ``stop``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.chromium import CHROMIUM
from vbgcam.devtools.pipewire_sandbox import PrivatePipeWire, end_processes, spawn_logged
from vbgcam.devtools.pipewire_sandbox import missing_parts as pipewire_missing_parts
from vbgcam.outputs.pipewire import info as pipewire_info

LIBEXEC = Path("/usr/libexec")
PERMISSION_STORE = LIBEXEC / "xdg-permission-store"
DOCUMENT_PORTAL = LIBEXEC / "xdg-document-portal"
PORTAL_GTK = LIBEXEC / "xdg-desktop-portal-gtk"
PORTAL = LIBEXEC / "xdg-desktop-portal"
PROGRAMS = ("Xvfb", "gdbus", "dbus-update-activation-environment", "fusermount3")
# Debian 12 packages for the browser test, on top of pipewire_info.PACKAGES.
PACKAGES = "chromium xvfb xdg-desktop-portal xdg-desktop-portal-gtk fuse3 libglib2.0-bin dbus"
ACTIVATION_VARIABLES = (
    "XDG_RUNTIME_DIR",
    "DISPLAY",
    "XDG_CURRENT_DESKTOP",
    "HOME",
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "NO_AT_BRIDGE",
    "GTK_A11Y",
    "GSETTINGS_BACKEND",
)
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 3.0


def missing_parts() -> list[str]:
    """What this machine lacks to run Chromium against a private PipeWire camera."""
    missing = pipewire_missing_parts()
    missing += [name for name in PROGRAMS if shutil.which(name) is None]
    for path in (CHROMIUM, PERMISSION_STORE, DOCUMENT_PORTAL, PORTAL_GTK, PORTAL):
        if not path.exists():
            missing.append(str(path))
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright Python package")
    return missing


def install_hint() -> str:
    """The apt command that brings every missing part (Debian 12 names)."""
    return f"sudo apt install {pipewire_info.PACKAGES} {PACKAGES}"


class PortalDesktop:
    """A private PipeWire, Xvfb and the portal services, started by ``start`` and ended by
    ``stop`` (idempotent); ``env`` is what the browser needs to find the camera."""

    def __init__(self) -> None:
        self.pipewire = PrivatePipeWire()
        self.home = Path(tempfile.mkdtemp(prefix="vbgcam-browser-"))
        self.logs = self.home / "logs"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env: dict[str, str] = {}

    def start(self) -> PortalDesktop:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.pipewire.start()
        self.logs.mkdir()
        home = str(self.home)
        env = dict(
            self.pipewire.env,
            HOME=home,
            XDG_DATA_HOME=f"{home}/.local/share",
            XDG_CONFIG_HOME=f"{home}/.config",
            XDG_CACHE_HOME=f"{home}/.cache",
            XDG_STATE_HOME=f"{home}/.local/state",
            XDG_CURRENT_DESKTOP="GNOME",  # the GTK backend serves Access (and so Camera) there
            XDG_SESSION_TYPE="x11",
            NO_AT_BRIDGE="1",  # else GTK has the bus start the accessibility bus
            GTK_A11Y="none",
            GSETTINGS_BACKEND="memory",  # GTK stays off the user's dconf
        )
        env.pop("WAYLAND_DISPLAY", None)
        self.env = env
        self.env["DISPLAY"] = self._start_xvfb()
        # What the bus still starts on request gets this environment too, not the one the bus
        # was started with (an activated portal without it cannot reach PipeWire, and
        # getUserMedia hangs).
        self._run(["dbus-update-activation-environment", *ACTIVATION_VARIABLES])
        self._start_service([str(PERMISSION_STORE)], "org.freedesktop.impl.portal.PermissionStore")
        self._start_service([str(DOCUMENT_PORTAL)], "org.freedesktop.portal.Documents")
        self.grant_camera()
        self._start_service([str(PORTAL_GTK)], "org.freedesktop.impl.portal.desktop.gtk")
        self._start_service([str(PORTAL)], "org.freedesktop.portal.Desktop")

    def _spawn(self, command: list[str], pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
        log_path = self.logs / f"{Path(command[0]).name}.log"
        process = spawn_logged(command, self.env, log_path, pass_fds)
        self.processes.append(process)
        return process

    def _start_xvfb(self) -> str:
        """Xvfb picks a free display itself and writes its number once it accepts clients."""
        read_end, write_end = os.pipe()
        try:
            command = ["Xvfb", "-displayfd", str(write_end), "-nolisten", "tcp"]
            command += ["-screen", "0", "1280x800x24"]
            self._spawn(command, pass_fds=(write_end,))
            os.close(write_end)
            write_end = -1
            number = _read_line(read_end, START_TIMEOUT_S)
        finally:
            os.close(read_end)
            if write_end >= 0:
                os.close(write_end)
        if not number.isdigit():
            raise RuntimeError(f"Xvfb did not start: {self.log_tails()}")
        return f":{number}"

    def _start_service(self, command: list[str], bus_name: str) -> None:
        process = self._spawn(command)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            if self.name_has_owner(bus_name):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{command[0]} did not take {bus_name}: {self.log_tails()}")

    def _run(self, command: list[str]) -> str:
        done = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=5, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
        return done.stdout

    def _gdbus_call(self, dest: str, path: str, method: str, *args: str) -> str:
        command = ["gdbus", "call", "--session", "--dest", dest, "--object-path", path]
        return self._run([*command, "--method", method, *args])

    def name_has_owner(self, bus_name: str) -> bool:
        reply = self._gdbus_call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            bus_name,
        )
        return "true" in reply

    def grant_camera(self) -> None:
        """What the portal's dialog stores when the user allows the camera: here for every
        unsandboxed application (app id '')."""
        self._gdbus_call(
            "org.freedesktop.impl.portal.PermissionStore",
            "/org/freedesktop/impl/portal/PermissionStore",
            "org.freedesktop.impl.portal.PermissionStore.SetPermission",
            "devices",
            "true",
            "camera",
            "",
            "['yes']",
        )

    def log_tails(self) -> dict[str, str]:
        folders = [self.logs, self.pipewire.logs]
        logs = [path for folder in folders if folder.exists() for path in folder.iterdir()]
        return {path.name: path.read_text(errors="replace")[-600:] for path in logs}

    def stop(self) -> None:
        end_processes(self.processes, STOP_TIMEOUT_S)
        self.pipewire.stop()  # unmounts the document portal's $XDG_RUNTIME_DIR/doc
        shutil.rmtree(self.home, ignore_errors=True)

    def stragglers(self, grace_s: float = STOP_TIMEOUT_S) -> dict[int, str]:
        """Processes still running with this desktop's runtime folder (PID: command line),
        after waiting ``grace_s`` for them to go; each is then killed by its PID."""
        marker = f"XDG_RUNTIME_DIR={self.pipewire.runtime_dir}\0".encode()
        deadline = time.monotonic() + grace_s
        while True:
            found = _processes_with(marker)
            if not found or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return found


def _read_line(fd: int, timeout_s: float) -> str:
    """Up to the newline: Xvfb writes the number and the newline separately, and dies when
    the pipe is closed in between."""
    text = b""
    deadline = time.monotonic() + timeout_s
    while not text.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 32) if ready else b""
        if not chunk:
            break
        text += chunk
    return text.decode().strip()


def _processes_with(marker: bytes) -> dict[int, str]:
    """Live processes of this user whose environment holds ``marker``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker not in (entry / "environ").read_bytes():
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone, or not ours to read
        if command:  # a zombie has neither environment nor command line
            found[int(entry.name)] = command.strip()
    return found
