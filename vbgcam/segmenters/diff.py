"""The original mask method: what changed since the previous frame is the person.

Absolute difference against the previous frame, to grey, thresholded. It only sees motion,
so a person who sits still fades into the background; it is kept because it needs no model
and costs almost nothing.
"""

from __future__ import annotations

import cv2
import numpy as np


class DiffSegmenter:
    """Frame difference, exactly as the original tutorial: ``grey(|frame - previous|) > threshold``.

    Returns a binary mask (0 or 255). The first frame after ``reset`` has no previous frame
    and so no person.
    """

    def __init__(self, threshold: int = 3) -> None:
        self.threshold = threshold
        self._previous: np.ndarray | None = None
        self._difference: np.ndarray | None = None
        self._grey: np.ndarray | None = None
        self._mask: np.ndarray | None = None

    def _allocate(self, frame_bgr: np.ndarray) -> None:
        height, width = frame_bgr.shape[:2]
        self._previous = frame_bgr.copy()
        self._difference = np.empty_like(frame_bgr)
        self._grey = np.empty((height, width), np.uint8)
        self._mask = np.zeros((height, width), np.uint8)

    def segment(self, frame_bgr: np.ndarray) -> np.ndarray:
        if self._previous is None or self._previous.shape != frame_bgr.shape:
            self._allocate(frame_bgr)
            assert self._mask is not None
            self._mask.fill(0)
            return self._mask
        assert self._difference is not None and self._grey is not None and self._mask is not None
        cv2.absdiff(frame_bgr, self._previous, dst=self._difference)
        cv2.cvtColor(self._difference, cv2.COLOR_BGR2GRAY, dst=self._grey)
        cv2.threshold(self._grey, self.threshold, 255, cv2.THRESH_BINARY, dst=self._mask)
        np.copyto(self._previous, frame_bgr)
        return self._mask

    def reset(self) -> None:
        self._previous = None
