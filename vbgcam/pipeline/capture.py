"""The capture thread: reads a source into a ring buffer as fast as the source delivers.

A camera blocks in ``read`` until its next frame; a file or the demo scene is paced here on
absolute deadlines, so it plays at its own rate like a camera would.

A stalled driver can block a read far longer than a frame (V4L2 waits up to 10 s for a
buffer, a wedged USB camera forever), so reads run on a helper thread, one per opened
source, and the capture thread waits for each with a deadline. A source that gives no frame
for ``LOST_AFTER_S``, whether its reads fail or hang, counts as lost: the pipeline shows the
"camera unavailable" card and, with a reopen factory, the camera is opened afresh. A read
that hangs is left to finish on its helper thread, which then closes its source and ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import cv2
import numpy as np

from vbgcam.clock import SYSTEM_CLOCK, Clock
from vbgcam.errors import SourceError
from vbgcam.pipeline.ringbuffer import RingBuffer
from vbgcam.sources import Source

log = logging.getLogger(__name__)

# After this many failed reads in a row the source is reported as stalled (once).
STALL_REPORT_AFTER = 30
RETRY_DELAY_S = 0.02
# A source that gives no frame for this long is closed and reopened (with a reopen factory).
LOST_AFTER_S = 0.8
# ...except right after opening: some UVC cameras need over a second to deliver their first
# frame (exposure settling), and abandoning that read would reopen them in a loop.
FIRST_FRAME_WITHIN_S = 3.0
# Reopen attempts wait this long, doubling up to the maximum.
REOPEN_FIRST_S = 0.5
REOPEN_MAX_S = 8.0
# A wait for a read looks at stop requests this often.
READ_POLL_S = 0.1
# When a source is released, a read in progress gets this long to return so the source is
# closed before the caller goes on; a driver stuck longer closes it once the read returns.
CLOSE_WAIT_S = 0.5


class _ReadTimedOut(Exception):
    """The read deadline passed (or capture is stopping): not a source's own TimeoutError."""


class _SourceReader:
    """One source and the helper thread its ``read_into`` calls run on.

    Only the helper thread touches the source once it has started, so the source is never
    closed while a read is in progress: ``close`` closes it at once when no read is, or as
    soon as the read in progress returns. One read at a time, started by ``start_read`` and
    collected by ``result``; a read that raises re-raises in ``result``.
    """

    def __init__(self, source: Source, clock: Clock = SYSTEM_CLOCK) -> None:
        self.source = source
        self._clock = clock
        self._changed = threading.Condition()
        self._job: np.ndarray | None = None
        self._result: bool | BaseException | None = None
        self._closing = False
        self._started = False
        self._thread = threading.Thread(target=self._run, name="vbgcam-capture-read", daemon=True)

    def start_read(self, frame_bgr: np.ndarray) -> None:
        with self._changed:
            if self._closing:
                raise RuntimeError("start_read() after close()")
            self._job = frame_bgr
            self._result = None
            self._changed.notify_all()
        if not self._started:
            self._started = True
            self._thread.start()

    def result(self, timeout_s: float) -> bool | None:
        """What ``read_into`` returned, or None when it has not returned within the timeout."""
        with self._changed:
            if not self._clock.wait_for(self._changed, lambda: self._result is not None, timeout_s):
                return None
            result, self._result = self._result, None
        if isinstance(result, BaseException):
            raise result
        return result

    def close(self, wait_s: float) -> bool:
        """Close the source now, or after the read in progress; idempotent.

        Waits up to ``wait_s`` for that; True when the source is closed and the helper thread
        has ended, False when a stuck read keeps both until it returns.
        """
        with self._changed:
            already = self._closing
            self._closing = True
            self._changed.notify_all()
        if not self._started:
            if not already:
                self._close_source()
            return True
        self._thread.join(wait_s)
        return not self._thread.is_alive()

    def _close_source(self) -> None:
        try:
            self.source.close()
        except Exception as exc:  # a driver that fails to close must not end capture
            log.warning("closing %s failed: %s", self.source.description, exc)

    def _run(self) -> None:
        try:
            while True:
                with self._changed:
                    self._changed.wait_for(lambda: self._job is not None or self._closing)
                    if self._closing:
                        return
                    frame_bgr, self._job = self._job, None
                assert frame_bgr is not None
                result: bool | BaseException
                try:
                    result = self.source.read_into(frame_bgr)
                except BaseException as exc:  # re-raised on the capture thread by result()
                    result = exc
                with self._changed:
                    self._result = result
                    self._changed.notify_all()
        finally:
            self._close_source()


class CaptureThread:
    """Owns the source while running; ``captured`` counts committed frames.

    While ``paused`` the source is closed (a webcam's light goes off) and, when a
    ``reopen`` factory was given, opened afresh on resume; without one it is kept open and
    simply not read. A source that cannot be reopened is retried with a growing delay.
    Without a reopen factory a source that stops delivering is waited for, however long.
    """

    def __init__(
        self,
        source: Source,
        frames: RingBuffer,
        clock: Clock = SYSTEM_CLOCK,
        reopen: Callable[[], Source] | None = None,
        on_lost: Callable[[bool], None] = lambda lost: None,
    ) -> None:
        self._reader: _SourceReader | None = _SourceReader(source, clock)
        self._stuck: _SourceReader | None = None
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
        self._started = False
        self._thread = threading.Thread(target=self.run, name="vbgcam-capture", daemon=True)

    @property
    def source(self) -> Source | None:
        """The source being read, None while paused or lost."""
        return self._reader.source if self._reader is not None else None

    def start(self) -> None:
        self._started = True
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop capturing and release the source; idempotent.

        A read stuck in a driver is not waited for beyond ``CLOSE_WAIT_S``: its helper
        thread closes the source once the read returns.
        """
        self.request_stop()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if not self._started:
            self._release(0.0)

    def request_stop(self) -> None:
        """Ask the loop to end at its next wait, from any thread; returns at once."""
        self._stop.set()
        self._wake.set()

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
        self.clock.wait(self._wake, seconds)
        self._wake.clear()
        return self._stop.is_set()

    def _release(self, wait_s: float) -> None:
        """Close the source (or leave a stuck read to close it) and forget it."""
        if self._reader is not None:
            if not self._reader.close(wait_s):
                self._stuck = self._reader  # reopened only once its read has returned
            self._reader = None

    def _still_stuck(self) -> bool:
        """Whether an abandoned read is still inside the driver: opening the camera again
        then would leave one more stuck thread and handle per attempt."""
        if self._stuck is not None and self._stuck.close(0.0):
            self._stuck = None
        return self._stuck is not None

    def _hold_while_paused(self) -> None:
        if self.reopen is not None and self._reader is not None:
            log.info("paused: %s released", self._reader.source.description)
            self._release(CLOSE_WAIT_S)
        while self.paused.is_set() and not self._stop.is_set():
            self._sleep(1.0)
        self._reopen_with_backoff()

    def _reopen_with_backoff(self) -> None:
        """Open the source again, waiting longer after each failure; one warning per outage."""
        wait_s = REOPEN_FIRST_S
        warned = False
        while self._reader is None and not self._stop.is_set() and not self.paused.is_set():
            if self.reopen is None:
                return
            try:
                if self._still_stuck():
                    raise OSError("its last read has not returned from the driver")
                source = self.reopen()
            except (SourceError, OSError, cv2.error) as exc:  # unplugged, or taken meanwhile
                # Anything else (a TypeError in the factory) is a bug, not an outage: it ends
                # capture and surfaces, instead of being retried for ever.
                if not warned:
                    log.warning("cannot reopen the camera yet (%s); retrying", exc)
                    warned = True
                    if not self.lost:  # e.g. after a resume: show the card meanwhile
                        self.lost = True
                        self.on_lost(True)
                self._sleep(wait_s)
                wait_s = min(2 * wait_s, REOPEN_MAX_S)
                continue
            if self._stop.is_set():  # stopped while a slow camera was opening
                _SourceReader(source).close(0.0)
                return
            self._reader = _SourceReader(source, self.clock)
            log.info("camera back: %s", source.description)

    def _lose(self, silent_s: float, read_hangs: bool) -> None:
        """The source stopped delivering: say so once, release it, and reopen it later."""
        assert self._reader is not None
        if read_hangs:
            log.warning(
                "%s: a read has not returned for %.1f s (stalled driver): showing the "
                "'camera unavailable' card and reopening it",
                self._reader.source.description,
                silent_s,
            )
        else:
            log.warning(
                "%s gave no frame for %.1f s: showing the 'camera unavailable' card and "
                "reopening it",
                self._reader.source.description,
                silent_s,
            )
        self.lost = True
        self.on_lost(True)
        # A hung read is not waited for: the helper thread closes the source once it returns.
        self._release(0.0 if read_hangs else CLOSE_WAIT_S)

    def _read(self, reader: _SourceReader, frame_bgr: np.ndarray, deadline: float | None) -> bool:
        """Read one frame on the helper thread, waiting until ``deadline`` at most.

        Returns what the source returned; raises ``_ReadTimedOut`` when the read is still
        running at the deadline or when capture is stopping.
        """
        reader.start_read(frame_bgr)
        while True:
            now = self.clock.now()
            wait_s = READ_POLL_S if deadline is None else min(READ_POLL_S, deadline - now)
            result = reader.result(max(0.0, wait_s))
            if result is not None:
                return result
            if self._stop.is_set() or (deadline is not None and self.clock.now() >= deadline):
                raise _ReadTimedOut

    def run(self) -> None:
        """The capture loop, on the calling thread (``start`` runs it on its own)."""
        failures = 0
        start, count = self.clock.now(), 0
        last_frame_at = self.clock.now()
        try:
            while not self._stop.is_set():
                if self.paused.is_set() or self._reader is None:
                    self._hold_while_paused()
                    start, count = self.clock.now(), 0
                    last_frame_at = self.clock.now()
                    continue
                reader = self._reader
                source = reader.source
                if not source.paces_itself:
                    delay = start + count / source.fps - self.clock.now()
                    if delay > 0 and self._sleep(delay):
                        break
                deadline = None
                if self.reopen is not None:
                    # Three frame periods at least: a 1 fps camera is slow, not lost.
                    three_frames_s = 3.0 / max(source.fps, 0.1)
                    allowed_s = LOST_AFTER_S if count else FIRST_FRAME_WITHIN_S
                    deadline = last_frame_at + max(allowed_s, three_frames_s)
                    if self.clock.now() >= deadline:
                        self._lose(self.clock.now() - last_frame_at, read_hangs=False)
                        continue
                slot, image = self.frames.begin_write()
                try:
                    ok = self._read(reader, image, deadline)
                except _ReadTimedOut:
                    # The read may still write into this slot: give the ring a fresh one.
                    self.frames.abandon_write(slot)
                    if self._stop.is_set():
                        break
                    self._lose(self.clock.now() - last_frame_at, read_hangs=True)
                    continue
                if ok:
                    self.frames.commit(slot, self.clock.now())
                    self.captured += 1
                    count += 1
                    failures = 0
                    last_frame_at = self.clock.now()
                    if self.lost:
                        self.lost = False
                        self.on_lost(False)
                    continue
                failures += 1
                if failures == STALL_REPORT_AFTER:
                    log.warning("%s delivers no frames; still trying", source.description)
                self._sleep(RETRY_DELAY_S)
        except BaseException as exc:
            self.error = exc
            log.debug("capture stopped by an error", exc_info=True)
        finally:
            self._release(CLOSE_WAIT_S)
