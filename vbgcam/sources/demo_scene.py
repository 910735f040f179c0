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


def _shade(
    canvas: np.ndarray, region: np.ndarray, colour: tuple[int, int, int], strength: float
) -> None:
    """Fill ``region`` with ``colour`` lit from the upper left, like a rounded surface.

    Flat cartoon shapes are not people to a segmentation network; shading and a face are.
    """
    ys, xs = np.nonzero(region)
    if xs.size == 0:
        return
    centre_x, centre_y = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    radius_x = max(1.0, (xs.max() - xs.min()) / 2)
    radius_y = max(1.0, (ys.max() - ys.min()) / 2)
    nx, ny = (xs - centre_x) / radius_x, (ys - centre_y) / radius_y
    light = 1 + strength * (0.3 * -nx + 0.5 * ny * -1 - 0.3 * (nx * nx + ny * ny))
    shaded = np.asarray(colour, np.float32)[None, :] * light[:, None]
    canvas[ys, xs] = np.clip(shaded, 0, 255).astype(np.uint8)


SKIN = (125, 165, 220)
SHIRT = (150, 90, 60)
HAIR = (35, 45, 60)


class DemoScene:
    """Renders frame ``t`` of the scene into a caller's buffer, with its exact person mask.

    The figure (head, face, hair, neck, shoulders) is drawn once as a shaded sprite; each
    frame moves it (sway and a slight bob) and draws the waving arm, so a frame costs little
    more than a copy.
    """

    def __init__(
        self,
        width: int,
        height: int,
        person_scale: float = 1.0,
        person_x: float = 0.5,
        sway: float = 0.2,
    ) -> None:
        """``person_scale`` < 1 seats the person further back (smaller, lower in the
        picture), ``person_x`` is where they sit across it (0.5: the middle), ``sway`` how
        far they sway, as a share of the width."""
        self.width = width
        self.height = height
        self.person_x = person_x
        self.sway = sway
        # Sized for 16:9; a narrower frame shrinks the figure so it never fills the width.
        self._room_unit = min(height / 720, width / 1280)
        self._unit = self._room_unit * person_scale
        self.room = make_room(width, height)
        self._sprite, self._sprite_mask = self._make_sprite()
        # The body runs off the bottom of the picture at any scale.
        self._top = height - round((720 - 20) * self._unit)

    def _px(self, value: float) -> int:
        return round(value * self._unit)

    def _make_sprite(self) -> tuple[np.ndarray, np.ndarray]:
        """The figure without its arm, centred in a box 640 x 760 units (extra room below,
        so the bob never shows the bottom of the sprite)."""
        px = self._px
        width, height = px(640), px(760)
        cx = width // 2
        sprite = np.zeros((height, width, 3), np.uint8)

        def region(draw: object) -> np.ndarray:
            canvas = np.zeros((height, width), np.uint8)
            draw(canvas)  # type: ignore[operator]
            return canvas > 0

        torso = region(
            lambda c: cv2.ellipse(c, (cx, px(760)), (px(300), px(350)), 0, 180, 360, 255, -1)
        )
        torso[px(700) :] = torso[px(700) :] | (np.abs(np.arange(width) - cx) < px(300))[None, :]
        neck = region(
            lambda c: cv2.rectangle(c, (cx - px(45), px(290)), (cx + px(45), px(430)), 255, -1)
        )
        face = region(
            lambda c: cv2.ellipse(c, (cx, px(250)), (px(92), px(118)), 0, 0, 360, 255, -1)
        )
        ears = region(
            lambda c: [
                cv2.ellipse(c, (cx + side * px(92), px(255)), (px(16), px(28)), 0, 0, 360, 255, -1)
                for side in (-1, 1)
            ]
        )
        hair = region(
            lambda c: [
                cv2.ellipse(c, (cx, px(215)), (px(100), px(100)), 0, 180, 360, 255, -1),
                cv2.rectangle(c, (cx - px(100), px(205)), (cx - px(80), px(270)), 255, -1),
                cv2.rectangle(c, (cx + px(80), px(205)), (cx + px(100), px(270)), 255, -1),
            ]
        )
        _shade(sprite, torso, SHIRT, 0.35)
        # Vertical pinstripes: the shirt has texture, so motion shows inside it too.
        stripes = np.zeros((height, width), bool)
        stripes[:, (np.arange(width) // max(2, px(18))) % 3 == 0] = True
        sprite[torso & stripes] = (sprite[torso & stripes] * 0.75).astype(np.uint8)
        _shade(sprite, neck, SKIN, 0.2)
        _shade(sprite, ears, SKIN, 0.35)
        _shade(sprite, face, SKIN, 0.35)
        _shade(sprite, hair, HAIR, 0.5)
        aa = cv2.LINE_AA
        cv2.ellipse(
            sprite, (cx, px(435)), (px(62), px(30)), 0, 0, 180, (230, 230, 235), max(1, px(8)), aa
        )
        for side in (-1, 1):
            eye = (cx + side * px(36), px(252))
            cv2.ellipse(sprite, eye, (px(17), px(9)), 0, 0, 360, (245, 245, 245), -1, aa)
            cv2.circle(sprite, eye, px(7), (60, 50, 40), -1, aa)
            cv2.circle(sprite, eye, max(1, px(3)), (10, 10, 10), -1, aa)
            brow = (eye[0], eye[1] - px(22))
            cv2.ellipse(sprite, brow, (px(22), px(6)), 0, 180, 360, (40, 50, 60), max(1, px(4)), aa)
        cv2.line(sprite, (cx, px(262)), (cx - px(6), px(297)), (95, 130, 185), max(1, px(4)), aa)
        cv2.ellipse(
            sprite, (cx, px(297)), (px(14), px(6)), 0, 0, 180, (90, 125, 180), max(1, px(3)), aa
        )
        cv2.ellipse(
            sprite, (cx, px(327)), (px(28), px(10)), 0, 0, 180, (80, 80, 170), max(1, px(5)), aa
        )
        mask = np.where(torso | neck | face | ears | hair, 255, 0).astype(np.uint8)
        return sprite, mask

    def _placement(self, t_s: float) -> tuple[int, int, float]:
        """Sprite offset (left, top) in the frame and the arm's wave phase (radians)."""
        sway = self.sway * self.width * math.sin(2 * math.pi * t_s / SWAY_PERIOD_S)
        bob = self._px(10) * math.sin(2 * math.pi * t_s / (SWAY_PERIOD_S / 2))
        left = round(self.person_x * self.width + sway) - self._sprite.shape[1] // 2
        top = self._top + round(bob)
        return left, top, 2 * math.pi * t_s / WAVE_PERIOD_S

    def _paste(
        self, canvas: np.ndarray, sprite: np.ndarray, mask: np.ndarray, left: int, top: int
    ) -> None:
        height, width = sprite.shape[:2]
        x0, y0 = max(0, left), max(0, top)
        x1, y1 = min(self.width, left + width), min(self.height, top + height)
        if x1 <= x0 or y1 <= y0:
            return
        cut = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
        cv2.copyTo(sprite[cut], mask[cut], canvas[y0:y1, x0:x1])

    def _arm(
        self, left: int, top: int, wave: float
    ) -> tuple[tuple[int, int], tuple[int, int], int, int]:
        px = self._px
        cx = left + self._sprite.shape[1] // 2
        shoulder = (cx + px(230), top + px(520))
        # The hand circles, so some part of the figure moves in every frame.
        hand = (
            cx + px(330) + round(px(40) * math.sin(wave)),
            top + px(300) + round(px(25) * math.cos(wave)),
        )
        return shoulder, hand, px(70), px(38)

    def render(self, t_s: float, frame_bgr: np.ndarray) -> None:
        """Draw the scene at ``t_s`` seconds into ``frame_bgr`` (height x width x 3 uint8)."""
        np.copyto(frame_bgr, self.room)
        left, top, wave = self._placement(t_s)
        shoulder, hand, arm_px, hand_px = self._arm(left, top, wave)
        cv2.line(frame_bgr, shoulder, hand, SHIRT, arm_px, cv2.LINE_AA)
        cv2.circle(frame_bgr, hand, hand_px, SKIN, -1, cv2.LINE_AA)
        self._paste(frame_bgr, self._sprite, self._sprite_mask, left, top)

    def person_mask(self, t_s: float) -> np.ndarray:
        """The figure's exact mask at ``t_s``: uint8, 255 = person, 0 = room."""
        mask = np.zeros((self.height, self.width), np.uint8)
        left, top, wave = self._placement(t_s)
        shoulder, hand, arm_px, hand_px = self._arm(left, top, wave)
        cv2.line(mask, shoulder, hand, 255, arm_px, cv2.LINE_8)
        cv2.circle(mask, hand, hand_px, 255, -1, cv2.LINE_8)
        self._paste(mask, self._sprite_mask, self._sprite_mask, left, top)
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
