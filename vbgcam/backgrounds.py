"""What shows where the person is not: a picture, or the camera frame blurred.

A background is anything with ``frame_for(frame_bgr, t_s) -> image`` returning an image of
the output size. Work that depends only on settings (decoding, cover-fitting) is done once in
the constructor, never per frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vbgcam.errors import BackgroundError
from vbgcam.settings import BackgroundSettings
from vbgcam.shrink import shrink

# A background is shown at most at 4K (8 megapixels); anything far larger is a mistake.
MAX_IMAGE_PIXELS = 50_000_000


class Background(Protocol):
    def frame_for(self, frame_bgr: np.ndarray, t_s: float) -> np.ndarray:
        """The background for this camera frame at scene time ``t_s`` (H x W x 3 uint8).

        The returned array belongs to the background; callers must not write to it.
        """
        ...


def read_image(path: Path) -> np.ndarray:
    """Decode an image file to BGR; transparent parts of a PNG become black."""
    if not path.is_file():
        raise BackgroundError(f"background image {path} does not exist")
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as exc:
        raise BackgroundError(f"cannot read background image {path}: {exc.strerror}") from None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise BackgroundError(f"cannot decode background image {path}: not an image file")
    if image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:
        raise BackgroundError(
            f"background image {path} is too large (over {MAX_IMAGE_PIXELS // 1_000_000} "
            "megapixels); scale it down first"
        )
    if image.dtype == np.uint16:
        image = cv2.convertScaleAbs(image, alpha=255.0 / 65535.0)
    elif image.dtype != np.uint8:
        raise BackgroundError(f"background image {path} has {image.dtype} pixels; use 8 or 16 bits")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.uint16)
        return ((image[:, :, :3] * alpha + 127) // 255).astype(np.uint8)
    return image


def cover_fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale ``image`` to fill ``size`` (width, height) and crop the overflow, centred."""
    width, height = size
    src_h, src_w = image.shape[:2]
    scale = max(width / src_w, height / src_h)
    scaled_w = max(width, round(src_w * scale))
    scaled_h = max(height, round(src_h * scale))
    shrinking = scale < 1
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    scaled = cv2.resize(image, (scaled_w, scaled_h), interpolation=interpolation)
    left = (scaled_w - width) // 2
    top = (scaled_h - height) // 2
    return np.ascontiguousarray(scaled[top : top + height, left : left + width])


class ImageBackground:
    """A still picture, cover-fitted to the output once."""

    def __init__(self, path: Path, size: tuple[int, int]) -> None:
        self.image = cover_fit(read_image(path), size)
        self.image.setflags(write=False)

    @classmethod
    def from_image(cls, image_bgr: np.ndarray, size: tuple[int, int]) -> ImageBackground:
        """From an already decoded picture (generated, or uploaded)."""
        background = cls.__new__(cls)
        background.image = cover_fit(image_bgr, size)
        background.image.setflags(write=False)
        return background

    def frame_for(self, frame_bgr: np.ndarray, t_s: float) -> np.ndarray:
        return self.image


class BlurBackground:
    """The camera frame itself, blurred: a background that needs no file.

    Blurring a frame shrunk 8x and scaling it back costs a tenth of a full-size blur and
    looks the same, since the result has no fine detail anyway.
    """

    SHRINK = 8

    def __init__(self, strength: int, size: tuple[int, int]) -> None:
        width, height = size
        self.strength = strength
        self._small = np.empty(
            (max(1, height // self.SHRINK), max(1, width // self.SHRINK), 3), np.uint8
        )
        self._blurred_small = np.empty_like(self._small)
        self._out = np.empty((height, width, 3), np.uint8)
        # Strength 100 blurs with sigma 6 px of the small image, i.e. about 48 px of the frame.
        self._sigma = 6.0 * strength / 100

    def frame_for(self, frame_bgr: np.ndarray, t_s: float) -> np.ndarray:
        if self._sigma <= 0:
            np.copyto(self._out, frame_bgr)
            return self._out
        small_h, small_w = self._small.shape[:2]
        shrink(frame_bgr, (small_w, small_h), dst=self._small)
        cv2.GaussianBlur(self._small, (0, 0), self._sigma, dst=self._blurred_small)
        out_h, out_w = self._out.shape[:2]
        cv2.resize(
            self._blurred_small, (out_w, out_h), dst=self._out, interpolation=cv2.INTER_LINEAR
        )
        return self._out


def make_background(settings: BackgroundSettings, size: tuple[int, int]) -> Background:
    if settings.path:
        return ImageBackground(Path(settings.path).expanduser(), size)
    return BlurBackground(settings.blur, size)
