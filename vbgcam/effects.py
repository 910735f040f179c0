"""Output effects: what is done to the composited frame before it goes out.

An effect is anything with ``apply(frame_bgr) -> None`` that changes the frame in place;
``make_effects`` builds the settings' effects once per settings change, and the compositor
applies them after the blend. The mirror comes first, so an overlay's text reads the right
way round in the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vbgcam.config.settings import OVERLAY_POSITIONS, BackgroundSettings
from vbgcam.errors import BackgroundError
from vbgcam.imaging import read_image_with_alpha


class Effect(Protocol):
    def apply(self, frame_bgr: np.ndarray) -> None:
        """Change ``frame_bgr`` (H x W x 3 uint8, the output size) in place."""
        ...


class Mirror:
    """Flip left-right, as a mirror shows you: in place, no buffer."""

    def apply(self, frame_bgr: np.ndarray) -> None:
        cv2.flip(frame_bgr, 1, dst=frame_bgr)


class _Piece:
    """A rectangle of the overlay: its place in the frame, its colours and weights."""

    def __init__(self, rect: tuple[slice, slice], bgr: np.ndarray, alpha: np.ndarray) -> None:
        self.rect = rect
        self.bgr = np.ascontiguousarray(bgr)
        self.opaque = bool((alpha == 255).all())
        self.weight = np.ascontiguousarray(alpha, np.float32) / 255
        self.inverse = 1 - self.weight

    def apply(self, frame_bgr: np.ndarray) -> None:
        cut = frame_bgr[self.rect]
        if self.opaque:
            np.copyto(cut, self.bgr)
        else:
            cv2.blendLinear(self.bgr, cut, self.weight, self.inverse, dst=cut)


class Overlay:
    """A picture with alpha (a logo, a name tag) over the output, blended by its alpha.

    At a corner it keeps a margin of ``MARGIN`` of the frame height and is scaled down to
    at most ``MAX_WIDTH`` of the frame width (never up); ``full`` scales it to the frame.
    Scaling, and cutting it into the rectangles that show (per strip of ``STRIP_ROWS``,
    as the soft blender does), happen once; a frame costs a copy of each opaque piece and
    a blend of the others, and nothing where the overlay is transparent: at 1280x720 a
    400x120 logo costs 0.1 ms, a full-frame border 40 px wide 0.4 ms instead of the 1.5 ms
    of a whole-frame blend.
    """

    MARGIN = 0.02
    MAX_WIDTH = 0.25
    STRIP_ROWS = 48
    JOIN_GAP_PX = 16

    def __init__(self, image_bgra: np.ndarray, size: tuple[int, int], position: str) -> None:
        if position not in OVERLAY_POSITIONS:
            raise BackgroundError(
                f"unknown overlay position '{position}'; expected one of: "
                f"{', '.join(OVERLAY_POSITIONS)}"
            )
        width, height = size
        src_h, src_w = image_bgra.shape[:2]
        if position == "full":
            fit_w, fit_h, top, left = width, height, 0, 0
        else:
            margin = round(self.MARGIN * height)
            scale = min(
                1.0,
                self.MAX_WIDTH * width / src_w,
                max(1, width - 2 * margin) / src_w,
                max(1, height - 2 * margin) / src_h,
            )
            fit_w, fit_h = max(1, round(src_w * scale)), max(1, round(src_h * scale))
            top = margin if position.startswith("top") else height - margin - fit_h
            left = margin if position.endswith("left") else width - margin - fit_w
        bgr, alpha = _scaled(image_bgra, (fit_w, fit_h))
        # (top, bottom, left, right) of what shows, per strip; a piece that continues one
        # of the strip above with the same columns joins it (fewer, larger blends).
        spans: list[list[int]] = []
        for strip_top in range(0, fit_h, self.STRIP_ROWS):
            strip = alpha[strip_top : strip_top + self.STRIP_ROWS]
            columns = np.flatnonzero(strip.max(axis=0))
            if columns.size == 0:
                continue
            gaps = np.flatnonzero(np.diff(columns) > self.JOIN_GAP_PX)
            starts = [int(columns[0]), *(int(columns[g + 1]) for g in gaps)]
            ends = [*(int(columns[g]) + 1 for g in gaps), int(columns[-1]) + 1]
            for start, end in zip(starts, ends, strict=True):
                shown = np.flatnonzero(strip[:, start:end].max(axis=1))
                upper, lower = strip_top + int(shown[0]), strip_top + int(shown[-1]) + 1
                above = next((s for s in spans if s[1] == upper and s[2:] == [start, end]), None)
                if above is not None:
                    above[1] = lower
                else:
                    spans.append([upper, lower, start, end])
        self.pieces = [
            _Piece(
                (slice(top + upper, top + lower), slice(left + start, left + end)),
                bgr[upper:lower, start:end],
                alpha[upper:lower, start:end],
            )
            for upper, lower, start, end in spans
        ]

    @classmethod
    def from_file(cls, path: Path, size: tuple[int, int], position: str) -> Overlay:
        return cls(read_image_with_alpha(path, "overlay image"), size, position)

    def apply(self, frame_bgr: np.ndarray) -> None:
        for piece in self.pieces:
            piece.apply(frame_bgr)


def _scaled(image_bgra: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``image_bgra`` scaled to ``size``: its BGR and its alpha (uint8 each).

    Scaled premultiplied, so the colour of transparent pixels (often black or junk) does
    not darken the edges of what shows.
    """
    if image_bgra.shape[1::-1] == size:
        return image_bgra[:, :, :3], image_bgra[:, :, 3]
    alpha = image_bgra[:, :, 3].astype(np.float32)
    premultiplied = image_bgra[:, :, :3] * (alpha[:, :, None] / 255)
    shrinking = size[0] < image_bgra.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    scaled = cv2.resize(premultiplied.astype(np.float32), size, interpolation=interpolation)
    scaled_alpha = cv2.resize(alpha, size, interpolation=interpolation)
    bgr = scaled * (255 / np.maximum(scaled_alpha, 1e-3))[:, :, None]
    return (
        np.clip(bgr + 0.5, 0, 255).astype(np.uint8),
        np.clip(scaled_alpha + 0.5, 0, 255).astype(np.uint8),
    )


class Effects:
    """The output effects in order; applying none is free."""

    def __init__(self, steps: Sequence[Effect] = ()) -> None:
        self.steps = tuple(steps)

    def apply(self, frame_bgr: np.ndarray) -> None:
        for step in self.steps:
            step.apply(frame_bgr)


def make_effects(settings: BackgroundSettings, size: tuple[int, int]) -> Effects:
    """The mirror and overlay ``settings`` ask for, at ``size`` (width, height).

    Raises ``BackgroundError`` naming the overlay file when it is missing or unreadable.
    """
    steps: list[Effect] = []
    if settings.mirror:
        steps.append(Mirror())
    if settings.overlay:
        path = Path(settings.overlay).expanduser()
        steps.append(Overlay.from_file(path, size, settings.overlay_position))
    return Effects(steps)
