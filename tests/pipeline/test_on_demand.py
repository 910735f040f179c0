"""On-demand's rule, on a simulated clock: the camera is released once no app has watched
for ``linger_s``, and taken back as soon as one looks again; a viewer who blinks away for
less than that keeps it. The real consumers (v4l2 readers, PipeWire apps) are in
``test_live.py`` and ``test_pipewire.py``."""

from __future__ import annotations

import pytest

from tests.clock import SimulatedClock
from vbgcam.pipeline.on_demand import PROBE_EVERY_S, ConsumerWatch


def watch_over(watching: list[tuple[float, float]], seconds: float, linger_s: float = 3.0):
    """When ``on_change`` fired (seconds from start) while apps watched during ``watching``."""
    clock = SimulatedClock()
    start = clock.now()
    changes: list[tuple[float, bool]] = []
    watch = ConsumerWatch(
        None,
        lambda watched: changes.append((clock.now() - start, watched)),
        linger_s=linger_s,
        clock=clock,
        probe=lambda: any(a <= clock.now() - start < b for a, b in watching),
    )
    clock.call_at(start + seconds, watch.close)
    watch.run()
    return changes


def test_the_camera_is_released_after_the_linger_and_taken_back_at_once() -> None:
    changes = watch_over([(0, 5), (20, 30)], 40, linger_s=3.0)
    assert changes == [
        (pytest.approx(8, abs=PROBE_EVERY_S), False),
        (pytest.approx(20, abs=PROBE_EVERY_S), True),
        (pytest.approx(33, abs=PROBE_EVERY_S), False),
    ]


def test_a_viewer_who_looks_away_for_less_than_the_linger_keeps_the_camera() -> None:
    assert watch_over([(0, 5), (7, 30)], 30, linger_s=3.0) == []


def test_nobody_watching_from_the_start_releases_after_the_linger() -> None:
    assert watch_over([], 10, linger_s=3.0) == [(pytest.approx(3, abs=PROBE_EVERY_S), False)]
