"""A video file as the background, paced on scene time and looped."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import cv2
import numpy as np

from vbgcam.errors import BackgroundError
from vbgcam.imaging import (
    MAX_IMAGE_PIXELS,
    Fitter,
)

log = logging.getLogger(__name__)


class VideoBackground:
    """A video file, looped, at its own frame rate whatever the camera's.

    Frame ``k`` (counted from the first call, across loops) is shown from scene time
    ``first + k / fps``; a call decodes only the frames it needs to get there, so a camera
    at the video's rate or faster costs at most one decode per frame, and a slower one
    skips frames (grabbed, not converted). After a stall longer than ``MAX_CATCH_UP``
    frames the video goes on from where it was instead of racing to catch up. The file is
    reopened to loop (seeking to frame 0 is unreliable in some formats).
    """

    MAX_CATCH_UP = 8
    DEFAULT_FPS = 30.0

    def __init__(self, path: Path, size: tuple[int, int], fit: str = "cover") -> None:
        if not path.is_file():
            raise BackgroundError(f"background video {path} does not exist")
        self.path = path
        self._capture = cv2.VideoCapture(str(path))
        fps = self._capture.get(cv2.CAP_PROP_FPS) if self._capture.isOpened() else 0.0
        ok, image = self._capture.read() if self._capture.isOpened() else (False, None)
        if not ok or image is None:
            self._capture.release()
            raise BackgroundError(f"cannot decode background video {path}: no frame could be read")
        if image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:
            self._capture.release()
            raise BackgroundError(f"background video {path} is too large; scale it down first")
        if not (math.isfinite(fps) and 1 <= fps <= 240):
            said = f"says {fps:g} fps" if math.isfinite(fps) and fps > 0 else "says no frame rate"
            log.warning("%s %s; playing it at %g fps", path, said, self.DEFAULT_FPS)
            fps = self.DEFAULT_FPS
        self.fps = float(fps)
        self._fitter = Fitter(image.shape, size, fit, enlarge=cv2.INTER_LINEAR)
        self._decoded = image
        self._fitter.fit(self._bgr(image))
        self.shown = 0  # which frame ``out`` holds, counted across loops
        self._read_since_open = 1
        self._still = False  # a one-frame video, or one that stopped decoding
        self._first_s: float | None = None

    @property
    def out(self) -> np.ndarray:
        return self._fitter.out

    def advance(self) -> None:
        pass

    def frame_for(
        self,
        frame_bgr: np.ndarray,
        alpha: np.ndarray,
        t_s: float,
        small_bgr: np.ndarray | None = None,
    ) -> np.ndarray:
        if self._first_s is None:
            self._first_s = t_s
        wanted = math.floor((t_s - self._first_s) * self.fps + 1e-6)
        behind = wanted - self.shown
        if behind < 0 or behind > self.MAX_CATCH_UP:
            # Time went back or we stalled: go on from the frame shown, without a jump.
            wanted = self.shown + (1 if behind > 0 else 0)
            self._first_s = t_s - (wanted + 0.5) / self.fps
            behind = wanted - self.shown
        if behind == 0 or self._still:
            return self.out
        for _ in range(behind - 1):
            if not self._grab():
                return self.out
        if self._grab():
            ok, image = self._capture.retrieve(self._decoded)
            if ok and image is not None:
                self._decoded = image
                image = self._bgr(image)
                if image.shape[:2] != self._fitter.source_shape:
                    self._fitter = Fitter(
                        image.shape, self.out.shape[1::-1], self._fitter.fit_mode, cv2.INTER_LINEAR
                    )
                self._fitter.fit(image)
        self.shown = wanted
        return self.out

    def _grab(self) -> bool:
        """Move to the next frame, reopening the file at its end; False if none comes."""
        if self._capture.grab():
            self._read_since_open += 1
            return True
        self._capture.release()
        if self._read_since_open <= 1:
            self._still = True  # a single frame: nothing to loop
            return False
        self._capture = cv2.VideoCapture(str(self.path))
        self._read_since_open = 0
        if self._capture.grab():
            self._read_since_open = 1
            return True
        log.warning("background video %s stopped decoding; showing its last frame", self.path)
        self._still = True
        return False

    @staticmethod
    def _bgr(image: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image
