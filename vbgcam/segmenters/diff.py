"""The original mask method: what changed since the previous frame is the person.

Absolute difference against the previous frame, to grey, thresholded. On its own it only
sees motion: a person who sits still fades into the background, and camera noise above the
threshold speckles everywhere. It is kept because it needs no model and costs almost nothing,
and with ``hold = 0`` and ``clean = false`` it is exactly the original.

The improved default keeps the idea and fixes its failures:

- it works on a frame shrunk to 320 px and blurred, which divides sensor noise by ~5;
- the motion mask is opened, closed and hole-filled into a solid silhouette;
- a motion hold: where the person was, they stay until the learned background shows through
  there again (evidence that they left) or ``hold`` seconds pass without any motion there.
  The background is learned, slowly, wherever no person has been seen.
"""

from __future__ import annotations

import cv2
import numpy as np

from vbgcam.segmenters.cleanup import solidify
from vbgcam.shrink import working_copy

# A held pixel is released when it is within this many grey levels of the learned
# background: the background is visible again, so the person has left it.
RELEASE_LEVELS = 10
# How fast the learned background follows the picture where no person is (per frame).
BACKGROUND_RATE = 0.05
SPECK_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))


class DiffSegmenter:
    """Frame-difference person mask.

    ``hold = 0`` and ``clean = False`` is the original tutorial method, exactly:
    ``grey(|frame - previous|) > threshold`` at full size, 0/255, and ``binary`` is True.
    Otherwise the mask comes at the 320 px working size. The first frame after ``reset``
    has no previous frame and so no person.
    """

    def __init__(
        self, threshold: int = 3, hold_s: float = 30.0, clean: bool = True, fps: float = 30.0
    ) -> None:
        self.threshold = threshold
        self.hold_frames = round(hold_s * fps)
        self.clean = clean
        self.original = hold_s <= 0 and not clean
        self.binary = self.original
        self._previous: np.ndarray | None = None

    def reset(self) -> None:
        self._previous = None

    # --- the original method, at full size -------------------------------------------

    def _segment_original(self, frame_bgr: np.ndarray) -> np.ndarray:
        if self._previous is None or self._previous.shape != frame_bgr.shape:
            self._previous = frame_bgr.copy()
            self._difference = np.empty_like(frame_bgr)
            self._grey = np.empty(frame_bgr.shape[:2], np.uint8)
            self._mask = np.zeros(frame_bgr.shape[:2], np.uint8)
            return self._mask
        cv2.absdiff(frame_bgr, self._previous, dst=self._difference)
        cv2.cvtColor(self._difference, cv2.COLOR_BGR2GRAY, dst=self._grey)
        cv2.threshold(self._grey, self.threshold, 255, cv2.THRESH_BINARY, dst=self._mask)
        np.copyto(self._previous, frame_bgr)
        return self._mask

    # --- the improved method, at working size ----------------------------------------

    def _start(self, grey: np.ndarray) -> np.ndarray:
        self._previous = grey
        self._person = np.zeros_like(grey)
        self._still_frames = np.zeros(grey.shape, np.int32)
        self._background = grey.astype(np.float32)
        # Learned background is trusted only where it has been seen without a person.
        self._background_seen = np.zeros(grey.shape, bool)
        return self._person

    def _segment_improved(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None) -> np.ndarray:
        small = working_copy(frame_bgr, small_bgr)
        work_w = small.shape[1]
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        if self._previous is None or self._previous.shape != grey.shape:
            return self._start(grey)
        motion = cv2.absdiff(grey, self._previous)
        cv2.threshold(motion, self.threshold, 255, cv2.THRESH_BINARY, dst=motion)
        self._previous = grey
        if self.clean:
            # Isolated specks are noise; a person moves as a connected region.
            motion = cv2.morphologyEx(motion, cv2.MORPH_OPEN, SPECK_KERNEL)

        moving = motion > 0
        np.copyto(self._still_frames, 0, where=moving)
        np.add(self._still_frames, 1, out=self._still_frames, where=~moving)
        held = self._person > 0
        if self.hold_frames > 0:
            grey_levels = grey.astype(np.float32)
            visible_again = self._background_seen & (
                cv2.absdiff(grey_levels, self._background) < RELEASE_LEVELS
            )
            expired = self._still_frames > self.hold_frames
            held &= ~((visible_again | expired) & ~moving)
        else:
            held[:] = False

        person = np.where(moving | held, 255, 0).astype(np.uint8)
        if self.clean:
            close_px = max(3, work_w // 16) | 1
            person = solidify(person, open_px=0, close_px=close_px)
        self._person = person

        empty = person == 0
        cv2.accumulateWeighted(grey, self._background, BACKGROUND_RATE, mask=empty.astype(np.uint8))
        self._background_seen |= empty & (self._still_frames > 2)
        return self._person

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        if self.original:
            return self._segment_original(frame_bgr)
        return self._segment_improved(frame_bgr, small_bgr)
