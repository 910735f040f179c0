"""A folder of pictures as the background, cycled in name order (on a timer or on
command), each fitted once and the recent ones kept."""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from vbgcam.errors import BackgroundError
from vbgcam.file_kinds import IMAGE_SUFFIXES
from vbgcam.imaging import (
    fit_image,
    read_image,
)

log = logging.getLogger(__name__)


class FolderBackground:
    """The pictures of a folder in name order, one after another.

    The next one comes every ``interval_s`` seconds of scene time (0: only on ``advance``)
    and on ``advance``. Files that are not pictures by their suffix are skipped; a picture
    that fails to decode is skipped, with a warning, when its turn comes. Each picture is
    decoded and fitted when first shown, on that frame (6 ms for a 1920x1080 JPEG here,
    more for a large photo), and kept, the last ``CACHE_PICTURES`` of them, so a short
    cycle decodes each picture once. ``advance`` may come from any thread.
    """

    # 8 pictures at 1280x720 are 22 MB.
    CACHE_PICTURES = 8

    def __init__(
        self, folder: Path, size: tuple[int, int], fit: str = "cover", interval_s: float = 0.0
    ) -> None:
        if not folder.is_dir():
            raise BackgroundError(f"background folder {folder} does not exist")
        try:
            paths = sorted(
                entry
                for entry in folder.iterdir()
                if entry.suffix.lower() in IMAGE_SUFFIXES
                and not entry.name.startswith(".")
                and entry.is_file()
            )
        except OSError as exc:
            raise BackgroundError(
                f"cannot read background folder {folder}: {exc.strerror}"
            ) from exc
        if not paths:
            raise BackgroundError(
                f"background folder {folder} holds no pictures "
                f"({', '.join(IMAGE_SUFFIXES[:5])}, ...)"
            )
        self.folder = folder
        self.size = size
        self.fit = fit
        self.interval_s = interval_s
        self.paths = paths
        self.index = 0
        self._cache: OrderedDict[Path, np.ndarray] = OrderedDict()
        shown = self._show(0)
        if shown is None:
            raise BackgroundError(f"background folder {folder} holds no picture that can be read")
        self._current = shown
        self._switched_at_s: float | None = None
        self._pending = 0
        self._lock = threading.Lock()

    def advance(self) -> None:
        with self._lock:
            self._pending += 1

    def frame_for(
        self,
        frame_bgr: np.ndarray,
        alpha: np.ndarray,
        t_s: float,
        small_bgr: np.ndarray | None = None,
    ) -> np.ndarray:
        with self._lock:
            steps, self._pending = self._pending, 0
        if self._switched_at_s is None or t_s < self._switched_at_s:
            self._switched_at_s = t_s
        if steps:
            self._switched_at_s = t_s
        elif self.interval_s > 0 and t_s - self._switched_at_s >= self.interval_s:
            steps = math.floor((t_s - self._switched_at_s) / self.interval_s)
            self._switched_at_s += steps * self.interval_s
        # One picture at a time, so a broken file found on the way is not counted as a step.
        for _ in range(steps % len(self.paths) if self.paths else 0):
            shown = self._show(self.index + 1)
            if shown is None:
                break
            self._current = shown
        return self._current

    def _show(self, index: int) -> np.ndarray | None:
        """The fitted picture at ``index`` (wrapping), or the next one that can be read;
        None when none can. Pictures that fail are dropped from the cycle."""
        while self.paths:
            self.index = index % len(self.paths)
            path = self.paths[self.index]
            cached = self._cache.get(path)
            if cached is not None:
                self._cache.move_to_end(path)
                return cached
            try:
                picture = fit_image(read_image(path), self.size, self.fit)
            except BackgroundError as exc:
                log.warning("skipping %s", exc)
                del self.paths[self.index]
                index = self.index
                continue
            picture.setflags(write=False)
            self._cache[path] = picture
            if len(self._cache) > self.CACHE_PICTURES:
                self._cache.popitem(last=False)
            return picture
        return None
