"""The compositor: camera frame in, the person over the new background out.

Segmenter, background and blend run in that order on the caller's thread; the output goes
into the caller's buffer, so the hot path allocates nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from vbgcam.backgrounds import Background
from vbgcam.segmenters import Segmenter


def blend_binary(
    frame_bgr: np.ndarray, background_bgr: np.ndarray, mask: np.ndarray, dst: np.ndarray
) -> None:
    """``dst`` = the frame where ``mask`` is set (non-zero), the background elsewhere."""
    np.copyto(dst, background_bgr)
    cv2.copyTo(frame_bgr, mask, dst)


@dataclass
class StageTimes:
    """Milliseconds the last frame spent in each stage, for stats and the benchmark."""

    segment_ms: float = 0.0
    background_ms: float = 0.0
    blend_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.segment_ms + self.background_ms + self.blend_ms


class Compositor:
    """Owns one segmenter and one background; not thread-safe, one caller at a time."""

    def __init__(self, segmenter: Segmenter, background: Background) -> None:
        self.segmenter = segmenter
        self.background = background
        self.times = StageTimes()

    def compose(self, frame_bgr: np.ndarray, t_s: float, dst: np.ndarray) -> np.ndarray:
        """Write the composited frame into ``dst``; returns the person mask used."""
        start = time.perf_counter()
        mask = self.segmenter.segment(frame_bgr)
        segmented = time.perf_counter()
        background = self.background.frame_for(frame_bgr, t_s)
        prepared = time.perf_counter()
        blend_binary(frame_bgr, background, mask, dst)
        done = time.perf_counter()
        self.times = StageTimes(
            segment_ms=(segmented - start) * 1e3,
            background_ms=(prepared - segmented) * 1e3,
            blend_ms=(done - prepared) * 1e3,
        )
        return mask
