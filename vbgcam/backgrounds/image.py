"""A picture as the background: decoded and fitted once, then only read."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vbgcam.imaging import (
    fit_image,
    read_image,
)


class ImageBackground:
    """A still picture, fitted to the output once. Per frame: nothing."""

    def __init__(self, path: Path, size: tuple[int, int], fit: str = "cover") -> None:
        self.image = fit_image(read_image(path), size, fit)
        self.image.setflags(write=False)

    @classmethod
    def from_image(
        cls, image_bgr: np.ndarray, size: tuple[int, int], fit: str = "cover"
    ) -> ImageBackground:
        """From an already decoded picture (generated, or uploaded)."""
        background = cls.__new__(cls)
        background.image = fit_image(image_bgr, size, fit)
        background.image.setflags(write=False)
        return background

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
