"""Whether frames that stopped moving call for a rebuild of the producer, or for patience.

A rebuild takes the node away from whoever is linked to it, and an app that loses its camera
in a call does not get it back by itself. So a stall alone never rebuilds: PipeWire is asked
who is linked (``links.py``), and

- nobody linked: the producer is stuck with no one to cut off (PipeWire 0.3 after a stalled
  consumer is killed): rebuild at once;
- only consumers that linked after frames stopped, for longer than ``new_link_grace_s``: they
  met a stuck producer and get nothing: rebuild, it is their only way to a frame;
- a consumer that was linked before frames stopped: it is busy, or not scheduled on a loaded
  machine, or vbgcam or gst-launch is not: wait, up to ``hung_s``. After that the stream is
  taken as frozen: Debian 12's ``pipewiresink`` (PipeWire 0.3.65) never drives the graph again
  once a consumer has held all its buffers, even when the consumer reads again (seen here with
  a consumer that stopped reading for 2 s), so only a rebuild brings frames back;
- PipeWire cannot be asked (no ``pw-dump``, a daemon that does not answer): rebuild, as
  before this check existed.

Time comes from the caller, so the rules are tested on a fake clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

# PipeWire is asked at most this often while frames stay stopped (10 ms of CPU each here).
CHECK_EVERY_S = 0.5
NEW_LINK_GRACE_S = 1.0
HUNG_S = 3.0


class StallJudge:
    """Fed ``stalled`` on every watchdog tick; returns the reason to rebuild, or None."""

    def __init__(
        self,
        consumers: Callable[[], dict[int, str] | None],
        check_every_s: float = CHECK_EVERY_S,
        new_link_grace_s: float = NEW_LINK_GRACE_S,
        hung_s: float = HUNG_S,
    ) -> None:
        self.consumers = consumers
        self.check_every_s = check_every_s
        self.new_link_grace_s = new_link_grace_s
        self.hung_s = hung_s
        self.waits = 0  # stalls that ended without a rebuild: what the old watchdog cut off
        self._since: float | None = None
        self._before: set[int] = set()
        self._first_seen: dict[int, float] = {}
        self._checked_at = 0.0
        self._told: set[str] = set()

    def verdict(self, symptom: str | None, now: float, ask_now: bool = False) -> str | None:
        """``symptom`` says how frames stopped (None while they move); ``ask_now`` asks
        PipeWire before the next regular check (the stream state just changed, as it does
        when a consumer leaves)."""
        if symptom is None:
            if self._since is not None:
                self.waits += 1
            self._since = None
            return None
        if self._since is None:
            self._since = now
            found = self.consumers()
            self._checked_at = now
            if found is None:
                return f"{symptom} (PipeWire cannot say who is linked)"
            self._before = set(found)
            self._first_seen = {}
        elif ask_now or now - self._checked_at >= self.check_every_s:
            found = self.consumers()
            self._checked_at = now
            if found is None:
                return f"{symptom} (PipeWire cannot say who is linked)"
        else:
            return None
        return self._judge(symptom, found, now)

    def _judge(self, symptom: str, found: dict[int, str], now: float) -> str | None:
        assert self._since is not None
        if not found:
            return f"{symptom} and no app is linked (the producer is stuck)"
        waiting_on = {link: name for link, name in found.items() if link in self._before}
        if not waiting_on:
            for link in found:
                self._first_seen.setdefault(link, now)
            if now - min(self._first_seen[link] for link in found) >= self.new_link_grace_s:
                return f"{symptom}; the app that linked since gets none"
            return None
        stalled_s = now - self._since
        names = ", ".join(sorted(set(waiting_on.values())))
        if stalled_s >= self.hung_s:
            return f"{symptom}: {names} took no frame for {stalled_s:.0f} s (the stream is frozen)"
        if names not in self._told:
            self._told.add(names)
            log.info(
                "%s is linked to the camera but takes no frames (a busy or frozen app); "
                "waiting for it instead of restarting the camera",
                names,
            )
        return None
