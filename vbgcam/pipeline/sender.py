"""The fixed-rate sender: the virtual camera gets a frame every period, whatever upstream does.

Apps treat a camera that stops delivering as frozen or gone, so when no new composited frame
is ready the last one is sent again. Ticks are absolute deadlines (``start + n * period``) on
the monotonic clock, so the rate does not drift; a tick missed by more than a period is
skipped, not sent in a burst.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Sequence

import numpy as np

from vbgcam.clock import SYSTEM_CLOCK, Clock
from vbgcam.errors import OutputError
from vbgcam.outputs import FrameSink
from vbgcam.pipeline.ringbuffer import FrameRef, RingBuffer

log = logging.getLogger(__name__)

# Wait this long for the first composited frame before sending black, so a recording starts
# with a real picture but an app never waits on a silent camera.
FIRST_FRAME_WAIT_S = 1.0
IDLE_PERIOD_S = 1.0
# Phase lock: aim to send this long after a frame is ready; move the schedule by at most
# this share of a period per tick; and this much later after a tick with no new frame.
PHASE_MARGIN_S = 0.002
PHASE_STEP_LIMIT = 0.1
PHASE_LATE_STEP_S = 0.001
# ...and wait up to this share of a period for a frame that is not there yet at a tick. Half
# a period, because a budgeted network (RVM) makes compose time bimodal (4 ms carried, 14-20
# ms a network run): the ticks lock onto the fast frames and a network frame lands after its
# tick. With a quarter, 5 % of the frames on a clip here went out a period late after the
# last one was sent again (latency p99 36 ms, 21 repeats in 400 frames); with half, p99 23 ms
# and one repeat.
PHASE_GRACE = 0.5
# A failing sink counts as working again after this long without a failure; until then its
# failures are counted, not logged, so a sink that fails every fifth write is logged once.
RECOVERED_AFTER_S = 5.0


class FrameSender:
    """Takes the newest frame from ``frames`` every ``1 / fps`` and sends it to each sink.

    Runs in its own thread between ``start`` and ``stop``. ``finished`` is set when
    ``max_frames`` have been sent or when a sink failed (``error`` then holds why).
    """

    def __init__(
        self,
        frames: RingBuffer,
        sinks: Sequence[FrameSink],
        fps: float,
        max_frames: int | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.frames = frames
        self.sinks = list(sinks)
        self.period_s = 1.0 / fps
        self.max_frames = max_frames
        self.clock = clock
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.sent = 0
        self.repeated = 0
        self.latencies_ms: deque[float] = deque(maxlen=300)
        # The frame being sent stays pinned in the ring until a newer one replaces it: no copy
        # (5.4 MB of memory traffic a 720p frame). Black until the first frame comes.
        self._held: FrameRef | None = None
        self._last = np.zeros(frames.shape, np.uint8)
        self._held_lock = threading.Lock()  # the swap against copy_last_frame() elsewhere
        self._last_seq = 0
        self.idle = False
        self.failed_sends = 0
        self._failing: dict[int, float] = {}  # id(sink) -> when it last failed
        self._failure_kinds: dict[int, set[str]] = {}  # id(sink) -> failures already logged
        self._misses = 0  # ticks in a row without a new frame
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="vbgcam-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def copy_last_frame(self) -> np.ndarray:
        """A copy of the frame last sent, from any thread (never half of two frames)."""
        with self._held_lock:
            return self._last.copy()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _take_newest(self, timeout_s: float) -> float | None:
        """Copy the newest composited frame, if there is one newer than the last sent;
        returns how long it had been waiting (seconds), or None when there was none."""
        if not self.frames.wait_for_newer(self._last_seq, timeout_s):
            return None
        with self._held_lock:
            ref = self.frames.acquire_newest(self._last_seq, 0, replacing=self._held)
            if ref is None:  # closed meanwhile
                return None
            self._held, self._last = ref, ref.image
        self._last_seq = ref.seq
        self.latencies_ms.append((self.clock.now() - ref.capture_ts) * 1e3)
        return max(0.0, self.clock.now() - ref.ready_ts)

    def _send(self, sink: FrameSink) -> None:
        """One sink's failure is reported once and retried with the next frame: the other
        sinks, and the call, go on."""
        try:
            sink.send(self._last)
        except OutputError as exc:
            self.failed_sends += 1
            # One line per sink and kind of failure: a sink that fails now and then is told
            # once, and a different failure of the same sink (the device vanished after a
            # few busy errors) is told too.
            kind = re.sub(r"\d+", "#", str(exc))  # "write 17 failed" is "write 18 failed"
            seen = self._failure_kinds.setdefault(id(sink), set())
            if kind not in seen:
                seen.add(kind)
                log.error("%s; retrying with every frame", exc)
            self._failing[id(sink)] = self.clock.now()
            return
        failed_at = self._failing.get(id(sink))
        if failed_at is not None and self.clock.now() - failed_at >= RECOVERED_AFTER_S:
            del self._failing[id(sink)]
            self._failure_kinds.pop(id(sink), None)
            log.info("the output works again: %s", getattr(sink, "device", type(sink).__name__))

    def _phase_step(self, waited_s: float | None) -> float:
        """How far to move the tick schedule so ticks land just after frames are ready.

        A frame that sat ready for a while is latency we added: move the ticks earlier.
        No new frame at a tick, after one that had a frame, means we came just too early:
        move them a little later. A stretch of ticks without frames is upstream stalling,
        not a phase error, and moves nothing (it would push the schedule a whole period
        late in a second, and the frames that follow would wait for it).
        Each step is at most a tenth of a period, so the output rate never jumps by more
        than 10 %, and the schedule stays locked to the camera (one frame of latency at
        most, usually a few milliseconds).
        """
        if self.idle:
            return 0.0
        limit = PHASE_STEP_LIMIT * self.period_s
        if waited_s is None:
            return min(PHASE_LATE_STEP_S, limit) if self._misses == 1 else 0.0
        if waited_s > PHASE_MARGIN_S:
            return -min((waited_s - PHASE_MARGIN_S) / 2, limit)
        return 0.0

    def run(self) -> None:
        """The send loop, on the calling thread (``start`` runs it on its own)."""
        try:
            self._take_newest(FIRST_FRAME_WAIT_S)
            start = self.clock.now()
            tick = 0
            while not self._stop.is_set():
                delay = start + tick * self.period_s - self.clock.now()
                if delay > 0 and self.clock.wait(self._stop, delay):
                    break
                waited_s = self._take_newest(0)
                if waited_s is None and self.sent and not self.idle and self._misses == 0:
                    # The frame is probably a moment away (compose time varies): a short
                    # wait costs a few ms on this send instead of a whole period of latency.
                    began = self.clock.now()
                    if self._take_newest(PHASE_GRACE * self.period_s) is not None:
                        start += min(self.clock.now() - began, PHASE_STEP_LIMIT * self.period_s)
                        waited_s = 0.0
                if waited_s is None and self.sent:
                    self.repeated += 1
                self._misses = self._misses + 1 if waited_s is None else 0
                start += self._phase_step(waited_s)
                for sink in self.sinks:
                    self._send(sink)
                self.sent += 1
                if self.max_frames is not None and self.sent >= self.max_frames:
                    break
                # Idle (no app watching): one frame a second keeps the device alive for
                # whoever opens it next, at almost no cost.
                tick += round(IDLE_PERIOD_S / self.period_s) if self.idle else 1
                behind = self.clock.now() - (start + tick * self.period_s)
                if behind > self.period_s:
                    tick += int(behind / self.period_s)
        except BaseException as exc:  # surfaced by the pipeline, with its cause
            self.error = exc
            log.debug("sender stopped by an error", exc_info=True)
        finally:
            self.finished.set()
