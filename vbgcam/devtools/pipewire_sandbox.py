"""A rig that proves the PipeWire camera with real parts, for the tests and the benchmark.

- ``PrivatePipeWire``: its own session bus, runtime folder, daemon and WirePlumber. Nothing of
  the user's desktop is touched: every process gets the private ``XDG_RUNTIME_DIR`` and
  ``DBUS_SESSION_BUS_ADDRESS``, and is ended by its PID. WirePlumber is needed because without
  a session manager consumers are never linked to our node, and WirePlumber 0.4 exits without
  a session bus.
- ``CountingCamera`` stamps a frame counter on its "person", and ``RectangleSegmenter`` reports
  exactly that person, so a consumer in another process can read order and latency from the
  pixels, and everything outside the person must be the background picture.
- ``GstConsumer``: GStreamer's ``pipewiresrc`` reading the camera as an application would.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vbgcam.outputs.pipewire.info import NODE_NAME

SIZE = (1280, 720)
FPS = 30.0
FRAME_BYTES = SIZE[0] * SIZE[1] * 3
PERSON = (480, 160, 800, 720)  # x0, y0, x1, y1: the rectangle the segmenter reports
BITS = 16
BIT_SIDE = 32
BIT_ORIGIN = (512, 240)  # inside the person, far from its edges

PROGRAMS = ("dbus-daemon", "pipewire", "wireplumber", "pw-cli", "gst-launch-1.0")
START_TIMEOUT_S = 10.0


def missing_parts() -> list[str]:
    """What this machine lacks to run a private PipeWire camera (empty when nothing)."""
    missing = [name for name in PROGRAMS if shutil.which(name) is None]
    if not missing:
        found = subprocess.run(
            ["gst-inspect-1.0", "pipewiresink"], capture_output=True, check=False
        )
        if found.returncode != 0:
            missing.append("gstreamer1.0-pipewire (pipewiresink)")
    return missing


def spawn_logged(
    command: list[str], env: dict[str, str], log_path: Path, pass_fds: tuple[int, ...] = ()
) -> subprocess.Popen[bytes]:
    """A helper process in its own process group (so it is ended with its children), its
    output in ``log_path``."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=pass_fds,
        )


def end_processes(processes: list[subprocess.Popen[bytes]], timeout_s: float = 3.0) -> None:
    """End each process group, newest first: SIGTERM, then SIGKILL after ``timeout_s``.
    Empties the list."""
    for process in reversed(processes):
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for process in reversed(processes):
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    processes.clear()


class PrivatePipeWire:
    """Started by ``start``, ended by ``stop``; ``env`` is what a client process needs."""

    def __init__(self) -> None:
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="vbgcam-pw-"))
        self.runtime_dir.chmod(0o700)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env: dict[str, str] = {}
        self.logs = self.runtime_dir / "logs"

    def _spawn(self, command: list[str], log_name: str) -> subprocess.Popen[bytes]:
        process = spawn_logged(command, self.env, self.logs / log_name)
        self.processes.append(process)
        return process

    def start(self) -> PrivatePipeWire:
        self.logs.mkdir()
        bus = self.runtime_dir / "bus"
        self.env = dict(
            os.environ,
            XDG_RUNTIME_DIR=str(self.runtime_dir),
            DBUS_SESSION_BUS_ADDRESS=f"unix:path={bus}",
            PIPEWIRE_RUNTIME_DIR=str(self.runtime_dir),
        )
        self.env.pop("PIPEWIRE_REMOTE", None)
        self._spawn(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address=unix:path={bus}"],
            "dbus.log",
        )
        self._wait_for(lambda: bus.exists(), "the session bus")
        self._start_daemon()
        return self

    def _start_daemon(self) -> None:
        self._spawn(["pipewire"], "pipewire.log")
        self._wait_for(lambda: (self.runtime_dir / "pipewire-0").exists(), "pipewire's socket")
        self._spawn(["wireplumber"], "wireplumber.log")
        self._wait_for(lambda: "WirePlumber [export]" in self.pw_cli("ls", "Client"), "wireplumber")

    def restart_daemon(self, down_s: float = 1.0) -> None:
        """Kill PipeWire and WirePlumber (as a crash or `systemctl --user restart` would),
        leave them down for ``down_s``, start them again."""
        daemons = self.processes[1:]  # everything after the session bus
        for process in daemons:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            self.processes.remove(process)
        (self.runtime_dir / "pipewire-0").unlink(missing_ok=True)
        (self.runtime_dir / "pipewire-0.lock").unlink(missing_ok=True)
        time.sleep(down_s)
        self._start_daemon()

    def pw_cli(self, *args: str) -> str:
        done = subprocess.run(
            ["pw-cli", *args], env=self.env, capture_output=True, text=True, timeout=5, check=False
        )
        return done.stdout

    def node_published(self, name: str) -> bool:
        return f'node.name = "{name}"' in self.pw_cli("ls", "Node")

    def _wait_for(self, ready: object, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if callable(ready) and ready():
                return
            if any(p.poll() is not None for p in self.processes):
                break
            time.sleep(0.05)
        logs = {p.name: p.read_text(errors="replace")[-600:] for p in self.logs.iterdir()}
        self.stop()
        raise RuntimeError(f"private PipeWire: {what} did not come up; logs: {logs}")

    def stop(self) -> None:
        end_processes(self.processes)
        documents = self.runtime_dir / "doc"
        if documents.exists() and shutil.which("fusermount3"):
            subprocess.run(["fusermount3", "-u", str(documents)], capture_output=True, check=False)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)


@contextlib.contextmanager
def busy_processes(count: int = 2) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` processes that each keep a core busy (a build, a browser, an update), ended
    on exit."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
        for _ in range(count)
    ]
    try:
        yield hogs
    finally:
        end_processes(hogs)


def stamp(frame: np.ndarray, index: int) -> None:
    x0, y0 = BIT_ORIGIN
    for bit in range(BITS):
        on = (index >> bit) & 1
        x = x0 + (bit % 8) * BIT_SIDE
        y = y0 + (bit // 8) * BIT_SIDE
        frame[y : y + BIT_SIDE, x : x + BIT_SIDE] = 255 if on else 0


def read_stamp(frame: np.ndarray) -> int:
    x0, y0 = BIT_ORIGIN
    index = 0
    margin = BIT_SIDE // 4  # away from the block edges, where I420's chroma blurs
    for bit in range(BITS):
        x = x0 + (bit % 8) * BIT_SIDE + margin
        y = y0 + (bit // 8) * BIT_SIDE + margin
        block = frame[y : y + BIT_SIDE - 2 * margin, x : x + BIT_SIDE - 2 * margin]
        index |= int(block.mean() > 128) << bit
    return index


class CountingCamera:
    """A camera whose person carries its frame number; remembers when each was captured."""

    fps = FPS
    description = "counting test camera"
    paces_itself = False  # the capture thread keeps time, as for a file

    def __init__(self) -> None:
        self.index = 0
        self.captured_at: dict[int, float] = {}
        self._picture = np.full((SIZE[1], SIZE[0], 3), (40, 120, 60), np.uint8)
        x0, y0, x1, y1 = PERSON
        self._picture[y0:y1, x0:x1] = (150, 170, 200)

    def read_into(self, frame_bgr: np.ndarray) -> bool:
        self.index += 1
        np.copyto(frame_bgr, self._picture)
        stamp(frame_bgr, self.index)
        self.captured_at[self.index] = time.monotonic()
        return True

    def close(self) -> None:
        """Nothing to release."""


class RectangleSegmenter:
    """The person is exactly ``PERSON``: the output path is under test here, not the mask."""

    def __init__(self) -> None:
        self.mask = np.zeros((SIZE[1], SIZE[0]), np.uint8)
        x0, y0, x1, y1 = PERSON
        self.mask[y0:y1, x0:x1] = 255

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        return self.mask

    def reset(self) -> None:
        """No memory."""


@dataclass
class Received:
    index: int
    received_at: float


@dataclass
class GstConsumer:
    """``pipewiresrc`` asking for BGR at our size, the way an application reads a camera.

    A consumer without caps after ``pipewiresrc`` hangs, so the size is always given.
    It reads the frames as BT.601, as Chromium does.
    ``stall`` starts one whose output nobody reads; ``pause_reading`` makes a reading one stop
    for a while, as an app that is not scheduled on a loaded machine does.
    """

    env: dict[str, str]
    stall: bool = False
    frames: list[Received] = field(default_factory=list)
    last_frame: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._resume_at = 0.0
        width, height = SIZE
        command = [
            "gst-launch-1.0",
            "-q",
            "pipewiresrc",
            f"target-object={NODE_NAME}",
            "!",
            f"video/x-raw,width={width},height={height}",  # I420 or YUY2, as offered
            "!",
            # PipeWire does not carry colorimetry; GStreamer would guess BT.709 for HD, while
            # Chromium (and OpenCV, which writes our I420) use BT.601.
            "capssetter",
            "caps=video/x-raw,colorimetry=bt601",
            "!",
            "videoconvert",
            "!",
            f"video/x-raw,format=BGR,width={width},height={height}",
            "!",
            "fdsink",
            "fd=1",
        ]
        self.process = subprocess.Popen(
            command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        if not self.stall:
            self._reader.start()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert isinstance(stdout, io.BufferedReader)
        buffer = bytearray(FRAME_BYTES)
        view = memoryview(buffer)
        while True:
            pause_s = self._resume_at - time.monotonic()
            if pause_s > 0:
                time.sleep(pause_s)
            got = 0
            while got < FRAME_BYTES:
                chunk = stdout.readinto(view[got:])
                if not chunk:
                    return
                got += chunk
            now = time.monotonic()
            frame = np.frombuffer(buffer, np.uint8).reshape(SIZE[1], SIZE[0], 3).copy()
            self.frames.append(Received(read_stamp(frame), now))
            self.last_frame = frame

    def pause_reading(self, seconds: float) -> None:
        """Read nothing for ``seconds`` from the next frame on: the pipe fills, and
        ``pipewiresrc`` stops taking frames from PipeWire."""
        self._resume_at = time.monotonic() + seconds

    @property
    def reader_thread_id(self) -> int | None:
        """The kernel's id of the reading thread, for per-thread CPU accounting."""
        return self._reader.native_id

    def wait_for(self, count: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.frames) >= count:
                return True
            time.sleep(0.02)
        return len(self.frames) >= count

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if self._reader.is_alive():
            self._reader.join(2)
        if self.process.stdout is not None:
            self.process.stdout.close()
