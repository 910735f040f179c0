"""Pictures from files and bytes: decoded to 8-bit BGR under a size cap, and fitted to a
frame (cover, contain, stretch, tile). Shared by the backgrounds, the overlay and uploads."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from vbgcam.errors import BackgroundError
from vbgcam.shrink import shrink

# A background is shown at most at 4K (8 megapixels); anything far larger is a mistake.
MAX_IMAGE_PIXELS = 50_000_000


def _decode(path: Path, what: str) -> np.ndarray:
    """Decode ``path`` as it is stored: 1, 3 or 4 channels of 8 bits."""
    try:
        if path.is_dir():
            raise BackgroundError(f"{what} {path} is a folder, not a picture")
        if not path.is_file():
            raise BackgroundError(f"{what} {path} does not exist")
        data = np.fromfile(path, np.uint8)
    except OSError as exc:  # also a name too long, a folder we may not enter
        raise BackgroundError(f"cannot read {what} {path}: {exc.strerror}") from exc
    return decode_picture(data, f"{what} {path}")


def decode_picture(data: np.ndarray, what: str) -> np.ndarray:
    """Decode picture bytes as stored (1, 3 or 4 channels of 8 bits), upright.

    Pictures without transparency are decoded again with IMREAD_COLOR, which applies the
    EXIF orientation a phone writes (IMREAD_UNCHANGED ignores it: photos came out sideways).
    Oversized pictures are refused before their memory is allocated (the limit is set in
    vbgcam/__init__.py for OpenCV to enforce), and by the check below.
    """
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
        if image is not None and (image.ndim == 2 or image.shape[2] == 3):
            upright = cv2.imdecode(data, cv2.IMREAD_COLOR)
            if upright is not None and image.ndim == 3:
                image = upright
            elif upright is not None and upright.shape[:2] != image.shape[:2]:
                image = cv2.cvtColor(upright, cv2.COLOR_BGR2GRAY)
    except cv2.error:
        image = None
    if image is None:
        raise BackgroundError(
            f"cannot decode {what}: not an image file, or over "
            f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels"
        )
    if image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:
        raise BackgroundError(
            f"{what} is too large (over {MAX_IMAGE_PIXELS // 1_000_000} "
            "megapixels); scale it down first"
        )
    if image.dtype == np.uint16:
        image = cv2.convertScaleAbs(image, alpha=255.0 / 65535.0)
    elif image.dtype != np.uint8:
        raise BackgroundError(f"{what} has {image.dtype} pixels; use 8 or 16 bits")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return image


def read_image(path: Path, what: str = "background image") -> np.ndarray:
    """Decode an image file to BGR; transparent parts of a PNG become black."""
    image = _decode(path, what)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.uint16)
        return ((image[:, :, :3] * alpha + 127) // 255).astype(np.uint8)
    return image


def read_image_with_alpha(path: Path, what: str) -> np.ndarray:
    """Decode an image file to BGRA (H x W x 4 uint8); a picture without alpha is opaque."""
    image = _decode(path, what)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGRA)
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    return image


class Fitter:
    """Puts pictures of one size onto the output by one fit mode, into its own buffer.

    The plan (which part of the source goes where) is made once, so fitting a video frame
    is one resize into a preallocated buffer. ``cover`` scales to fill and crops the
    overflow, centred; ``contain`` scales to fit inside and leaves black bars, centred;
    ``stretch`` scales each side to the output; ``tile`` repeats the picture at its own
    size from the top-left corner.
    """

    def __init__(
        self,
        source_shape: tuple[int, ...],
        size: tuple[int, int],
        fit: str,
        enlarge: int = cv2.INTER_CUBIC,
    ) -> None:
        width, height = size
        src_h, src_w = source_shape[:2]
        self.source_shape = (src_h, src_w)
        self.fit_mode = fit
        self.out = np.zeros((height, width, 3), np.uint8)  # contain's bars stay black
        self._enlarge = enlarge
        self._source = (slice(0, src_h), slice(0, src_w))
        self._target = (slice(0, height), slice(0, width))
        self._tiled: np.ndarray | None = None
        self._repeats = (1, 1)
        if fit == "cover":
            scale = max(width / src_w, height / src_h)
            crop_w = min(src_w, max(1, round(width / scale)))
            crop_h = min(src_h, max(1, round(height / scale)))
            left, top = (src_w - crop_w) // 2, (src_h - crop_h) // 2
            self._source = (slice(top, top + crop_h), slice(left, left + crop_w))
        elif fit == "contain":
            scale = min(width / src_w, height / src_h)
            fit_w = min(width, max(1, round(src_w * scale)))
            fit_h = min(height, max(1, round(src_h * scale)))
            left, top = (width - fit_w) // 2, (height - fit_h) // 2
            self._target = (slice(top, top + fit_h), slice(left, left + fit_w))
        elif fit == "tile":
            self._repeats = (math.ceil(height / src_h), math.ceil(width / src_w))
            if self._repeats != (1, 1):
                rows, columns = self._repeats
                self._tiled = np.empty((rows * src_h, columns * src_w, 3), np.uint8)
        elif fit != "stretch":
            raise BackgroundError(
                f"unknown fit '{fit}'; expected one of: cover, contain, stretch, tile"
            )

    def fit(self, image_bgr: np.ndarray) -> np.ndarray:
        """``image_bgr`` (of ``source_shape``) fitted into ``out``; returns ``out``."""
        if self.fit_mode == "tile":
            height, width = self.out.shape[:2]
            if self._tiled is None:
                np.copyto(self.out, image_bgr[:height, :width])
            else:
                cv2.repeat(image_bgr, *self._repeats, dst=self._tiled)
                np.copyto(self.out, self._tiled[:height, :width])
            return self.out
        source = image_bgr[self._source]
        target = self.out[self._target]
        target_h, target_w = target.shape[:2]
        if target_w <= source.shape[1] and target_h <= source.shape[0]:
            shrink(source, (target_w, target_h), dst=target)
        else:
            cv2.resize(source, (target_w, target_h), dst=target, interpolation=self._enlarge)
        return self.out


def fit_image(image_bgr: np.ndarray, size: tuple[int, int], fit: str = "cover") -> np.ndarray:
    """A new ``size`` (width, height) picture of ``image_bgr`` placed by ``fit``."""
    return Fitter(image_bgr.shape, size, fit).fit(image_bgr)


def cover_fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale ``image`` to fill ``size`` (width, height) and crop the overflow, centred."""
    return fit_image(image, size, "cover")
