"""Where composited frames go: a virtual camera through pyvirtualcam, and a recording file.

A sink is anything with ``send(frame_bgr)`` and an idempotent ``close()``. Errors from
pyvirtualcam and OpenCV are translated here, once, into ``OutputError`` messages that say what
to run to fix them.
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import pyvirtualcam

from vbgcam.errors import OutputError

log = logging.getLogger(__name__)

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
            reasons = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            if "No v4l2 loopback device found" in reasons:
                raise OutputError(
                    f"no v4l2loopback device found; {_missing_device_hint()}"
                ) from exc
            if device and "does not exist" in reasons:
                raise OutputError(
                    f"virtual camera {device} does not exist; {_missing_device_hint()}"
                ) from exc
            raise OutputError(f"cannot open the virtual camera: {reasons}") from exc
        log.info(
            "virtual camera %s (%s backend): %dx%d @ %g fps",
            self.camera.device,
            self.camera.backend,
            size[0],
            size[1],
            fps,
        )
        self.device = self.camera.device

    def send(self, frame_bgr: np.ndarray) -> None:
        try:
            self.camera.send(frame_bgr)
        except RuntimeError as exc:
            raise OutputError(
                f"virtual camera {self.device} stopped accepting frames: {exc}"
            ) from exc

    def close(self) -> None:
        self.camera.close()


class Recorder:
    """Writes exactly what the virtual camera shows to a video file, at the output rate."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float) -> None:
        if path.parent and not path.parent.is_dir():
            raise OutputError(f"cannot record to {path}: folder {path.parent} does not exist")
        fourcc = cv2.VideoWriter.fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
        self.writer = cv2.VideoWriter(str(path), fourcc, fps, size)
        if not self.writer.isOpened():
            self.writer.release()
            raise OutputError(f"cannot record to {path}: use a .mp4 or .avi file name")
        self.path = path
        self._closed = False

    def send(self, frame_bgr: np.ndarray) -> None:
        self.writer.write(frame_bgr)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.writer.release()


def open_sinks(
    size: tuple[int, int], fps: float, device: str, backend: str, record: str
) -> list[FrameSink]:
    """The virtual camera (unless ``device`` is ``none``) and the recording (if asked)."""
    sinks: list[FrameSink] = []
    try:
        if device.lower() != "none":
            sinks.append(VirtualCamera(size, fps, device or None, backend or None))
        if record:
            sinks.append(Recorder(Path(record).expanduser(), size, fps))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks
