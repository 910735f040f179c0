"""A solid colour, or no replacement at all (the camera picture itself)."""

from __future__ import annotations

import numpy as np

from vbgcam.config.settings import parse_color
from vbgcam.errors import BackgroundError


class ColorBackground:
    """One solid colour. Per frame: nothing."""

    def __init__(self, color: str, size: tuple[int, int]) -> None:
        try:
            red, green, blue = parse_color(color)
        except ValueError as exc:
            raise BackgroundError(f"bad background colour {color!r}: {exc}") from exc
        width, height = size
        self.image = np.empty((height, width, 3), np.uint8)
        self.image[:] = (blue, green, red)
        self.image.setflags(write=False)

    def frame_for(
        self,
        frame_bgr: np.ndarray,
        alpha: np.ndarray,
        t_s: float,
        small_bgr: np.ndarray | None = None,
    ) -> np.ndarray:
        return self.image

    def advance(self) -> None:
        pass


class PassthroughBackground:
    """No replacement: the camera frame itself, so the output is the camera picture."""

    # The compositor skips segmentation altogether: no mask changes what is sent.
    needs_mask = False

    def frame_for(
        self,
        frame_bgr: np.ndarray,
        alpha: np.ndarray,
        t_s: float,
        small_bgr: np.ndarray | None = None,
    ) -> np.ndarray:
        return frame_bgr

    def advance(self) -> None:
        pass
