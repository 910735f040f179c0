"""OpenCV's adaptive background models (MOG2 and KNN), kept for comparison.

They learn the background per pixel over ``history`` frames, so a person who sits still is
learned into the background within seconds (measured: MOG2 after ~1.5 s, KNN ~3 s, as
OpenCV's background ratio of 0.9 absorbs a pixel after about -ln(0.9) x 500 = 53 frames):
good for a camera watching a street, not for a call.
Shadows (marked 127 by OpenCV) count as background.
"""

from __future__ import annotations

import cv2
import numpy as np

from vbgcam.segmenters.cleanup import solidify
from vbgcam.shrink import working_copy

# OpenCV's default; see above for how fast a still person fades with it.
HISTORY_FRAMES = 500


class BackgroundModelSegmenter:
    """``mog2`` or ``knn``; mask at the 320 px working size, 0/255."""

    def __init__(self, kind: str = "mog2") -> None:
        if kind not in ("mog2", "knn"):
            raise ValueError(f"unknown background model {kind!r}")
        self.kind = kind
        self.reset()

    def reset(self) -> None:
        self._model: cv2.BackgroundSubtractor
        if self.kind == "mog2":
            self._model = cv2.createBackgroundSubtractorMOG2(
                history=HISTORY_FRAMES, varThreshold=16, detectShadows=True
            )
        else:
            self._model = cv2.createBackgroundSubtractorKNN(
                history=HISTORY_FRAMES, dist2Threshold=400, detectShadows=True
            )

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        small = working_copy(frame_bgr, small_bgr)
        work_w = small.shape[1]
        raw = self._model.apply(small)
        mask = np.where(raw == 255, 255, 0).astype(np.uint8)
        return solidify(mask, open_px=3, close_px=max(3, work_w // 40) | 1)
