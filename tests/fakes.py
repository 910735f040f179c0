"""Stand-ins for the parts that cannot exist on a test machine: a virtual camera device and a
webcam. Each behaves like the real thing where the pipeline can tell the difference (rate,
sizes, pixel format, failures); everything else in the tests is real.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyvirtualcam
from pyvirtualcam.camera import FrameShapes, PixelFormat
from pyvirtualcam.util import decode_fourcc

from vbgcam.segmenters.diff import DiffSegmenter
from vbgcam.sources import Source
from vbgcam.sources.demo_scene import DemoScene

BACKEND_NAME = "recording"
UNPLUGGED_BACKEND_NAME = "unplugged"
FLAKY_BACKEND_NAME = "flaky"
HANGING_BACKEND_NAME = "hanging"


@dataclass(frozen=True)
class ReceivedFrame:
    """One frame as the virtual camera got it, in the camera's pixel format."""

    image: np.ndarray
    received_ts: float  # time.monotonic(), the clock the sender paces on


class RecordingBackend:
    """A pyvirtualcam backend that keeps what it is sent instead of feeding a device.

    It follows the contract in ``pyvirtualcam/camera.py``: keyword-only constructor that
    raises (as a real device does) for an unknown device name or pixel format, ``send`` of a
    1-D uint8 array, ``close`` called exactly once and nothing after it. Every instance is kept
    in ``RecordingBackend.instances`` (oldest first), so a test can read what each camera got.
    """

    DEVICE = "fake-cam"
    instances: ClassVar[list[RecordingBackend]] = []

    def __init__(
        self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: Any
    ) -> None:
        # The messages are those of pyvirtualcam's v4l2loopback backend.
        if device is not None and device != self.DEVICE:
            raise RuntimeError(f"Device {device} does not exist.")
        fmt_text = decode_fourcc(fourcc)
        try:
            self.pixel_format = PixelFormat(fmt_text)
        except ValueError:
            raise RuntimeError("Unsupported image format.") from None
        shape = FrameShapes[self.pixel_format](width, height)
        self.frame_shape: tuple[int, ...] = shape if isinstance(shape, tuple) else (shape,)
        self.width = width
        self.height = height
        self.fps = fps
        self.fourcc = fourcc
        self.fourcc_text = fmt_text
        self.extra_kw = kw
        self.frames: list[ReceivedFrame] = []
        self.close_calls = 0
        self._device = device or self.DEVICE
        self._changed = threading.Condition()
        RecordingBackend.instances.append(self)

    @classmethod
    def last(cls) -> RecordingBackend:
        """The most recently opened camera."""
        assert cls.instances, "no virtual camera was opened"
        return cls.instances[-1]

    def send(self, frame: np.ndarray) -> None:
        if self.close_calls:
            raise RuntimeError("send() after close(): the backend contract forbids it")
        if frame.ndim != 1 or frame.dtype != np.uint8 or not frame.flags.c_contiguous:
            raise ValueError(
                f"expected a 1-D C-contiguous uint8 array, got {frame.dtype} {frame.shape}"
            )
        image = frame.reshape(self.frame_shape).copy()
        with self._changed:
            self.frames.append(ReceivedFrame(image, time.monotonic()))
            self._changed.notify_all()

    def wait_for_frames(self, count: int, timeout_s: float) -> bool:
        """Block until ``count`` frames have arrived; False if they did not in time."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.frames) >= count, timeout_s)

    def close(self) -> None:
        self.close_calls += 1
        if self.close_calls > 1:
            raise RuntimeError("close() called twice: the backend contract says exactly once")

    def device(self) -> str:
        return self._device

    def native_fourcc(self) -> int | None:
        return self.fourcc


class UnpluggedBackend(RecordingBackend):
    """A virtual camera that fails after ``FAIL_AFTER`` frames, as v4l2loopback does when its
    device is removed (``modprobe -r``) while a program writes to it."""

    FAIL_AFTER = 5

    raised: RuntimeError | None = None

    def send(self, frame: np.ndarray) -> None:
        if len(self.frames) >= self.FAIL_AFTER:
            # pyvirtualcam's v4l2loopback backend raises exactly this when write() fails.
            self.raised = RuntimeError("error writing frame: No such device")
            raise self.raised
        super().send(frame)


class FlakyBackend(RecordingBackend):
    """A virtual camera whose every ``FAIL_EVERY``-th write fails and the next ones work, as a
    v4l2loopback device does when its reader falls behind (``write()`` gives EAGAIN).

    ``attempts`` holds the time of every ``send`` call, failed or not, so a test can tell the
    rate the daemon sent at from the rate that got through (``frames``).
    """

    FAIL_EVERY = 5

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.attempts: list[float] = []
        self.failures = 0

    def send(self, frame: np.ndarray) -> None:
        self.attempts.append(time.monotonic())
        if len(self.attempts) % self.FAIL_EVERY == 0:
            self.failures += 1
            # pyvirtualcam's v4l2loopback backend raises exactly this when write() fails.
            raise RuntimeError("error writing frame: Resource temporarily unavailable")
        super().send(frame)


class HangingBackend(RecordingBackend):
    """A virtual camera whose write blocks after its first frame until ``release`` is set, as a
    device write can when a driver or a reader misbehaves."""

    release = threading.Event()

    def send(self, frame: np.ndarray) -> None:
        if self.frames:
            self.release.wait()
        super().send(frame)


def register() -> None:
    """Make ``backend="recording"`` (and ``"unplugged"``, ``"flaky"``, ``"hanging"``) work in
    ``pyvirtualcam.Camera``."""
    pyvirtualcam.register_backend(BACKEND_NAME, RecordingBackend)
    pyvirtualcam.register_backend(UNPLUGGED_BACKEND_NAME, UnpluggedBackend)
    pyvirtualcam.register_backend(FLAKY_BACKEND_NAME, FlakyBackend)
    pyvirtualcam.register_backend(HANGING_BACKEND_NAME, HangingBackend)


def unregister() -> None:
    """Undo ``register``, so later tests see only the real backends."""
    HangingBackend.release.set()
    HangingBackend.release = threading.Event()
    for name in (BACKEND_NAME, UNPLUGGED_BACKEND_NAME, FLAKY_BACKEND_NAME, HANGING_BACKEND_NAME):
        pyvirtualcam.camera.BACKENDS.pop(name, None)


class StallingSource:
    """A webcam that delivers ``good_frames`` demo frames at ``fps``, then hangs.

    Like a V4L2 camera it paces itself: ``read_into`` blocks until the next frame is due.
    After the good frames each read blocks for ``read_timeout_s`` and fails, which is what a
    USB camera that stopped streaming looks like to OpenCV. ``close`` while a read is in
    progress raises, because a real driver would crash there.
    """

    paces_itself = True

    def __init__(
        self,
        size: tuple[int, int],
        fps: float,
        good_frames: int,
        read_timeout_s: float = 0.05,
    ) -> None:
        self.scene = DemoScene(*size)
        self.fps = fps
        self.good_frames = good_frames
        self.read_timeout_s = read_timeout_s
        self.description = f"stalling camera: {size[0]}x{size[1]} @ {fps:g} fps"
        self.delivered = 0
        self.failed_reads = 0
        self.close_calls = 0
        self._next_due: float | None = None
        self._reading = False
        self._closed = threading.Event()

    def read_into(self, frame_bgr: np.ndarray) -> bool:
        if self._closed.is_set():
            raise RuntimeError("read_into() after close()")
        self._reading = True
        try:
            if self.delivered >= self.good_frames:
                self.failed_reads += 1
                self._closed.wait(self.read_timeout_s)
                return False
            now = time.monotonic()
            if self._next_due is None:
                self._next_due = now
            if self._next_due > now:
                self._closed.wait(self._next_due - now)
            self._next_due += 1.0 / self.fps
            self.scene.render(self.delivered / self.fps, frame_bgr)
            self.delivered += 1
            return True
        finally:
            self._reading = False

    def close(self) -> None:
        if self._reading:
            raise RuntimeError("camera closed while another thread was reading from it")
        self.close_calls += 1
        self._closed.set()


class SlowSegmenter:
    """The diff segmenter made ``delay_s`` slower per frame, so the compositor falls behind
    the output rate (100 ms is 10 fps against the camera's 30)."""

    def __init__(self, delay_s: float = 0.1, threshold: int = 3) -> None:
        self.inner = DiffSegmenter(threshold=threshold, hold_s=0, clean=False)
        self.delay_s = delay_s
        self.calls = 0

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        self.calls += 1
        time.sleep(self.delay_s)
        return self.inner.segment(frame_bgr, small_bgr)

    def reset(self) -> None:
        self.inner.reset()


class FailingSegmenter:
    """A segmenter that raises after ``ok_frames`` frames, as a model that runs out of GPU
    memory does; the pipeline must surface its error, not hang."""

    def __init__(self, ok_frames: int) -> None:
        self.inner = DiffSegmenter(hold_s=0, clean=False)
        self.ok_frames = ok_frames
        self.calls = 0
        self.raised: Exception | None = None

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        self.calls += 1
        if self.calls > self.ok_frames:
            self.raised = MemoryError("out of memory while segmenting")
            raise self.raised
        return self.inner.segment(frame_bgr, small_bgr)

    def reset(self) -> None:
        self.inner.reset()


# --- fault injection: a webcam with numbered frames, faults on a schedule, a stuck driver


def stamp_frame_number(frame_bgr: np.ndarray, number: int) -> None:
    """Write ``number`` into the first four pixels' blue bytes (little-endian)."""
    frame_bgr[0, :4, 0] = np.frombuffer(number.to_bytes(4, "little"), np.uint8)


def frame_number(image_bgr: np.ndarray) -> int:
    """The number ``stamp_frame_number`` wrote (exact only for an unchanged camera pixel)."""
    return int.from_bytes(image_bgr[0, :4, 0].tobytes(), "little")


def numbered_frame(size: tuple[int, int], fps: float, number: int) -> np.ndarray:
    """Exactly what ``NumberedCamera`` delivers as frame ``number``."""
    frame = np.empty((size[1], size[0], 3), np.uint8)
    DemoScene(*size).render(number / fps, frame)
    stamp_frame_number(frame, number)
    return frame


class NumberedCamera:
    """A webcam showing the demo scene, each frame stamped with the next number of
    ``numbers`` (shared between the handles a test opens, so numbers only ever grow).

    Like a V4L2 camera it paces itself: ``read_into`` blocks until the next frame is due.
    """

    paces_itself = True

    def __init__(self, size: tuple[int, int], fps: float, numbers: Iterator[int]) -> None:
        self.scene = DemoScene(*size)
        self.fps = fps
        self.numbers = numbers
        self.description = f"numbered camera: {size[0]}x{size[1]} @ {fps:g} fps"
        self.close_calls = 0
        self._next_due: float | None = None

    def read_into(self, frame_bgr: np.ndarray) -> bool:
        if self.close_calls:
            raise RuntimeError("read_into() after close()")
        now = time.monotonic()
        if self._next_due is None or self._next_due < now - 1.0 / self.fps:
            self._next_due = now  # first read, or after a pause: no burst of late frames
        if self._next_due > now:
            time.sleep(self._next_due - now)
        self._next_due += 1.0 / self.fps
        number = next(self.numbers)
        self.scene.render(number / self.fps, frame_bgr)
        stamp_frame_number(frame_bgr, number)
        return True

    def close(self) -> None:
        self.close_calls += 1


@dataclass(frozen=True)
class FaultWindow:
    """From ``start_s`` to ``end_s`` after the schedule's origin, reads fail (``"error"``,
    returning False at once, as OpenCV does on EIO) or block (``"hang"``: a read that
    starts in the window returns False only when the window ends, as a stuck driver's
    ``DQBUF`` does)."""

    start_s: float
    end_s: float
    kind: str = "error"


class FaultySource:
    """Wraps a source and injects the faults of ``windows``, timed from ``origin``
    (``time.monotonic()``), so every handle a test reopens follows one timeline.

    ``close`` while a read is in progress is recorded and raises, because a real driver
    would crash there; ``read_into`` after ``close`` raises too.
    """

    def __init__(self, inner: Source, windows: Sequence[FaultWindow], origin: float) -> None:
        self.inner = inner
        self.windows = list(windows)
        self.origin = origin
        self.fps = inner.fps
        self.paces_itself = inner.paces_itself
        self.description = f"faulty {inner.description}"
        self.failed_reads = 0
        self.hung_reads = 0
        self.close_calls = 0
        self.closed_while_reading = False
        self.read_returned_at: float | None = None
        self._reading = False
        self._lock = threading.Lock()

    def _window_at(self, now: float) -> FaultWindow | None:
        since = now - self.origin
        return next((w for w in self.windows if w.start_s <= since < w.end_s), None)

    def read_into(self, frame_bgr: np.ndarray) -> bool:
        with self._lock:
            if self.close_calls:
                raise RuntimeError("read_into() after close()")
            self._reading = True
        try:
            window = self._window_at(time.monotonic())
            if window is None:
                return self.inner.read_into(frame_bgr)
            if window.kind == "hang":
                self.hung_reads += 1
                time.sleep(max(0.0, self.origin + window.end_s - time.monotonic()))
                return False
            self.failed_reads += 1
            return False
        finally:
            with self._lock:
                self._reading = False
                self.read_returned_at = time.monotonic()

    def close(self) -> None:
        with self._lock:
            if self._reading:
                self.closed_while_reading = True
                raise RuntimeError("camera closed while another thread was reading from it")
            self.close_calls += 1
        self.inner.close()


class FixedMaskSegmenter:
    """The left half of the frame is the person; ``fails(n)`` says whether call ``n``
    (1-based) raises, and ``error(n)`` what. A stand-in for a model that fails now and then
    (a GPU hiccup) or always (out of memory), with a known mask when it works."""

    def __init__(
        self,
        fails: Callable[[int], bool],
        error: Callable[[int], Exception] = lambda n: RuntimeError(f"inference failed at {n}"),
    ) -> None:
        self.fails = fails
        self.error = error
        self.calls = 0
        self.raised = 0
        self._mask: np.ndarray | None = None

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        self.calls += 1
        if self.fails(self.calls):
            self.raised += 1
            raise self.error(self.calls)
        if self._mask is None or self._mask.shape != frame_bgr.shape[:2]:
            self._mask = np.zeros(frame_bgr.shape[:2], np.uint8)
            self._mask[:, : frame_bgr.shape[1] // 2] = 255
        return self._mask

    def reset(self) -> None:
        pass
