"""A generated webcam scene: a figure that sways and waves in front of a still room.

It lets a newcomer try vbgcam with no webcam, and gives tests frames whose person mask is
known exactly. Everything depends on the frame time alone (no randomness, no clock), so
the same time always gives the same picture.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SWAY_PERIOD_S = 4.0
WAVE_PERIOD_S = 1.2


def make_room(width: int, height: int) -> np.ndarray:
    """The empty room behind the figure: a wall, a window, a shelf, a floor (BGR uint8)."""
    unit = height / 720
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    wall = np.empty((height, width, 3), np.float32)
    for channel, (top, bottom) in enumerate(((182, 140), (196, 158), (214, 176))):
        wall[:, :, channel] = top + (bottom - top) * rows
    room = wall.astype(np.uint8)

    def px(value: float) -> int:
        return round(value * unit)

    floor_y = px(600)
    room[floor_y:] = (70, 96, 128)
    for x in range(0, width, px(90) or 1):
        cv2.line(room, (x, floor_y), (x - px(60), height), (60, 84, 112), max(1, px(3)))
    window = (px(80), px(90), px(360), px(380))
    cv2.rectangle(room, window[:2], window[2:], (235, 215, 170), -1)
    cv2.rectangle(room, window[:2], window[2:], (240, 244, 246), max(1, px(14)))
    mid_x = (window[0] + window[2]) // 2
    mid_y = (window[1] + window[3]) // 2
    cv2.line(room, (mid_x, window[1]), (mid_x, window[3]), (240, 244, 246), max(1, px(8)))
    cv2.line(room, (window[0], mid_y), (window[2], mid_y), (240, 244, 246), max(1, px(8)))
    shelf_x = width - px(420)
    for shelf in range(3):
        y = px(170 + shelf * 130)
        cv2.rectangle(room, (shelf_x, y), (shelf_x + px(330), y + px(14)), (40, 70, 110), -1)
        for book in range(9):
            hue = (book * 37 + shelf * 53) % 180
            colour = cv2.cvtColor(np.array([[[hue, 150, 170]]], np.uint8), cv2.COLOR_HSV2BGR)[0, 0]
            left = shelf_x + px(12 + book * 34)
            top = y - px(70 + (book * 13 + shelf * 7) % 35)
            cv2.rectangle(room, (left, top), (left + px(26), y), colour.tolist(), -1)
    cv2.ellipse(room, (px(560), px(560)), (px(60), px(110)), 0, 0, 360, (60, 130, 60), -1)
    cv2.rectangle(room, (px(520), px(600)), (px(600), px(680)), (50, 80, 150), -1)
    return room


class DemoScene:
    """Renders frame ``t`` of the scene into a caller's buffer, with its exact person mask."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self._unit = height / 720
        self.room = make_room(width, height)

    def _px(self, value: float) -> int:
        return round(value * self._unit)

    def _shapes(self, t_s: float) -> list[tuple[str, tuple, tuple[int, int, int]]]:
        """The figure as drawing commands at time ``t_s``; shared by frame and mask."""
        px = self._px
        centre_x = self.width / 2 + 0.22 * self.width * math.sin(2 * math.pi * t_s / SWAY_PERIOD_S)
        cx = round(centre_x)
        head_y = px(250) + px(10) * math.sin(2 * math.pi * t_s / (SWAY_PERIOD_S / 2))
        head_y = round(head_y)
        shoulder_y = head_y + px(130)
        wave = math.sin(2 * math.pi * t_s / WAVE_PERIOD_S)
        hand = (
            cx + px(220) + int(px(50) * wave),
            shoulder_y - px(170) + int(px(30) * abs(wave)),
        )
        torso = np.array(
            [
                (cx - px(150), self.height),
                (cx - px(140), shoulder_y + px(40)),
                (cx - px(90), shoulder_y),
                (cx + px(90), shoulder_y),
                (cx + px(140), shoulder_y + px(40)),
                (cx + px(150), self.height),
            ],
            np.int32,
        )
        return [
            ("poly", (torso,), (60, 60, 170)),
            ("line", ((cx + px(115), shoulder_y + px(40)), hand, px(48)), (60, 60, 170)),
            ("circle", (hand, px(32)), (120, 160, 215)),
            (
                "rect",
                ((cx - px(35), head_y + px(60)), (cx + px(35), shoulder_y + px(10))),
                (110, 150, 205),
            ),
            ("ellipse", ((cx, head_y), (px(78), px(98))), (120, 160, 215)),
            ("ellipse_top", ((cx, head_y - px(20)), (px(84), px(88))), (40, 50, 70)),
        ]

    def _draw(self, canvas: np.ndarray, t_s: float, mask: bool) -> None:
        line = cv2.LINE_8 if mask else cv2.LINE_AA
        for kind, args, colour in self._shapes(t_s):
            fill = 255 if mask else colour
            if kind == "poly":
                cv2.fillPoly(canvas, [args[0]], fill, line)
            elif kind == "line":
                cv2.line(canvas, args[0], args[1], fill, args[2], line)
            elif kind == "circle":
                cv2.circle(canvas, args[0], args[1], fill, -1, line)
            elif kind == "rect":
                cv2.rectangle(canvas, args[0], args[1], fill, -1, line)
            elif kind == "ellipse":
                cv2.ellipse(canvas, args[0], args[1], 0, 0, 360, fill, -1, line)
            elif kind == "ellipse_top":
                cv2.ellipse(canvas, args[0], args[1], 0, 180, 360, fill, -1, line)

    def _texture(self, frame: np.ndarray, t_s: float) -> None:
        """Stripes on the shirt, so that motion shows inside the figure, not just at its rim."""
        torso = self._shapes(t_s)[0][1][0]
        top = int(torso[1][1]) + self._px(10)
        left, right = int(torso[1][0]) + self._px(12), int(torso[4][0]) - self._px(12)
        step = max(4, self._px(28))
        for y in range(top, self.height, step):
            cv2.line(
                frame, (left, y), (right, y), (235, 235, 245), max(1, self._px(8)), cv2.LINE_AA
            )

    def render(self, t_s: float, frame_bgr: np.ndarray) -> None:
        """Draw the scene at ``t_s`` seconds into ``frame_bgr`` (height x width x 3 uint8)."""
        np.copyto(frame_bgr, self.room)
        self._draw(frame_bgr, t_s, mask=False)
        self._texture(frame_bgr, t_s)

    def person_mask(self, t_s: float) -> np.ndarray:
        """The figure's exact mask at ``t_s``: uint8, 255 = person, 0 = room."""
        mask = np.zeros((self.height, self.width), np.uint8)
        self._draw(mask, t_s, mask=True)
        return mask


def make_beach(width: int, height: int) -> np.ndarray:
    """A generated beach picture (sky, sun, sea, sand), the demo's stand-in for a photo."""
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    sky = (
        np.array([250, 200, 120], np.float32) * (1 - rows)
        + np.array([250, 235, 200], np.float32) * rows
    )
    picture = np.broadcast_to(sky, (height, width, 3)).astype(np.uint8).copy()
    horizon = int(height * 0.55)
    shore = int(height * 0.75)
    sea_rows = np.linspace(0.0, 1.0, shore - horizon, dtype=np.float32)[:, None, None]
    sea = (
        np.array([170, 120, 30], np.float32) * (1 - sea_rows)
        + np.array([190, 170, 60], np.float32) * sea_rows
    )
    picture[horizon:shore] = sea.astype(np.uint8)
    picture[shore:] = (150, 205, 235)
    columns = np.arange(width, dtype=np.float32)
    for band in range(6):
        y = horizon + (shore - horizon) * (band + 1) / 7
        wave = (y + 0.01 * height * np.sin(columns / (0.02 * width + band))).astype(np.int32)
        points = np.stack([columns.astype(np.int32), wave], axis=1)
        cv2.polylines(picture, [points], False, (230, 220, 190), max(1, height // 360), cv2.LINE_AA)
    sun = (int(width * 0.78), int(height * 0.22))
    cv2.circle(picture, sun, int(height * 0.08), (170, 235, 255), -1, cv2.LINE_AA)
    cv2.circle(picture, sun, int(height * 0.065), (200, 250, 255), -1, cv2.LINE_AA)
    return cv2.GaussianBlur(picture, (0, 0), max(0.6, height / 1080))
