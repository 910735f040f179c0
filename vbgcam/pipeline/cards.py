"""Full-frame text cards the virtual camera shows instead of the camera picture."""

from __future__ import annotations

import cv2
import numpy as np


def make_card(size: tuple[int, int], text: str = "Be right back") -> np.ndarray:
    """A calm dark picture with one line of text, centred (BGR, ``size`` = (w, h))."""
    width, height = size
    card = np.empty((height, width, 3), np.uint8)
    card[:] = (44, 36, 32)
    scale = height / 360
    thickness = max(1, round(2 * scale))
    (text_w, text_h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, thickness)
    origin = ((width - text_w) // 2, (height + text_h) // 2)
    cv2.putText(
        card,
        text,
        origin,
        cv2.FONT_HERSHEY_DUPLEX,
        scale,
        (235, 235, 235),
        thickness,
        cv2.LINE_AA,
    )
    return card
