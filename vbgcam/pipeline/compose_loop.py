"""The compose thread: newest camera frame in, composited frame out, one at a time.

It sits between the capture thread and the sender and owns the compositor while running: a
settings change hands it a new one, swapped in at the next frame boundary. While the camera
is paused or lost it puts the pause picture out once (the sender repeats it). A stage that
raises must not end the call: that frame goes out as the camera picture, and the failure is
logged once per kind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import cv2
import numpy as np

from vbgcam.clock import SYSTEM_CLOCK, Clock
from vbgcam.compose import Compositor
from vbgcam.pipeline.ringbuffer import RingBuffer

log = logging.getLogger(__name__)

# Frames further apart than this (a stalled or reopened camera, a paused video) are not one
# stream: the compositor forgets its history before the later one.
HISTORY_GAP_S = 1.0
# How often a wait for the next camera frame looks at a stop request.
POLL_S = 0.1


class ComposeThread:
    """Composes from ``camera_frames`` into ``output_frames`` between ``start`` and ``stop``.

    ``paused()`` and ``lost()`` say whether the camera is paused or lost right now (the
    capture thread knows); ``composed``, ``dropped`` and ``stage_failures`` count frames.
    """

    def __init__(
        self,
        camera_frames: RingBuffer,
        output_frames: RingBuffer,
        compositor: Compositor,
        paused: Callable[[], bool],
        lost: Callable[[], bool],
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.camera_frames = camera_frames
        self.output_frames = output_frames
        self.compositor = compositor
        self.paused = paused
        self.lost = lost
        self.clock = clock
        self.composed = 0
        self.dropped = 0
        self.stage_failures = 0
        self.error: BaseException | None = None
        self._failures_seen: set[str] = set()
        self._next_compositor: Compositor | None = None
        self._pause_picture: np.ndarray | None = None
        self._pause_shown = True
        self._started_at = clock.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="vbgcam-compose", daemon=True)

    def start(self) -> None:
        self._started_at = self.clock.now()
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def replace_compositor(self, compositor: Compositor) -> None:
        """Use ``compositor`` from the next frame on (settings changed); any thread."""
        self._next_compositor = compositor

    def show_while_gone(self, picture: np.ndarray | None) -> None:
        """What goes out once the camera is paused or lost: ``picture``, or the last frame
        (None); any thread."""
        self._pause_picture = picture
        self._pause_shown = False

    def _show_pause_picture(self) -> None:
        if self._pause_shown:
            return
        self._pause_shown = True
        if self._pause_picture is not None:
            slot, out = self.output_frames.begin_write()
            np.copyto(out, self._pause_picture)
            self.output_frames.commit(slot, self.clock.now())

    def _compose_or_fall_back(self, frame: np.ndarray, t_s: float, out: np.ndarray) -> None:
        """A failing stage (a model, a background video) must not end the call: send the
        camera picture instead, and say so once per kind of failure. The kind is the
        exception's type, not its message: a message that names the frame would otherwise
        log at the frame rate for the rest of the call."""
        try:
            self.compositor.compose(frame, t_s, out)
        except Exception as exc:
            kind = type(exc).__qualname__
            self.stage_failures += 1
            if kind not in self._failures_seen:
                self._failures_seen.add(kind)
                log.error(
                    "compositing failed (%s: %s); sending the camera picture until it works again",
                    kind,
                    exc,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
            if out.shape == frame.shape:
                np.copyto(out, frame)
            else:  # a camera asked for more than the output (framing)
                cv2.resize(
                    frame, (out.shape[1], out.shape[0]), dst=out, interpolation=cv2.INTER_AREA
                )

    def run(self) -> None:
        """The loop, on the calling thread (``start`` runs it on its own)."""
        last_seq = 0
        last_ts = float("inf")  # no gap before the first frame: the compositor is new
        history_gone = False
        try:
            while not self._stop.is_set():
                if self.paused() or self.lost():
                    self._show_pause_picture()
                    history_gone = True
                ref = self.camera_frames.acquire_newest(last_seq, timeout_s=POLL_S)
                if ref is None:
                    continue
                try:
                    if self.paused():  # a frame captured just before the pause: drop it
                        continue
                    # A gap with no frame captured in it is the camera's (a stall, a
                    # reopen), not a slow compositor's: the stream starts afresh.
                    camera_gap = ref.skipped == 0 and ref.capture_ts - last_ts > HISTORY_GAP_S
                    if history_gone or camera_gap:
                        self.compositor.restart_stream()
                        history_gone = False
                    last_ts = ref.capture_ts
                    # Swapped here, after the wait: a frame is composed by the newest one.
                    if self._next_compositor is not None:
                        self.compositor, self._next_compositor = self._next_compositor, None
                    slot, out = self.output_frames.begin_write()
                    self._compose_or_fall_back(ref.image, ref.capture_ts - self._started_at, out)
                    self.output_frames.commit(slot, ref.capture_ts)
                finally:
                    self.camera_frames.release(ref)
                    last_seq = ref.seq
                self.dropped += ref.skipped
                self.composed += 1
        except BaseException as exc:
            self.error = exc
            log.debug("compositor stopped by an error", exc_info=True)
