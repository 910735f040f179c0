"""Where the selfie network looks in a wide frame: a full-height band around the person.

On 16:9 frames the general model (256x256) run on a full-height square around the person
found by the previous run beat the landscape model (256x144) on the whole frame, on 16 clips
built from ../shared/data (8 people, each near and far): mean IoU 0.900 against 0.841 (near)
and 0.899 against 0.800 (far), still frames 0.963 against 0.941, boundary F 0.63-0.68 against
0.40-0.43, on every clip; on 178 real photos cropped to 16:9 the two tie (+0.009, 95 % CI
-0.013..+0.029) with better edges (boundary F 0.618 against 0.559). Squeezing the whole wide
frame into the square model lost to the landscape model on those photos (-0.034), and
letterboxing lost on both. The cost is one general-model run instead of a landscape one:
1.6 ms more a 720p frame on the CI machine with LiteRT (about 1 ms on a faster one).

The rules, all in columns of the segmenter's frame-aspect mask:

- the person is the previous mask's pixels >= 128; with fewer than ``MIN_PERSON_SHARE`` of
  the mask (nobody, or a small false positive that must not hold the band), on the first run
  and on every ``REFRESH_RUNS``-th run (someone entering beside the band is found), the
  network sees the whole frame;
- otherwise the band spans the person's columns plus ``MARGIN_SHARE`` of the frame height on
  each side, grown to a square around their centre and kept inside the frame; a wider person
  (two people side by side) widens it, and the network squeezes it a little;
- a band is held while the person, with a third of the margin, stays inside it, so a still
  person gets a still input and a still mask.
"""

from __future__ import annotations

import cv2
import numpy as np

# Of the frame height, on each side of the person's columns.
MARGIN_SHARE = 0.15
# Less of the mask than this is no person to follow.
MIN_PERSON_SHARE = 0.05
# Every this many runs the whole frame is seen again.
REFRESH_RUNS = 15


class PersonBand:
    """Chooses, for each network run, the columns of the frame the network sees.

    ``choose(previous_mask)`` takes the mask the last run produced (uint8, at the
    segmenter's frame-aspect size, or None) and returns ``(left, right)`` columns of that
    mask, or None for the whole frame.
    """

    def __init__(self, band_aspect: float = 1.0) -> None:
        self.band_aspect = band_aspect  # width / height of the band: the model's input shape
        self.reset()

    def reset(self) -> None:
        self._band: tuple[int, int] | None = None
        self._runs = 0
        self._person: np.ndarray | None = None  # scratch, reused from run to run

    def choose(self, previous_mask: np.ndarray | None) -> tuple[int, int] | None:
        self._runs += 1
        if previous_mask is None:
            self._band = None
            return None
        if self._runs % REFRESH_RUNS == 0:  # a look at the whole frame; the band stays held
            return None
        self._band = self._band_for(previous_mask)
        return self._band

    def _band_for(self, mask: np.ndarray) -> tuple[int, int] | None:
        height, width = mask.shape
        if self._person is None or self._person.shape != mask.shape:
            self._person = np.empty_like(mask)
        person = cv2.inRange(mask, 128, 255, dst=self._person)
        if cv2.countNonZero(person) < MIN_PERSON_SHARE * height * width:
            return None
        columns = np.flatnonzero(person.max(axis=0))
        first, last = int(columns[0]), int(columns[-1]) + 1
        margin = MARGIN_SHARE * height
        if self._band is not None:
            left, right = self._band
            inner = margin / 3
            fits_left = first - inner >= left or left == 0
            fits_right = last + inner <= right or right == width
            needed = max(last - first + 2 * margin, height * self.band_aspect)
            if fits_left and fits_right and right - left <= needed + 1:
                return self._band
        band_width = round(min(width, max(last - first + 2 * margin, height * self.band_aspect)))
        centre = (first + last) / 2
        left = round(min(max(centre - band_width / 2, 0), width - band_width))
        return left, left + band_width
