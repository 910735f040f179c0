"""Person segmenters: each turns a camera frame into a mask of where the person is.

A segmenter is anything with ``segment(frame_bgr) -> mask`` and ``reset()``. The mask is
H x W uint8, 0 = background, 255 = person (values between are partial cover), at the
frame's size; it is the segmenter's own buffer, valid until the next call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from vbgcam.errors import ConfigError
from vbgcam.segmenters.diff import DiffSegmenter
from vbgcam.settings import SegmenterSettings


class Segmenter(Protocol):
    def segment(self, frame_bgr: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None:
        """Forget history (previous frames), as after a scene cut or camera restart."""
        ...


SEGMENTERS: dict[str, Callable[[SegmenterSettings], Segmenter]] = {
    "diff": lambda s: DiffSegmenter(threshold=s.threshold),
}


def make_segmenter(settings: SegmenterSettings) -> Segmenter:
    try:
        factory = SEGMENTERS[settings.name]
    except KeyError:
        raise ConfigError(
            f"unknown segmenter '{settings.name}'; expected one of: {', '.join(SEGMENTERS)}"
        ) from None
    return factory(settings)
