"""Generated people with known masks, for the framing and main-person tests: a head and
shoulders drawn where asked, the way a webcam sees someone at a desk (the body runs off the
bottom of the picture)."""

from __future__ import annotations

import cv2
import numpy as np


def draw_person(
    alpha: np.ndarray, centre_x: float, head_top: float, shoulders_w: float, value: int = 255
) -> None:
    """Draw into ``alpha`` (uint8) a person whose head's top is at ``head_top`` and whose
    shoulders are ``shoulders_w`` wide, centred at ``centre_x`` (all in pixels)."""
    height = alpha.shape[0]
    head_w = shoulders_w * 0.42
    head_h = head_w * 1.3
    head_centre = (round(centre_x), round(head_top + head_h / 2))
    cv2.ellipse(alpha, head_centre, (round(head_w / 2), round(head_h / 2)), 0, 0, 360, value, -1)
    neck_bottom = head_top + head_h * 1.15
    cv2.rectangle(
        alpha,
        (round(centre_x - head_w * 0.22), round(head_top + head_h * 0.8)),
        (round(centre_x + head_w * 0.22), round(neck_bottom)),
        value,
        -1,
    )
    torso = np.array(
        [
            (centre_x - shoulders_w * 0.35, neck_bottom),
            (centre_x + shoulders_w * 0.35, neck_bottom),
            (centre_x + shoulders_w / 2, neck_bottom + shoulders_w * 0.2),
            (centre_x + shoulders_w / 2, height),
            (centre_x - shoulders_w / 2, height),
            (centre_x - shoulders_w / 2, neck_bottom + shoulders_w * 0.2),
        ],
        np.int32,
    )
    cv2.fillPoly(alpha, [torso], value)


def person_mask(
    size: tuple[int, int], centre_x: float, head_top: float, shoulders_w: float
) -> np.ndarray:
    """A frame-size alpha with one person in it."""
    alpha = np.zeros((size[1], size[0]), np.uint8)
    draw_person(alpha, centre_x, head_top, shoulders_w)
    return alpha
