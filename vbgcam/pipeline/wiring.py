"""Wires the live pipeline: capture thread -> ring -> compositor thread -> ring -> sender.

Each stage runs in its own named thread and hands frames on through a newest-wins ring
buffer, so a slow stage drops frames instead of queueing them (no added latency), and the
sender keeps the camera's rate regardless. ``run`` blocks until stopped, then stops every
thread, releases the source and the sinks, and re-raises the first stage error.
"""

from __future__ import annotations

import logging
import statistics
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from vbgcam.clock import SYSTEM_CLOCK, Clock
from vbgcam.compose import Compositor
from vbgcam.outputs import FrameSink
from vbgcam.pipeline.capture import CaptureThread
from vbgcam.pipeline.cards import make_card
from vbgcam.pipeline.ringbuffer import RingBuffer
from vbgcam.pipeline.sender import FrameSender
from vbgcam.sources import Source

log = logging.getLogger(__name__)

# Frames further apart than this (a stalled or reopened camera, a paused video) are not one
# stream: the compositor forgets its history before the later one.
HISTORY_GAP_S = 1.0


@dataclass(frozen=True)
class RunStats:
    """What a run did, for the log line at the end and for tests."""

    captured: int
    composed: int
    dropped: int
    sent: int
    repeated: int
    latency_ms_median: float  # over the last frames sent (the sender keeps 300)
    latency_ms_p99: float


class Pipeline:
    """One source, one compositor, any number of sinks, at ``fps`` frames per second out."""

    def __init__(
        self,
        source: Source,
        compositor: Compositor,
        sinks: Sequence[FrameSink],
        size: tuple[int, int],
        fps: float,
        max_frames: int | None = None,
        stop: threading.Event | None = None,
        reopen: Callable[[], Source] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        width, height = size
        self.clock = clock
        self.compositor = compositor
        self.sinks = list(sinks)
        self.camera_frames = RingBuffer((height, width, 3), clock=clock)
        self.output_frames = RingBuffer((height, width, 3), clock=clock)
        self.capture = CaptureThread(
            source, self.camera_frames, clock, reopen=reopen, on_lost=self._camera_lost
        )
        self._size = size
        self.sender = FrameSender(self.output_frames, self.sinks, fps, max_frames, clock)
        self.composed = 0
        self.dropped = 0
        self._next_compositor: Compositor | None = None
        self.stage_failures = 0
        self._failures_seen: set[str] = set()
        self._pause_picture: np.ndarray | None = None
        self._pause_shown = True
        self.error: BaseException | None = None
        self._stop = stop or threading.Event()
        self._compose_thread = threading.Thread(
            target=self._compose_loop, name="vbgcam-compose", daemon=True
        )
        self._started_at = self.clock.now()

    def replace_compositor(self, compositor: Compositor) -> None:
        """Use ``compositor`` from the next frame on (settings changed); any thread."""
        self._next_compositor = compositor

    def _camera_lost(self, lost: bool) -> None:
        """From the capture thread: while the camera is gone, the output shows a card."""
        if lost:
            self._pause_picture = make_card(self._size, "Camera unavailable")
            self._pause_shown = False

    def pause(self, picture: np.ndarray | None) -> None:
        """Release the camera; the output shows ``picture`` (None: the last frame)."""
        self._pause_picture = picture
        self._pause_shown = False
        self.capture.set_paused(True)

    def resume(self) -> None:
        self.capture.set_paused(False)

    @property
    def paused(self) -> bool:
        return self.capture.paused.is_set()

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
            np.copyto(out, frame)

    def _compose_loop(self) -> None:
        last_seq = 0
        last_ts = float("inf")  # no gap before the first frame: the compositor is new
        history_gone = False
        try:
            while not self._stop.is_set():
                if self._next_compositor is not None:
                    self.compositor, self._next_compositor = self._next_compositor, None
                if self.paused or self.capture.lost:
                    self._show_pause_picture()
                    history_gone = True
                ref = self.camera_frames.acquire_newest(last_seq, timeout_s=0.1)
                if ref is None:
                    continue
                try:
                    if self.paused:  # a frame captured just before the pause: drop it
                        continue
                    # A gap with no frame captured in it is the camera's (a stall, a
                    # reopen), not a slow compositor's: the stream starts afresh.
                    camera_gap = ref.skipped == 0 and ref.capture_ts - last_ts > HISTORY_GAP_S
                    if history_gone or camera_gap:
                        self.compositor.restart_stream()
                        history_gone = False
                    last_ts = ref.capture_ts
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

    @contextmanager
    def in_background(self, name: str = "vbgcam-pipeline") -> Iterator[Pipeline]:
        """``run`` on a thread of its own for the ``with`` block; stopped and joined after,
        for benchmarks that measure a running pipeline from the outside."""
        runner = threading.Thread(target=self.run, name=name)
        runner.start()
        try:
            yield self
        finally:
            self.request_stop()
            runner.join()

    def request_stop(self) -> None:
        """Ask ``run`` to return; safe from signal handlers and other threads."""
        self._stop.set()

    def run(self) -> RunStats:
        """Run until ``request_stop``, ``max_frames`` sent, or a stage fails."""
        self._started_at = self.clock.now()
        self.capture.start()
        self._compose_thread.start()
        self.sender.start()
        try:
            while not self._stop.is_set():
                if self.sender.finished.wait(0.05):
                    break
                if self.error or self.capture.error:
                    break
        finally:
            self.close()
        for error in (self.capture.error, self.error, self.sender.error):
            if error is not None:
                raise error
        return self.stats()

    def close(self) -> None:
        """Stop every thread, then release the source and sinks; idempotent."""
        self._stop.set()
        self.camera_frames.close()
        self.output_frames.close()
        self.sender.stop()
        if self._compose_thread.is_alive():
            self._compose_thread.join(2.0)
        # Also releases the source; a read stuck in a driver closes it once it returns.
        self.capture.stop()
        # Every sink is closed, also after one fails to: a recording must get its index.
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                log.exception("closing %s failed", getattr(sink, "device", type(sink).__name__))

    def stats(self) -> RunStats:
        latencies = list(self.sender.latencies_ms)
        return RunStats(
            captured=self.capture.captured,
            composed=self.composed,
            dropped=self.dropped,
            sent=self.sender.sent,
            repeated=self.sender.repeated,
            latency_ms_median=statistics.median(latencies) if latencies else 0.0,
            latency_ms_p99=(
                statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else 0.0
            ),
        )
