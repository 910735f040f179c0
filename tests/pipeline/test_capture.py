"""The capture thread's timing rules, on a simulated clock (``tests/clock.py``): a file plays
at its own rate without drift, a slow camera is not taken for a lost one, a camera that
stops is declared lost after its deadline and reopened with a growing wait. The reads run on
the real helper thread; only time is simulated. Hung reads and real cameras are in
``test_faults.py`` (real time)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tests.clock import SimulatedClock
from vbgcam.errors import SourceError
from vbgcam.pipeline.capture import (
    FIRST_FRAME_WITHIN_S,
    LOST_AFTER_S,
    REOPEN_FIRST_S,
    REOPEN_MAX_S,
    RETRY_DELAY_S,
    CaptureThread,
)
from vbgcam.pipeline.ringbuffer import RingBuffer

SHAPE = (4, 4, 3)


class SimulatedSource:
    """A camera (``paces_itself``: a read blocks until the next frame) or a file (a read
    returns at once, after ``read_s``). ``delivers(n)`` says whether read n gives a frame;
    ``read_s(n)`` how long read n takes."""

    description = "simulated camera"

    def __init__(
        self,
        clock: SimulatedClock,
        fps: float,
        paces_itself: bool = True,
        delivers: Callable[[int], bool] = lambda n: True,
        read_s: Callable[[int], float] | None = None,
    ) -> None:
        self.clock = clock
        self.fps = fps
        self.paces_itself = paces_itself
        self.delivers = delivers
        self.read_s = read_s or ((lambda n: 1 / fps) if paces_itself else (lambda n: 0.0))
        self.read_starts: list[float] = []
        self.closed = False

    def read_into(self, frame_bgr: np.ndarray) -> bool:
        n = len(self.read_starts)
        self.read_starts.append(self.clock.now())
        self.clock.advance(self.read_s(n))
        return self.delivers(n)

    def close(self) -> None:
        self.closed = True


def capture_for(
    seconds: float,
    source: SimulatedSource,
    clock: SimulatedClock,
    reopen: Callable[[], SimulatedSource] | None = None,
) -> tuple[CaptureThread, list[tuple[float, bool]]]:
    lost: list[tuple[float, bool]] = []
    capture = CaptureThread(
        source,
        RingBuffer(SHAPE, clock=clock),
        clock,
        reopen=reopen,
        on_lost=lambda is_lost: lost.append((clock.now(), is_lost)),
    )
    clock.call_at(clock.now() + seconds, capture.request_stop)
    capture.run()
    assert capture.error is None
    return capture, lost


def test_a_file_plays_at_its_own_rate_without_drift() -> None:
    """Reads that take 7 ms do not add up: frames are read on absolute deadlines."""
    clock = SimulatedClock(settle_s=5.0)
    start = clock.now()
    source = SimulatedSource(clock, 25.0, paces_itself=False, read_s=lambda n: 0.007)
    capture, _ = capture_for(10.0, source, clock)
    expected = [start + k / 25.0 for k in range(len(source.read_starts))]
    assert source.read_starts == pytest.approx(expected, abs=1e-9)
    assert capture.captured == pytest.approx(250, abs=1)


def test_a_one_fps_camera_is_slow_not_lost() -> None:
    clock = SimulatedClock(settle_s=5.0)
    source = SimulatedSource(clock, 1.0)
    capture, lost = capture_for(12.0, source, clock, reopen=lambda: source)
    assert lost == []
    assert capture.captured == pytest.approx(12, abs=1)


def test_a_camera_that_stops_is_lost_after_the_deadline_and_reopened_ever_more_slowly() -> None:
    clock = SimulatedClock(settle_s=5.0)
    start = clock.now()
    camera = SimulatedSource(clock, 30.0, delivers=lambda n: n < 30)  # fails from 1 s on
    attempts: list[float] = []

    def reopen() -> SimulatedSource:
        attempts.append(clock.now())
        if len(attempts) < 7:
            raise SourceError("unplugged")
        return SimulatedSource(clock, 30.0)

    capture, lost = capture_for(40.0, camera, clock, reopen)
    last_frame_at = start + 30 / 30.0
    assert lost[0][1] is True
    # Seen at the first check after the deadline: within one failed read and its retry wait.
    assert (
        last_frame_at + LOST_AFTER_S
        <= lost[0][0]
        <= last_frame_at + LOST_AFTER_S + (1 / 30.0 + RETRY_DELAY_S)
    )
    assert camera.closed
    waits = np.diff(attempts)
    expected = [min(REOPEN_FIRST_S * 2**i, REOPEN_MAX_S) for i in range(len(waits))]
    assert waits == pytest.approx(expected, abs=0.01)
    assert lost[-1] == (pytest.approx(attempts[-1] + 1 / 30.0, abs=0.01), False), "back"
    assert capture.captured > 30


def test_the_first_frame_after_opening_may_take_longer_than_a_lost_camera_gets() -> None:
    """Some UVC cameras need over a second for their first frame (exposure settling)."""
    clock = SimulatedClock(settle_s=5.0)
    first_s = FIRST_FRAME_WITHIN_S - 0.5
    camera = SimulatedSource(clock, 30.0, read_s=lambda n: first_s if n == 0 else 1 / 30.0)
    _, lost = capture_for(5.0, camera, clock, reopen=lambda: camera)
    assert lost == []
    assert camera.read_starts[1] == pytest.approx(camera.read_starts[0] + first_s)


def test_a_source_without_a_reopen_is_waited_for_however_long() -> None:
    clock = SimulatedClock(settle_s=5.0)
    camera = SimulatedSource(clock, 30.0, read_s=lambda n: 5.0 if n == 10 else 1 / 30.0)
    capture, lost = capture_for(8.0, camera, clock)
    assert lost == []
    assert capture.captured > 30
