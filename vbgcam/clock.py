"""Time as a seam: every thread that paces itself or waits with a deadline asks a ``Clock``.

The live path's timing rules (the sender's fixed rate and phase lock, the ring's ready
stamps, the camera's pacing and lost deadline) are written against this protocol, so tests
drive them on a simulated clock in microseconds instead of sleeping for seconds, and the
daemon runs them on ``SYSTEM_CLOCK``: ``time.monotonic`` and real waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale (only differences mean anything)."""
        ...

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        """Wait until ``event`` is set or ``timeout_s`` passed; whether it is set."""
        ...

    def wait_for(
        self,
        condition: threading.Condition,
        predicate: Callable[[], bool],
        timeout_s: float | None,
    ) -> bool:
        """``condition.wait_for``: called with ``condition`` held, waits (releasing it) until
        ``predicate()`` holds or ``timeout_s`` passed (None: no limit); the predicate's last
        value."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and the threading primitives' own waits."""

    def now(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        return event.wait(max(0.0, timeout_s))

    def wait_for(
        self,
        condition: threading.Condition,
        predicate: Callable[[], bool],
        timeout_s: float | None,
    ) -> bool:
        return condition.wait_for(predicate, None if timeout_s is None else max(0.0, timeout_s))


SYSTEM_CLOCK: Clock = SystemClock()
