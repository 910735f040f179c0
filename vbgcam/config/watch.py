"""Reloads the config file while vbgcam runs: on every saved edit, and on SIGHUP.

Polling the file's modification time and size four times a second costs nothing measurable
and works on every filesystem and editor (some replace the file, some rewrite it in place),
where inotify watches would need re-arming after a rename. A valid edit is applied within
half a second; an invalid one is logged with its reason and the running settings stay.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vbgcam.config.settings import Settings, load_settings
from vbgcam.errors import VbgcamError

log = logging.getLogger(__name__)

POLL_S = 0.25


class ConfigWatcher:
    """Calls ``apply(settings)`` with the file's settings (flags still on top) on change."""

    def __init__(
        self,
        path: Path,
        flags: Mapping[str, Any],
        apply: Callable[[Settings], None],
    ) -> None:
        self.path = path
        self.flags = dict(flags)
        self.apply = apply
        self._stamp = self._read_stamp()
        self._requested: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vbgcam-config", daemon=True)

    def _read_stamp(self) -> tuple[int, int] | None:
        try:
            status = self.path.stat()
        except OSError:
            return None
        return status.st_mtime_ns, status.st_size

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)

    def reload(self, reason: str = "changed") -> bool:
        """Read and apply the file now; False (and one log line) when it is not valid."""
        try:
            settings = load_settings(self.path, self.flags)
            self.apply(settings)
        except VbgcamError as exc:
            log.warning("%s %s but was not applied: %s", self.path, reason, exc)
            return False
        except Exception:  # a bug must not end live reloading for the rest of the call
            log.exception("%s %s but applying it failed", self.path, reason)
            return False
        log.info("%s %s: settings applied", self.path, reason)
        return True

    def request_reload(self, reason: str) -> None:
        """Reload soon, from the watcher's thread: safe to call from a signal handler."""
        self._requested = reason

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            requested, self._requested = self._requested, None
            if requested:
                self.reload(requested)
                continue
            stamp = self._read_stamp()
            if stamp is not None and stamp != self._stamp:
                self._stamp = stamp
                self.reload()
