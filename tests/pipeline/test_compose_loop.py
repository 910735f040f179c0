"""The compose thread's rules, on a simulated clock: a replacement compositor takes over at
the next frame, a gap in the camera's frames restarts the stream (RVM's recurrence, the
matte's smoothing), a frame captured as the camera pauses is dropped and the pause picture
goes out once, a failing stage sends the camera picture and is logged once."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

from tests.clock import SimulatedClock
from vbgcam.pipeline.compose_loop import HISTORY_GAP_S, ComposeThread
from vbgcam.pipeline.ringbuffer import RingBuffer

SHAPE = (4, 4, 3)
FPS = 30.0


class MarkingCompositor:
    """Writes its mark into the output; counts stream restarts; raises when told to."""

    def __init__(self, mark: int, fails: bool = False) -> None:
        self.mark = mark
        self.fails = fails
        self.restarts = 0
        self.frames = 0

    def compose(self, frame_bgr: np.ndarray, t_s: float, dst: np.ndarray) -> None:
        self.frames += 1
        if self.fails:
            raise RuntimeError(f"model failed on frame {self.frames}")
        dst[:] = self.mark

    def restart_stream(self) -> None:
        self.restarts += 1


class Outputs:
    """Everything the compose thread commits, in order."""

    def __init__(self, ring: RingBuffer) -> None:
        self.ring = ring
        self.values: list[int] = []
        self._seq = 0

    def collect(self) -> None:
        ref = self.ring.acquire_newest(self._seq, 0)
        if ref is not None:
            self.values.append(int(ref.image[0, 0, 0]))
            self._seq = ref.seq
            self.ring.release(ref)


def camera(clock: SimulatedClock, ring: RingBuffer, times_s: list[float], outputs: Outputs) -> None:
    """Camera frames (value 7) captured at ``times_s`` from now, ready 5 ms later; the
    outputs are collected just before each next frame."""
    start = clock.now()

    def commit(captured: float) -> None:
        outputs.collect()
        slot, image = ring.begin_write()
        image[:] = 7
        ring.commit(slot, captured)

    for t in times_s:
        clock.call_at(start + t + 0.005, lambda t=t: commit(start + t))


def run_loop(
    compositor: Any, times_s: list[float], paused: bool = False, until_s: float | None = None
) -> tuple[ComposeThread, Outputs, SimulatedClock]:
    clock = SimulatedClock()
    frames = RingBuffer(SHAPE, clock=clock)
    out = RingBuffer(SHAPE, clock=clock)
    outputs = Outputs(out)
    loop = ComposeThread(frames, out, compositor, lambda: paused, lambda: False, clock)
    camera(clock, frames, times_s, outputs)
    end = clock.now() + (until_s if until_s is not None else times_s[-1] + 0.2)
    clock.call_at(end, outputs.collect)
    clock.call_at(end, loop.request_stop)
    loop.run()
    assert loop.error is None
    return loop, outputs, clock


def test_a_replacement_compositor_takes_over_at_the_next_frame() -> None:
    first, second = MarkingCompositor(1), MarkingCompositor(2)
    clock_times = [k / FPS for k in range(10)]
    clock = SimulatedClock()
    frames, out = RingBuffer(SHAPE, clock=clock), RingBuffer(SHAPE, clock=clock)
    outputs = Outputs(out)
    loop = ComposeThread(frames, out, first, lambda: False, lambda: False, clock)
    camera(clock, frames, clock_times, outputs)
    clock.call_at(clock.now() + 4.5 / FPS, lambda: loop.replace_compositor(second))
    clock.call_at(clock.now() + 0.5, outputs.collect)
    clock.call_at(clock.now() + 0.5, loop.request_stop)
    loop.run()
    assert outputs.values == [1] * 5 + [2] * 5
    assert loop.composed == 10 and loop.dropped == 0


def test_a_gap_in_the_camera_restarts_the_stream_once() -> None:
    compositor = MarkingCompositor(1)
    times = [k / FPS for k in range(5)] + [
        4 / FPS + HISTORY_GAP_S + 0.5 + k / FPS for k in range(5)
    ]
    loop, _, _ = run_loop(compositor, times)
    assert compositor.restarts == 1
    assert loop.composed == 10


def test_frames_at_the_camera_rate_never_restart_the_stream() -> None:
    compositor = MarkingCompositor(1)
    run_loop(compositor, [k / FPS for k in range(60)])
    assert compositor.restarts == 0


def test_while_paused_the_pause_picture_goes_out_once_and_frames_are_dropped() -> None:
    compositor = MarkingCompositor(1)
    clock = SimulatedClock()
    frames, out = RingBuffer(SHAPE, clock=clock), RingBuffer(SHAPE, clock=clock)
    outputs = Outputs(out)
    loop = ComposeThread(frames, out, compositor, lambda: True, lambda: False, clock)
    loop.show_while_gone(np.full(SHAPE, 9, np.uint8))
    camera(clock, frames, [k / FPS for k in range(5)], outputs)
    clock.call_at(clock.now() + 0.5, outputs.collect)
    clock.call_at(clock.now() + 0.5, loop.request_stop)
    loop.run()
    assert outputs.values == [9]
    assert compositor.frames == 0


def test_a_failing_stage_sends_the_camera_picture_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    compositor = MarkingCompositor(1, fails=True)
    with caplog.at_level(logging.ERROR, logger="vbgcam.pipeline.compose_loop"):
        loop, outputs, _ = run_loop(compositor, [k / FPS for k in range(20)])
    assert outputs.values == [7] * 20, "the camera picture goes out instead"
    assert loop.stage_failures == 20
    assert len(caplog.records) == 1
    assert "RuntimeError" in caplog.records[0].getMessage()
