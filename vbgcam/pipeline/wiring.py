"""Wires the live pipeline: capture thread -> ring -> compose thread -> ring -> sender.

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
from vbgcam.pipeline.compose_loop import ComposeThread
from vbgcam.pipeline.ringbuffer import RingBuffer
from vbgcam.pipeline.sender import FrameSender
from vbgcam.sources import Source

log = logging.getLogger(__name__)


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
        capture_size: tuple[int, int] | None = None,
    ) -> None:
        """``capture_size``: the camera's frames when larger than the output's ``size``
        (framing crops from them); the output's size by default."""
        width, height = size
        capture_w, capture_h = capture_size or size
        self.clock = clock
        self.sinks = list(sinks)
        self.camera_frames = RingBuffer((capture_h, capture_w, 3), clock=clock)
        self.output_frames = RingBuffer((height, width, 3), clock=clock)
        self.capture = CaptureThread(
            source, self.camera_frames, clock, reopen=reopen, on_lost=self._camera_lost
        )
        self.composer = ComposeThread(
            self.camera_frames,
            self.output_frames,
            compositor,
            paused=lambda: self.paused,
            lost=lambda: self.capture.lost,
            clock=clock,
        )
        self.sender = FrameSender(self.output_frames, self.sinks, fps, max_frames, clock)
        self._size = size
        self._stop = stop or threading.Event()

    @property
    def compositor(self) -> Compositor:
        """The compositor in use (a replacement takes over at the next frame)."""
        return self.composer.compositor

    @property
    def composed(self) -> int:
        return self.composer.composed

    @property
    def dropped(self) -> int:
        return self.composer.dropped

    @property
    def stage_failures(self) -> int:
        return self.composer.stage_failures

    @property
    def error(self) -> BaseException | None:
        return self.composer.error

    def replace_compositor(self, compositor: Compositor) -> None:
        """Use ``compositor`` from the next frame on (settings changed); any thread."""
        self.composer.replace_compositor(compositor)

    def _camera_lost(self, lost: bool) -> None:
        """From the capture thread: while the camera is gone, the output shows a card."""
        if lost:
            self.composer.show_while_gone(make_card(self._size, "Camera unavailable"))

    def pause(self, picture: np.ndarray | None) -> None:
        """Release the camera; the output shows ``picture`` (None: the last frame)."""
        self.composer.show_while_gone(picture)
        self.capture.set_paused(True)

    def resume(self) -> None:
        self.capture.set_paused(False)

    @property
    def paused(self) -> bool:
        return self.capture.paused.is_set()

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
        self.capture.start()
        self.composer.start()
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
        self.composer.stop()
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
