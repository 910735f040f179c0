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
# A source that gives no frame for this long is closed and reopened (with a reopen factory).
LOST_AFTER_S = 1.0
# Reopen attempts wait this long, doubling up to the maximum.
REOPEN_FIRST_S = 0.5
REOPEN_MAX_S = 8.0


class CaptureThread:
    """Owns the source while running; ``captured`` counts committed frames.

    While ``paused`` the source is closed (a webcam's light goes off) and, when a
    ``reopen`` factory was given, opened afresh on resume; without one it is kept open and
    simply not read. A source that cannot be reopened is retried every second.
    """

    def __init__(
        self,
        source: Source,
        frames: RingBuffer,
        clock: Callable[[], float] = time.monotonic,
        reopen: Callable[[], Source] | None = None,
        on_lost: Callable[[bool], None] = lambda lost: None,
    ) -> None:
        self.source: Source | None = source
        self.on_lost = on_lost
        self.lost = False
        self.frames = frames
        self.clock = clock
        self.reopen = reopen
        self.captured = 0
        self.error: BaseException | None = None
        self.paused = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vbgcam-capture", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.paused.set()
        else:
            self.paused.clear()
        self._wake.set()

    def _sleep(self, seconds: float) -> bool:
        """Wait, waking early on stop or pause changes; True when stopping."""
        self._wake.wait(seconds)
        self._wake.clear()
        return self._stop.is_set()

    def _hold_while_paused(self) -> None:
        if self.reopen is not None and self.source is not None:
            log.info("paused: %s released", self.source.description)
            self.source.close()
            self.source = None
        while self.paused.is_set() and not self._stop.is_set():
            self._sleep(1.0)
        self._reopen_with_backoff()

    def _reopen_with_backoff(self) -> None:
        """Open the source again, waiting longer after each failure; one warning per outage."""
        wait_s = REOPEN_FIRST_S
        warned = False
        while self.source is None and not self._stop.is_set() and not self.paused.is_set():
            assert self.reopen is not None
            try:
                self.source = self.reopen()
                log.info("camera back: %s", self.source.description)
            except Exception as exc:  # unplugged, or taken by another app meanwhile
                if not warned:
                    log.warning("cannot reopen the camera yet (%s); retrying", exc)
                    warned = True
                self._sleep(wait_s)
                wait_s = min(2 * wait_s, REOPEN_MAX_S)

    def _lose(self, source: Source) -> None:
        """The source stopped delivering: say so once, release it, and reopen it later."""
        log.warning(
            "%s gave no frame for %.0f s: showing the 'camera unavailable' card and reopening it",
            source.description,
            LOST_AFTER_S,
        )
        self.lost = True
        self.on_lost(True)
        source.close()
        self.source = None

    def _run(self) -> None:
        failures = 0
        start, count = self.clock(), 0
        last_frame_at = self.clock()
        try:
            while not self._stop.is_set():
                if self.paused.is_set() or self.source is None:
                    self._hold_while_paused()
                    start, count = self.clock(), 0
                    last_frame_at = self.clock()
                    continue
                source = self.source
                if not source.paces_itself:
                    delay = start + count / source.fps - self.clock()
                    if delay > 0 and self._sleep(delay):
                        break
                slot, image = self.frames.begin_write()
                if source.read_into(image):
                    self.frames.commit(slot, self.clock())
                    self.captured += 1
                    count += 1
                    failures = 0
                    last_frame_at = self.clock()
                    if self.lost:
                        self.lost = False
                        self.on_lost(False)
                    continue
                failures += 1
                if self.reopen is not None and self.clock() - last_frame_at > LOST_AFTER_S:
                    self._lose(source)
                    continue
                if failures == STALL_REPORT_AFTER:
                    log.warning("%s delivers no frames; still trying", source.description)
                self._sleep(RETRY_DELAY_S)
        except BaseException as exc:
            self.error = exc
            log.debug("capture stopped by an error", exc_info=True)
