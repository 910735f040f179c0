"""Where composited frames go: a virtual camera through pyvirtualcam, and a recording file.

A sink is anything with ``send(frame_bgr)`` and an idempotent ``close()``. Errors from
pyvirtualcam and OpenCV are translated here, once, into ``OutputError`` messages that say what
to run to fix them.
"""

from __future__ import annotations

import logging
import os
import platform
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import pyvirtualcam

from vbgcam.errors import OutputError
from vbgcam.outputs.pipewire.camera import PipeWireCamera

log = logging.getLogger(__name__)

if platform.system() == "Linux":
    # Registered after pyvirtualcam's own v4l2loopback, so with no --backend the kernel
    # device is tried first and the PipeWire camera second.
    pyvirtualcam.register_backend("pipewire", PipeWireCamera)

# Containers that take the MJPG (.avi) or mp4v (the others) frames a recording writes.
RECORD_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov")
MODPROBE = (
    'sudo modprobe v4l2loopback devices=1 video_nr=10 card_label="VBG Camera" exclusive_caps=1'
)


class FrameSink(Protocol):
    def send(self, frame_bgr: np.ndarray) -> None:
        """Deliver one H x W x 3 BGR uint8 frame of the size the sink was opened with."""
        ...

    def close(self) -> None: ...


def _missing_device_hint() -> str:
    if platform.system() == "Linux":
        return f"create one with: {MODPROBE} (or run with --device none)"
    return "install OBS Studio and start its Virtual Camera once (or run with --device none)"


def _backend_reasons(error: RuntimeError) -> dict[str, str]:
    """pyvirtualcam's "'name' backend: reason" lines, one per backend it tried."""
    reasons: dict[str, str] = {}
    name = ""
    for line in str(error).splitlines():
        head, sep, reason = line.strip().partition(" backend: ")
        if sep:
            name = head.strip("'")
            reasons[name] = reason.strip()
        elif line.strip():  # a reason that went on over several lines
            reasons[name] = "; ".join(filter(None, (reasons.get(name), line.strip())))
    return reasons


def _open_error(error: RuntimeError, device: str | None) -> OutputError:
    """One message that says, for every backend tried, why it failed and what fixes it."""
    reasons = _backend_reasons(error)
    v4l2 = reasons.get("v4l2loopback", "")
    pipewire = reasons.get("pipewire")
    if "No v4l2 loopback device found" in v4l2 and pipewire is not None:
        return OutputError(
            f"no virtual camera could be opened. Kernel camera: no v4l2loopback device "
            f"found; create one with: {MODPROBE}. PipeWire camera: {pipewire}. "
            "Fix either one (or run with --device none)"
        )
    if pipewire is not None and device and not device.startswith("/dev/"):
        # A name, not a device file: the PipeWire camera was meant.
        return OutputError(f"cannot open the PipeWire camera '{device}': {pipewire}")
    text = "; ".join(reasons.values())
    # The kernel device's own reason decides the kernel device's advice; with a single
    # backend asked for (tests, other platforms) that is the only reason there is.
    device_reason = v4l2 if "v4l2loopback" in reasons else text
    if "No v4l2 loopback device found" in device_reason:
        return OutputError(f"no v4l2loopback device found; {_missing_device_hint()}")
    if device and "does not exist" in device_reason:
        return OutputError(f"virtual camera {device} does not exist; {_missing_device_hint()}")
    lowered = device_reason.lower()
    if "busy" in lowered or "invalid argument" in lowered:
        return OutputError(
            f"cannot open the virtual camera: {text}. Likely cause: another program sends to "
            "it, or an app holds it open at another size or format; close them ('vbgcam "
            "doctor' shows which processes hold each device) and start again"
        )
    return OutputError(f"cannot open the virtual camera: {text}")


class VirtualCamera:
    """A pyvirtualcam camera fed BGR frames; pyvirtualcam converts to the device's format."""

    def __init__(
        self, size: tuple[int, int], fps: float, device: str | None, backend: str | None
    ) -> None:
        if backend and backend not in pyvirtualcam.camera.BACKENDS:
            known = ", ".join(sorted(pyvirtualcam.camera.BACKENDS)) or "none on this system"
            raise OutputError(f"unknown virtual camera backend '{backend}'; available: {known}")
        try:
            self.camera = pyvirtualcam.Camera(
                width=size[0],
                height=size[1],
                fps=fps,
                fmt=pyvirtualcam.PixelFormat.BGR,
                device=device,
                backend=backend,
            )
        except RuntimeError as exc:
            raise _open_error(exc, device) from exc
        log.info(
            "virtual camera %s (%s backend): %dx%d @ %g fps",
            self.camera.device,
            self.camera.backend,
            size[0],
            size[1],
            fps,
        )
        self.device = self.camera.device

    @property
    def hands_off(self) -> bool:
        """Whether ``send`` only hands the frame to the backend's own thread (the PipeWire
        camera converts it into a buffer of its own and returns): then nothing is gained by
        sending from another thread, and a copy is saved."""
        return isinstance(getattr(self.camera, "_backend", None), PipeWireCamera)

    def consumer_probe(self) -> Callable[[], bool] | None:
        """How on-demand capture learns whether an app reads this camera, when the backend
        can tell (the PipeWire camera); None for a device file, watched through /proc."""
        backend = getattr(self.camera, "_backend", None)  # pyvirtualcam keeps it private
        return backend.consumer_linked if isinstance(backend, PipeWireCamera) else None

    def send(self, frame_bgr: np.ndarray) -> None:
        try:
            self.camera.send(frame_bgr)
        except RuntimeError as exc:
            raise OutputError(
                f"virtual camera {self.device} stopped accepting frames: {exc}"
            ) from exc

    def close(self) -> None:
        self.camera.close()


# OpenCV's writers report no failed write, so the file is looked at after this much raw
# video went in (0.8 s of 720p). A file that has not grown is failing when its disk is full
# (less than ``FULL_BELOW_BYTES`` left) or read-only, or when it is no regular file (a
# device that swallows writes); with room left it is a still picture that compressed to
# less than the writer's buffer (a still scene in mp4v: tens of bytes a frame).
STALLED_AFTER_RAW_BYTES = 64 * 2**20
FULL_BELOW_BYTES = 4 * 2**20
# Even with room left (a full quota looks like free space), a file that has not grown over
# this many checks in a row (about a minute of 720p) is failing: a still picture flushes
# the writer's buffer well within that.
STALLED_CHECKS = 75


def check_video_path(path: Path, doing: str) -> None:
    """Raise OutputError ("cannot {doing} {path}: ...") unless ``path`` can take a video: its
    folder exists and its name is one of ``RECORD_SUFFIXES``. Checked before any work, since
    FFmpeg prints its own lines about a container it cannot fill."""
    try:
        folder_found = path.parent.is_dir()
    except OSError as exc:  # a name too long, a folder we may not enter
        raise OutputError(f"cannot {doing} {path}: {exc.strerror}") from exc
    if not folder_found:
        raise OutputError(f"cannot {doing} {path}: folder {path.parent} does not exist")
    if path.suffix.lower() not in RECORD_SUFFIXES:
        raise OutputError(f"cannot {doing} {path}: use a .mp4 or .avi file name")


class Recorder:
    """Writes exactly what the virtual camera shows to a video file, at the output rate."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float) -> None:
        check_video_path(path, "record to")
        fourcc = cv2.VideoWriter.fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
        self.writer = cv2.VideoWriter(str(path), fourcc, fps, size)
        if not self.writer.isOpened():
            self.writer.release()
            raise OutputError(f"cannot record to {path}: use a .mp4 or .avi file name")
        self.path = path
        self._closed = False
        self._size = 0
        self._raw_since_growth = 0
        self._checks_without_growth = 0

    def send(self, frame_bgr: np.ndarray) -> None:
        """Write one frame; raises OutputError once the file stops growing."""
        self.writer.write(frame_bgr)
        self._raw_since_growth += frame_bgr.nbytes
        if self._raw_since_growth < STALLED_AFTER_RAW_BYTES:
            return
        try:
            size = os.stat(self.path).st_size
        except OSError as exc:
            raise OutputError(f"the recording {self.path} is gone: {exc.strerror}") from exc
        self._raw_since_growth = 0
        if size > self._size:
            self._size, self._checks_without_growth = size, 0
            return
        self._checks_without_growth += 1
        if not self._has_room() or self._checks_without_growth >= STALLED_CHECKS:
            raise OutputError(
                f"the recording {self.path} stopped growing: is its disk full or read-only "
                "(or your disk quota used up)?"
            )

    def _has_room(self) -> bool:
        """Whether the file is a regular file on a writable file system with room left."""
        try:
            if not stat.S_ISREG(os.stat(self.path).st_mode):
                return False
            disk = os.statvfs(self.path.parent)
        except OSError:
            return False
        read_only = bool(disk.f_flag & os.ST_RDONLY)
        return not read_only and disk.f_bavail * disk.f_frsize >= FULL_BELOW_BYTES

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.writer.release()


def open_sinks(
    size: tuple[int, int], fps: float, device: str, backends: Sequence[str], record: str
) -> list[FrameSink]:
    """The virtual camera outputs (unless ``device`` is ``none``; ``backends`` empty: every
    one this platform has) and the recording (if asked)."""
    from vbgcam.outputs.cameras import open_outputs  # it builds on VirtualCamera, above

    sinks: list[FrameSink] = []
    try:
        if device.lower() != "none":
            sinks.extend(open_outputs(size, fps, device or None, backends))
        if record:
            sinks.append(Recorder(Path(record).expanduser(), size, fps))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks
