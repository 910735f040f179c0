"""On-demand capture (Linux): know whether any application has the virtual camera open.

inotify on the loopback device node says *that* something opened or closed it, instantly;
a scan of ``/proc/*/fd`` then says *whether* a process other than ours still holds it. An
app that polls the device (opens and closes it every second or so) must not make vbgcam
start and stop the webcam each time, so "nobody watching" is only reported after
``linger_s`` seconds without a consumer, while a new consumer is reported at once.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import threading
from collections.abc import Callable
from pathlib import Path

from vbgcam.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

IN_OPEN = 0x00000020
IN_CLOSE_WRITE = 0x00000008
IN_CLOSE_NOWRITE = 0x00000010
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
# Without inotify events (none arrive on some filesystems) the scan still runs this often.
RESCAN_S = 2.0
# A probe (the PipeWire camera's stream state) costs nothing to ask: ask it often.
PROBE_EVERY_S = 0.25


def processes_holding(device: Path, exclude_pid: int | None = None) -> set[int]:
    """PIDs (other than ``exclude_pid``) with ``device`` open, from ``/proc``.

    Processes we may not inspect are skipped: they are not ours to count.
    """
    target = os.path.realpath(device)
    holders: set[int] = set()
    with os.scandir("/proc") as processes:
        for entry in processes:
            if not entry.name.isdigit() or int(entry.name) == exclude_pid:
                continue
            try:
                # Closed on the way out, also when left early: an open scandir iterator holds
                # a file descriptor until the garbage collector finds it.
                with os.scandir(f"/proc/{entry.name}/fd") as descriptors:
                    if any(os.readlink(fd.path) == target for fd in descriptors):
                        holders.add(int(entry.name))
            except OSError:
                continue
    return holders


class _Inotify:
    """A minimal inotify watch through libc (the standard library has none)."""

    def __init__(self, path: Path, mask: int) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        if libc.inotify_add_watch(self.fd, os.fsencode(path), mask) < 0:
            os.close(self.fd)
            raise OSError(ctypes.get_errno(), f"cannot watch {path}")

    def wait(self, timeout_s: float) -> bool:
        """True when events arrived (they are drained)."""
        ready, _, _ = select.select([self.fd], [], [], timeout_s)
        if not ready:
            return False
        try:
            while os.read(self.fd, 4096):
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        os.close(self.fd)


class DeviceHolders:
    """Whether a process other than ours holds a loopback device open, looked up in /proc
    only when inotify says the device was opened or closed, or every ``RESCAN_S`` (a full
    /proc scan costs milliseconds on a desktop; asking four times a second must not)."""

    def __init__(self, device: Path, clock: Clock = SYSTEM_CLOCK) -> None:
        self.device = device
        self.clock = clock
        self._held = False
        self._scanned_at: float | None = None
        self._events: _Inotify | None = None
        try:
            self._events = _Inotify(device, IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE)
        except OSError as exc:
            log.info("no inotify on %s (%s); checking every %g s", device, exc, RESCAN_S)

    def seen(self) -> bool:
        now = self.clock.now()
        changed = self._events is not None and self._events.wait(0)
        if changed or self._scanned_at is None or now - self._scanned_at >= RESCAN_S:
            self._held = bool(processes_holding(self.device, exclude_pid=os.getpid()))
            self._scanned_at = now
        return self._held

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None


class ConsumerWatch:
    """Calls ``on_change(True)`` when a consumer appears, ``on_change(False)`` once none has
    been seen for ``linger_s``. Starts by assuming a consumer, so nothing is released before
    the first look."""

    def __init__(
        self,
        device: Path | None,
        on_change: Callable[[bool], None],
        linger_s: float = 3.0,
        clock: Clock = SYSTEM_CLOCK,
        probe: Callable[[], bool] | None = None,
    ) -> None:
        """Watches who holds ``device`` open (v4l2loopback), or asks ``probe`` four times a
        second (the PipeWire camera: is a consumer linked?)."""
        if device is None and probe is None:
            raise ValueError("ConsumerWatch needs a device or a probe")
        self.device = device
        self.probe = probe
        self.on_change = on_change
        self.linger_s = linger_s
        self.clock = clock
        self.watching = True
        self._last_seen = clock.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="vbgcam-on-demand", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)

    def _seen(self) -> bool:
        if self.probe is not None:
            return self.probe()
        assert self.device is not None
        return bool(processes_holding(self.device, exclude_pid=os.getpid()))

    def _look(self) -> None:
        now = self.clock.now()
        if self._seen():
            self._last_seen = now
            if not self.watching:
                self.watching = True
                self._report(True)
        elif self.watching and now - self._last_seen >= self.linger_s:
            self.watching = False
            self._report(False)

    def _report(self, watched: bool) -> None:
        try:
            self.on_change(watched)
        except Exception:  # keep watching: the next change must still get through
            log.exception("on-demand: acting on %s failed", "a viewer" if watched else "none")

    def run(self) -> None:
        """The watch loop, on the calling thread until ``close`` (``start``: its own)."""
        events: _Inotify | None = None
        rescan_s = PROBE_EVERY_S if self.probe is not None else RESCAN_S
        if self.device is not None and self.probe is None:
            try:
                events = _Inotify(self.device, IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE)
            except OSError as exc:
                log.info("no inotify on %s (%s); checking every %g s", self.device, exc, RESCAN_S)
        try:
            while not self._stop.is_set():
                self._look()
                # While someone watches, look again once the linger time could have run out.
                timeout = min(rescan_s, self.linger_s / 2) if self.watching else rescan_s
                if events is not None:
                    events.wait(timeout)
                else:
                    self.clock.wait(self._stop, timeout)
        finally:
            if events is not None:
                events.close()
