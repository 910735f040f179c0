""" "VBG Camera" on every virtual camera output at once, each one on its own.

Zoom, Teams, Discord and Slack read only V4L2 devices (v4l2loopback); Firefox, Chromium with
its PipeWire flag, OBS and sandboxed apps read PipeWire cameras, which several apps can share.
So on Linux vbgcam publishes both by default.

Each output is a ``CameraOutput``: a thread of its own that opens its camera, sends it the
newest frame, and, when the camera fails or was never there (no v4l2loopback device yet),
reports it once and opens it again with backoff. ``send`` only copies the frame into a free
buffer (0.3 ms at 720p) and returns, so a slow or failing output never holds up the sender
or the other output. A camera whose own ``send`` already hands off (the PipeWire camera
converts into its own buffer and returns) is sent to directly: no copy, no second thread's
work per frame.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyvirtualcam

from vbgcam.errors import OutputError
from vbgcam.outputs import VirtualCamera
from vbgcam.pipeline.on_demand import DeviceHolders

log = logging.getLogger(__name__)

LINUX_BACKENDS = ("v4l2loopback", "pipewire")
OTHER_BACKENDS = ("obs",)
# Who reads which output: what `doctor`, `devices` and the start-up log tell the user.
READERS = {
    "v4l2loopback": "Zoom, Teams, Discord, Slack, Chrome, Firefox (V4L2 apps)",
    "pipewire": "OBS, Firefox and Chromium with PipeWire cameras, Flatpak apps; several at once",
    "obs": "every app on this system",
}
LABELS = {"v4l2loopback": "kernel camera", "pipewire": "PipeWire camera", "obs": "OBS camera"}
# An output that cannot open is tried again after this long, doubling up to the most.
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 30.0
# How long close waits for a write in progress; a device stuck in a write is left behind
# rather than holding up the daemon's exit.
CLOSE_WAIT_S = 2.0


def default_backends(system: str | None = None) -> tuple[str, ...]:
    """Every output this platform can have: both on Linux, OBS's elsewhere."""
    return LINUX_BACKENDS if (system or platform.system()) == "Linux" else OTHER_BACKENDS


def device_for(backend: str, device: str | None) -> str | None:
    """Which part of ``--device`` an output takes: a /dev path is the kernel camera's, a
    name is the PipeWire camera's (what apps list); the other output takes its default."""
    if not device:
        return None
    is_path = device.startswith("/dev/")
    if backend == "v4l2loopback":
        return device if is_path else None
    if backend == "pipewire":
        return None if is_path else device
    return device


class CameraOutput:
    """One virtual camera output, opened, fed, failed and reopened in its own thread.

    ``open_camera(backend, device)`` returns a started camera or raises OutputError;
    ``camera`` is None while the output is not open. ``send`` and ``close`` are for the
    sender's thread; ``consumer_seen`` for on-demand's.
    """

    def __init__(
        self,
        backend: str,
        size: tuple[int, int],
        device: str | None,
        open_camera: Callable[[str, str | None], VirtualCamera],
        camera: VirtualCamera | None = None,
        failure: str | None = None,
    ) -> None:
        """``camera``: already opened by ``open_outputs``; else ``failure`` says why not,
        and the thread keeps trying."""
        self.backend = backend
        self.label = LABELS.get(backend, backend)
        self.camera = camera
        self.failure = failure
        self.reopened = 0
        self._device = device
        self._open_camera = open_camera
        width, height = size
        self._buffers = [np.zeros((height, width, 3), np.uint8) for _ in range(2)]
        self._fresh: int | None = None  # the buffer holding a frame not yet sent
        self._failed: tuple[VirtualCamera, str] | None = None  # a hands-off camera that failed
        self._sending: int | None = None
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._holders: DeviceHolders | None = None
        self._thread = threading.Thread(target=self._run, name=f"vbgcam-out-{backend}", daemon=True)
        self._thread.start()

    @property
    def device(self) -> str:
        return str(self.camera.device) if self.camera is not None else self.label

    def send(self, frame_bgr: np.ndarray) -> None:
        """Keep ``frame_bgr`` for the output's thread (the newest frame wins), or hand it
        straight to a camera that hands off itself; never waits on the camera."""
        camera = self.camera
        if camera is not None and camera.hands_off:
            try:
                camera.send(frame_bgr)
            except OutputError as exc:
                with self._lock:  # the output's thread closes it and opens it again
                    if self.camera is camera:
                        self.camera, self._failed = None, (camera, str(exc))
                        self._lock.notify()
            return
        with self._lock:
            free = 0 if self._sending != 0 else 1
            np.copyto(self._buffers[free], frame_bgr)
            self._fresh = free
            self._lock.notify()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        self._thread.join(CLOSE_WAIT_S)
        if self._thread.is_alive():
            log.warning("%s is stuck in a write; leaving it behind", self.label)
            return
        self._close_camera()
        if self._failed is not None:
            self._close(self._failed[0])
            self._failed = None
        if self._holders is not None:  # on-demand's watch has stopped asking by now
            self._holders.close()
            self._holders = None

    def consumer_seen(self) -> bool:
        """Whether an app reads this output now: the PipeWire camera's link, or a process
        other than ours holding the loopback device open."""
        camera = self.camera
        if camera is None:
            return False
        probe = camera.consumer_probe()
        if probe is not None:
            return probe()
        path = Path(str(camera.device))
        holders = self._holders
        if holders is None or holders.device != path:
            if holders is not None:
                holders.close()
                self._holders = None
            if not str(path).startswith("/dev/") or not path.exists():
                return False
            holders = self._holders = DeviceHolders(path)
        return holders.seen()

    # --- the output's thread -------------------------------------------------------------

    def _run(self) -> None:
        self._serve()
        # The frame handed over last before close is sent too: a run of N frames shows N.
        with self._lock:
            index, self._fresh = self._fresh, None
        if index is not None and self.camera is not None:
            try:
                self.camera.send(self._buffers[index])
            except OutputError:
                log.debug("%s: the last frame could not be sent", self.label, exc_info=True)

    def _serve(self) -> None:
        delay_s = RETRY_FIRST_S
        retry_at = time.monotonic() + delay_s
        while not self._stop.is_set():
            with self._lock:
                failed, self._failed = self._failed, None
            if failed is not None:
                camera, why = failed
                log.warning("%s failed: %s; opening it again", self.label, why)
                self.failure = why
                self._close(camera)
                delay_s = RETRY_FIRST_S
                retry_at = time.monotonic() + delay_s
            if self.camera is None:
                wait_s = retry_at - time.monotonic()
                if wait_s > 0 and self._stop.wait(min(wait_s, 0.5)):
                    return
                if wait_s > 0:
                    continue
                if self._reopen():
                    delay_s = RETRY_FIRST_S
                else:
                    delay_s = min(2 * delay_s, RETRY_MAX_S)
                    retry_at = time.monotonic() + delay_s
                continue
            index = self._next_frame()
            if index is None:
                continue
            try:
                self.camera.send(self._buffers[index])
            except OutputError as exc:
                log.warning("%s failed: %s; opening it again", self.label, exc)
                self.failure = str(exc)
                self._close_camera()
                delay_s = RETRY_FIRST_S
                retry_at = time.monotonic() + delay_s
            finally:
                with self._lock:
                    self._sending = None

    def _next_frame(self) -> int | None:
        with self._lock:
            while self._fresh is None and self._failed is None and not self._stop.is_set():
                self._lock.wait(0.5)
            if self._stop.is_set() or self._fresh is None:
                return None  # stopping (the last send is _run's), or a failure to handle
            index, self._fresh = self._fresh, None
            self._sending = index
            return index

    def _reopen(self) -> bool:
        try:
            camera = self._open_camera(self.backend, self._device)
        except OutputError as exc:
            if str(exc) != self.failure:
                log.debug("%s still unavailable: %s", self.label, exc)
            self.failure = str(exc)
            return False
        if self._stop.is_set():
            camera.close()
            return True
        self.camera, self.failure = camera, None
        self.reopened += 1
        log.info("%s is back: 'VBG Camera' on %s", self.label, camera.device)
        return True

    def _close_camera(self) -> None:
        camera, self.camera = self.camera, None
        if camera is not None:
            self._close(camera)

    def _close(self, camera: VirtualCamera) -> None:
        try:
            camera.close()
        except Exception:  # a device that vanished may fail to close; it is gone anyway
            log.debug("closing %s failed", self.label, exc_info=True)


def _open_virtual_camera(
    size: tuple[int, int], fps: float
) -> Callable[[str, str | None], VirtualCamera]:
    def open_camera(backend: str, device: str | None) -> VirtualCamera:
        return VirtualCamera(size, fps, device, backend)

    return open_camera


def open_outputs(
    size: tuple[int, int],
    fps: float,
    device: str | None,
    backends: Sequence[str],
    open_camera: Callable[[str, str | None], VirtualCamera] | None = None,
) -> list[CameraOutput]:
    """One ``CameraOutput`` per backend (``backends`` empty: every one this platform has).

    Each is opened here first, so the start-up log says at once which apps will see the
    camera. Raises OutputError, naming each output's fix, when none opens; an output that
    fails while another opens is reported and keeps being tried in the background.
    """
    names = tuple(backends) or default_backends()
    unknown = [name for name in names if name not in pyvirtualcam.camera.BACKENDS]
    if unknown:
        known = ", ".join(sorted(pyvirtualcam.camera.BACKENDS)) or "none on this system"
        raise OutputError(f"unknown virtual camera backend '{unknown[0]}'; available: {known}")
    opener = open_camera or _open_virtual_camera(size, fps)
    opened: dict[str, VirtualCamera] = {}
    failures: dict[str, str] = {}
    for backend in names:
        try:
            opened[backend] = opener(backend, device_for(backend, device))
        except OutputError as exc:
            failures[backend] = str(exc)
    if not opened:
        raise OutputError(_none_opened(failures))
    outputs: list[CameraOutput] = []
    for backend in names:
        camera = opened.get(backend)
        if camera is None:
            log.warning(
                "%s unavailable (%s won't see 'VBG Camera' until it is): %s; vbgcam keeps "
                "trying it",
                LABELS.get(backend, backend),
                READERS.get(backend, "its apps"),
                failures[backend],
            )
        outputs.append(
            CameraOutput(
                backend,
                size,
                device_for(backend, device),
                opener,
                camera=camera,
                failure=failures.get(backend),
            )
        )
    return outputs


def _none_opened(failures: dict[str, str]) -> str:
    if len(failures) == 1:
        return next(iter(failures.values()))
    parts = [f"{LABELS.get(name, name).capitalize()}: {why}" for name, why in failures.items()]
    return (
        "no virtual camera could be opened. "
        + ". ".join(parts)
        + ". Fix either one (or run with --device none)"
    )
