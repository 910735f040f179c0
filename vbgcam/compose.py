"""The compositor: camera frame in, the person over the new background out.

Segmenter, matte, background and blend run in that order on the caller's thread; the output
goes into the caller's buffer, so the hot path allocates nothing at frame size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from vbgcam.backgrounds import Background
from vbgcam.matte import Matte
from vbgcam.segmenters import Segmenter


def blend_binary(
    frame_bgr: np.ndarray, background_bgr: np.ndarray, mask: np.ndarray, dst: np.ndarray
) -> None:
    """``dst`` = the frame where ``mask`` is set (non-zero), the background elsewhere."""
    np.copyto(dst, background_bgr)
    cv2.copyTo(frame_bgr, mask, dst)


class SoftBlender:
    """``dst = frame * alpha + background * (1 - alpha)`` with per-pixel alpha 0..255.

    Weights are float32 buffers reused from frame to frame; ``cv2.blendLinear`` does the
    arithmetic in one vectorised pass.
    """

    def __init__(self) -> None:
        self._weight: np.ndarray | None = None
        self._inverse: np.ndarray | None = None

    def blend(
        self,
        frame_bgr: np.ndarray,
        background_bgr: np.ndarray,
        alpha: np.ndarray,
        dst: np.ndarray,
    ) -> None:
        if self._weight is None or self._weight.shape != alpha.shape:
            self._weight = np.empty(alpha.shape, np.float32)
            self._inverse = np.empty(alpha.shape, np.float32)
        assert self._inverse is not None
        np.multiply(alpha, np.float32(1 / 255), out=self._weight)
        np.subtract(np.float32(1), self._weight, out=self._inverse)
        cv2.blendLinear(frame_bgr, background_bgr, self._weight, self._inverse, dst=dst)


@dataclass
class StageTimes:
    """Milliseconds the last frame spent in each stage, for stats and the benchmark."""

    segment_ms: float = 0.0
    refine_ms: float = 0.0
    background_ms: float = 0.0
    blend_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.segment_ms + self.refine_ms + self.background_ms + self.blend_ms


class Compositor:
    """Owns one segmenter, an optional matte and one background; one caller at a time.

    Without a matte, a mask smaller than the frame is scaled up, and a ``binary`` full-size
    mask is copied through rather than blended (the original method's exact output).
    """

    def __init__(
        self, segmenter: Segmenter, background: Background, matte: Matte | None = None
    ) -> None:
        self.segmenter = segmenter
        self.background = background
        self.matte = matte
        self.times = StageTimes()
        self._blender = SoftBlender()
        self._scaled_mask: np.ndarray | None = None

    def _alpha(self, frame_bgr: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.matte is not None:
            return self.matte.refine(frame_bgr, mask)
        height, width = frame_bgr.shape[:2]
        if mask.shape == (height, width):
            return mask
        if self._scaled_mask is None or self._scaled_mask.shape != (height, width):
            self._scaled_mask = np.empty((height, width), np.uint8)
        cv2.resize(mask, (width, height), dst=self._scaled_mask, interpolation=cv2.INTER_LINEAR)
        return self._scaled_mask

    def mask_for(self, frame_bgr: np.ndarray) -> np.ndarray:
        """The frame-size alpha the compositor would blend with (uint8, 255 = person)."""
        return self._alpha(frame_bgr, self.segmenter.segment(frame_bgr))

    def compose(self, frame_bgr: np.ndarray, t_s: float, dst: np.ndarray) -> np.ndarray:
        """Write the composited frame into ``dst``; returns the frame-size alpha used."""
        start = time.perf_counter()
        mask = self.segmenter.segment(frame_bgr)
        segmented = time.perf_counter()
        alpha = self._alpha(frame_bgr, mask)
        refined = time.perf_counter()
        background = self.background.frame_for(frame_bgr, t_s)
        prepared = time.perf_counter()
        if self.matte is None and getattr(self.segmenter, "binary", False):
            blend_binary(frame_bgr, background, alpha, dst)
        else:
            self._blender.blend(frame_bgr, background, alpha, dst)
        done = time.perf_counter()
        self.times = StageTimes(
            segment_ms=(segmented - start) * 1e3,
            refine_ms=(refined - segmented) * 1e3,
            background_ms=(prepared - refined) * 1e3,
            blend_ms=(done - prepared) * 1e3,
        )
        return alpha
