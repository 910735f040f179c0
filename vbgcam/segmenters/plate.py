"""Clean-plate segmentation: the person is whatever differs from the empty scene.

The empty scene comes from ``vbgcam calibrate`` (a few seconds of the room without you,
saved as a picture) or, failing that, is learned from the first frame and then kept up to
date wherever no person is seen. Three things make a naive difference fail, and are handled:

- camera noise: the threshold follows the measured noise of the background pixels;
- light changes: the plate is scaled by the global gain of the current frame (auto-exposure,
  clouds) before comparing, and follows slow changes where no person is;
- shadows: a pixel darker than the plate by a similar factor in every channel is the same
  surface in shade, not a person.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vbgcam.config import paths
from vbgcam.errors import BackgroundError, ConfigError
from vbgcam.imaging import read_image
from vbgcam.segmenters.cleanup import solidify
from vbgcam.shrink import working_copy

# The plate follows the picture where no person is, at this rate per frame.
PLATE_RATE = 0.02
# A pixel differs when its largest channel difference exceeds this many noise sigmas...
NOISE_SIGMAS = 4.0
# ...and never less than this many levels (MJPG and sharpening add structured noise).
MIN_LEVELS = 12.0
# Shadow: every channel darker by a factor in this range, with the same hue.
SHADOW_RATIO = (0.45, 0.95)
SHADOW_CHROMA = 0.05
# The gain is searched in this range of brightness ratios, in bins of 1 %.
GAIN_RANGE = (0.5, 2.0)
GAIN_BINS = 150
# Below this share of background pixels, gain and noise are measured on the whole picture.
MIN_EMPTY_SHARE = 0.05


def default_plate_path() -> Path:
    """Where ``vbgcam calibrate`` saves the empty scene: ``$XDG_DATA_HOME/vbgcam/plate.png``."""
    return paths.data_dir() / "plate.png"


class PlateSegmenter:
    """Difference against a clean plate; mask at the 320 px working size, 0/255.

    The plate is ``plate_path``, else the calibrated one when it exists, else learned from
    the first frame on.
    """

    def __init__(self, plate_path: str = "") -> None:
        self._plate_image: np.ndarray | None = None
        path = Path(plate_path).expanduser() if plate_path else default_plate_path()
        if plate_path or path.is_file():
            try:
                self._plate_image = read_image(path)
            except BackgroundError as exc:
                raise ConfigError(f"clean plate: {exc}") from exc
        self.reset()

    def reset(self) -> None:
        self._plate: np.ndarray | None = None
        self._last_empty: np.ndarray | None = None

    def _start(self, small: np.ndarray) -> None:
        if self._plate_image is not None:
            height, width = small.shape[:2]
            plate = cv2.resize(self._plate_image, (width, height), interpolation=cv2.INTER_AREA)
            self._plate = cv2.GaussianBlur(plate, (5, 5), 0).astype(np.float32)
        else:
            self._plate = small.astype(np.float32)

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        small = working_copy(frame_bgr, small_bgr)
        work_w = small.shape[1]
        small = cv2.GaussianBlur(small, (5, 5), 0)
        if self._plate is None or self._plate.shape[:2] != small.shape[:2]:
            self._start(small)
        assert self._plate is not None
        frame = small.astype(np.float32)
        plate = self._plate

        # Gain and noise are measured where the last frame showed background: a close-up
        # person can fill most of the picture, and a median over everything would then
        # measure the person. With too little background left, fall back to everything.
        brightness = frame.sum(axis=2) + 1.0
        plate_brightness = plate.sum(axis=2) + 1.0
        empty = self._last_empty
        if empty is None or empty.shape != brightness.shape or empty.mean() < MIN_EMPTY_SHARE:
            empty = np.ones(brightness.shape, bool)
        # The background's pixels all share one brightness ratio (the gain), the person's
        # are spread out: the histogram's peak is the gain even when the person covers most.
        ratios = brightness[empty] / plate_brightness[empty]
        counts, edges = np.histogram(ratios, bins=GAIN_BINS, range=GAIN_RANGE)
        peak = int(np.argmax(counts))
        gain = float((edges[peak] + edges[peak + 1]) / 2)
        scaled_plate = plate * gain

        difference = np.abs(frame - scaled_plate).max(axis=2)
        # Noise sigma from the low end of the differences, which background pixels fill
        # even in a close-up: the 20th percentile of the largest of three |normal| channel
        # differences is 0.815 sigma.
        noise = float(np.percentile(difference[empty], 20)) / 0.815
        foreground = difference > max(MIN_LEVELS, NOISE_SIGMAS * noise)

        ratio = brightness / (plate_brightness * gain)
        chroma = np.abs(
            frame / brightness[:, :, None] - scaled_plate / (plate_brightness * gain)[:, :, None]
        ).max(axis=2)
        shadow = (ratio > SHADOW_RATIO[0]) & (ratio < SHADOW_RATIO[1]) & (chroma < SHADOW_CHROMA)
        foreground &= ~shadow

        mask = np.where(foreground, 255, 0).astype(np.uint8)
        mask = solidify(mask, open_px=3, close_px=max(3, work_w // 40) | 1)
        self._last_empty = mask == 0
        cv2.accumulateWeighted(
            frame / gain, self._plate, PLATE_RATE, mask=self._last_empty.astype(np.uint8)
        )
        return mask
