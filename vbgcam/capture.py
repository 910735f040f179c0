"""The capture thread: reads a source into a ring buffer as fast as the source delivers.

A camera blocks in ``read`` until its next frame; a file or the demo scene is paced here on
absolute deadlines, so it plays at its own rate like a camera would.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from vbgcam.ringbuffer import RingBuffer
from vbgcam.sources import Source

log = logging.getLogger(__name__)

# After this many failed reads in a row the source is reported as stalled (once).
STALL_REPORT_AFTER = 30
RETRY_DELAY_S = 0.02


class CaptureThread:
    """Owns the source while running; ``captured`` counts committed frames."""

    def __init__(
        self, source: Source, frames: RingBuffer, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.source = source
        self.frames = frames
        self.clock = clock
        self.captured = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vbgcam-capture", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        period_s = 1.0 / self.source.fps
        start = self.clock()
        failures = 0
        try:
            while not self._stop.is_set():
                if not self.source.paces_itself:
                    delay = start + self.captured * period_s - self.clock()
                    if delay > 0 and self._stop.wait(delay):
                        break
                slot, image = self.frames.begin_write()
                if self.source.read_into(image):
                    self.frames.commit(slot, self.clock())
                    self.captured += 1
                    failures = 0
                    continue
                failures += 1
                if failures == STALL_REPORT_AFTER:
                    log.warning("%s delivers no frames; still trying", self.source.description)
                self._stop.wait(RETRY_DELAY_S)
        except BaseException as exc:
            self.error = exc
            log.debug("capture stopped by an error", exc_info=True)
