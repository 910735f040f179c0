"""A simulated clock for the live path's timing rules (``vbgcam.clock.Clock``).

Single-threaded discrete-event time: the code under test runs on the test's thread and,
whenever it waits, the clock jumps to the next scheduled event (a camera frame becoming
ready, a stop request) or to the end of the wait, whichever comes first. Nothing sleeps, so
a minute of a 30 fps camera takes milliseconds and every run gives the same numbers.

Code that hands work to a real helper thread (the capture thread's reader) waits for it
with ``wait_for``: with ``settle_s`` the clock first gives the helper up to that many real
seconds to finish before simulated time moves on, so a helper that returns at once (or that
advances the clock itself, as a camera blocking until its next frame) is always waited for.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable


class SimulatedClock:
    def __init__(self, start_s: float = 1000.0, settle_s: float = 0.0) -> None:
        self.t = start_s
        self.settle_s = settle_s
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()

    # --- the Clock protocol

    def now(self) -> float:
        return self.t

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        deadline = self.t + max(0.0, timeout_s)
        while not event.is_set() and self._run_next_until(deadline):
            pass
        if not event.is_set():
            self.t = max(self.t, deadline)
        return event.is_set()

    def wait_for(
        self,
        condition: threading.Condition,
        predicate: Callable[[], bool],
        timeout_s: float | None,
    ) -> bool:
        deadline = float("inf") if timeout_s is None else self.t + max(0.0, timeout_s)
        while not predicate():
            if self.settle_s > 0 and condition.wait_for(predicate, self.settle_s):
                return True
            # The events run as other threads would: without the waiter's lock.
            condition.release()
            try:
                ran = self._run_next_until(deadline)
            finally:
                condition.acquire()
            if not ran:
                if deadline == float("inf"):
                    raise AssertionError("waiting for ever: nothing is scheduled")
                self.t = max(self.t, deadline)
                return predicate()
        return True

    # --- driving it

    def call_at(self, when_s: float, action: Callable[[], None]) -> None:
        """Run ``action`` when simulated time reaches ``when_s``."""
        heapq.heappush(self._events, (when_s, next(self._order), action))

    def advance(self, seconds: float) -> None:
        """Time passes inside the code under test (a slow write): due events run."""
        deadline = self.t + seconds
        while self._run_next_until(deadline):
            pass
        self.t = max(self.t, deadline)

    def _run_next_until(self, deadline: float) -> bool:
        if not self._events or self._events[0][0] > deadline:
            return False
        when, _, action = heapq.heappop(self._events)
        self.t = max(self.t, when)
        action()
        return True
