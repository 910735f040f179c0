"""Auto-framing: a digital pan and zoom inside the camera picture that keeps the people in
the call centred and sized like a well-framed shot, moving like a calm camera operator.

Where it sits: the person mask is found on the whole camera picture, then the picture and
its alpha are cropped and scaled to the output together, and the background is put behind
them at the output's own resolution. So the segmenters see a still camera (``diff`` and
``plate`` compare against the room as the camera sees it), the background stays still and
sharp instead of being zoomed and panned with the person, and a blurred background is the
framed camera picture blurred, as a real zoom would give.

How it moves (``Framer``): the people's bounding box (every kept person together) gives a
wanted crop: the box's centre in the middle, ``HEAD_ROOM`` of the crop above the head, the
head and shoulders in (the visible height capped at ``SHOULDERS_PER_WIDTH`` times the
box's width, so a seated person's desk is not what sets the zoom), zoom at most
``max_zoom``, never outside the picture. The crop follows the wanted one only when it
differs by more than a dead zone (talking, gesturing and swaying move nothing), then with a
critically damped spring of limited speed, so it settles within 2 s of a move and never
jerks; whatever the spring says, the head is never cut: the crop moves up at once if the
head would leave it. With nobody in view it eases back to the whole picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Space above the head, as a share of the crop's height.
HEAD_ROOM = 0.12
# The head's top must stay at least this share of the crop's height inside it.
HEAD_MARGIN = 0.03
# A person's visible height that matters for framing: head and shoulders are about this
# many times the shoulders' width (the box's width) tall.
SHOULDERS_PER_WIDTH = 1.5
# Of the crop's width, the people's box may fill at most this much.
WIDTH_FILL = 0.75
# The crop follows only when the wanted one differs by more than this share of the
# picture (centre) or of the crop's height (size): a dead zone against jitter.
DEAD_ZONE_CENTRE = 0.06
DEAD_ZONE_SIZE = 0.10
# The spring: critically damped with this time constant, at most this fast (pictures a
# second) - about 1.3 s to settle after a move.
SMOOTH_TIME_S = 0.3
MAX_SPEED = 0.8
# Mask values that count as person for the box.
BOX_ALPHA = 128
# The head is looked for in this middle share of the people's columns: a hand raised beside
# the head, or a lamp above a shoulder, is not the top of anyone's head.
HEAD_COLUMNS = 0.4
# A longer gap between frames (a pause, a stall) moves the crop as if this long passed.
MAX_STEP_S = 0.2


@dataclass(frozen=True)
class Crop:
    """A rectangle of the camera picture: left, top, width, height (pixels, floats)."""

    x: float
    y: float
    w: float
    h: float

    def rounded(self) -> tuple[int, int, int, int]:
        return round(self.x), round(self.y), max(1, round(self.w)), max(1, round(self.h))


def person_box(mask: np.ndarray, frame_size: tuple[int, int]) -> tuple[float, ...] | None:
    """(left, head top, right, bottom) in frame pixels of the people in a mask of any size
    covering the frame (a segmenter's small mask: 0.03 ms); None with nobody in view. The
    top is the head's: the highest person pixel in the middle ``HEAD_COLUMNS`` of the
    people's columns, so a raised hand does not count as a head."""
    solid = cv2.inRange(mask, BOX_ALPHA, 255)
    x, y, w, h = cv2.boundingRect(solid)
    if w == 0 or h == 0:
        return None
    margin = round(w * (1 - HEAD_COLUMNS) / 2)
    middle = solid[y : y + h, x + margin : x + w - margin]
    rows = np.flatnonzero(middle.max(axis=1)) if middle.size else np.empty(0, np.intp)
    top = y + (int(rows[0]) if rows.size else 0)
    sx, sy = frame_size[0] / mask.shape[1], frame_size[1] / mask.shape[0]
    return x * sx, top * sy, (x + w) * sx, (y + h) * sy


def window_map(
    crop: Crop,
    source_size: tuple[int, int],
    frame_size: tuple[int, int],
    out_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """The affine map (for ``cv2.warpAffine`` with ``WARP_INVERSE_MAP``) from a pixel of the
    framed output (``out_size``, the frame's by default) to a pixel of a picture of
    ``source_size`` covering the whole frame (``crop`` is in frame pixels): what
    ``cv2.resize`` of the crop would sample, with the crop's fractional edges kept, so a
    slow pan glides instead of stepping a pixel at a time."""
    frame_w, frame_h = frame_size
    out_w, out_h = out_size or frame_size
    sx, sy = source_size[0] / frame_w, source_size[1] / frame_h
    scale_x, scale_y = crop.w / out_w, crop.h / out_h
    return np.array(
        [
            [scale_x * sx, 0.0, (crop.x + 0.5 * scale_x) * sx - 0.5],
            [0.0, scale_y * sy, (crop.y + 0.5 * scale_y) * sy - 0.5],
        ]
    )


def warp_window(
    source: np.ndarray,
    crop: Crop,
    frame_size: tuple[int, int],
    dst: np.ndarray,
    out_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """The part of ``source`` (any size covering the whole frame) under ``crop``, scaled
    into ``dst`` (``out_size``, the frame's by default)."""
    size = out_size or frame_size
    matrix = window_map(crop, (source.shape[1], source.shape[0]), frame_size, size)
    return cv2.warpAffine(
        source,
        matrix,
        size,
        dst=dst,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def wanted_crop(
    box: tuple[float, ...] | None, frame_size: tuple[int, int], max_zoom: float
) -> Crop:
    """The crop that frames the people in ``box`` well (the whole picture without one)."""
    frame_w, frame_h = frame_size
    if box is None:
        return Crop(0.0, 0.0, float(frame_w), float(frame_h))
    left, top, right, bottom = box
    aspect = frame_w / frame_h
    shown_h = min(bottom - top, SHOULDERS_PER_WIDTH * (right - left))
    height = max(
        shown_h / (1 - HEAD_ROOM),
        (right - left) / WIDTH_FILL / aspect,
        frame_h / max(1.0, max_zoom),
    )
    height = min(float(frame_h), height)
    width = height * aspect
    x = (left + right) / 2 - width / 2
    y = top - HEAD_ROOM * height
    return clamp(Crop(x, y, width, height), frame_size)


def clamp(crop: Crop, frame_size: tuple[int, int]) -> Crop:
    """``crop`` moved (never resized) to lie inside the picture."""
    frame_w, frame_h = frame_size
    x = min(max(crop.x, 0.0), frame_w - crop.w)
    y = min(max(crop.y, 0.0), frame_h - crop.h)
    return Crop(x, y, crop.w, crop.h)


class _Spring:
    """One coordinate following its target: critically damped, speed-limited (Game
    Programming Gems 4, "Critically damped ease-in/ease-out smoothing")."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.velocity = 0.0

    def step(self, target: float, dt_s: float, max_speed: float) -> float:
        omega = 2.0 / SMOOTH_TIME_S
        x = omega * dt_s
        decay = 1.0 / (1.0 + x + 0.48 * x * x + 0.235 * x * x * x)
        change = self.value - target
        limit = max_speed * SMOOTH_TIME_S
        change = max(-limit, min(limit, change))
        goal = self.value - change
        temp = (self.velocity + omega * change) * dt_s
        self.velocity = (self.velocity - omega * temp) * decay
        self.value = goal + (change + temp) * decay
        return self.value


class Framer:
    """Where the crop is, frame after frame; ``reset`` after a cut (a new camera)."""

    def __init__(self, max_zoom: float = 2.0) -> None:
        self.max_zoom = max_zoom
        self._frame_size: tuple[int, int] | None = None
        self._target: Crop | None = None
        self._springs: tuple[_Spring, _Spring, _Spring] | None = None

    def reset(self) -> None:
        self._frame_size = None

    def _follow(self, wanted: Crop, frame_w: int, frame_h: int) -> Crop:
        """The target moves to ``wanted`` only when it left the dead zone."""
        target = self._target
        if target is None:
            return wanted
        moved = max(
            abs((wanted.x + wanted.w / 2) - (target.x + target.w / 2)) / frame_w,
            abs((wanted.y + wanted.h / 2) - (target.y + target.h / 2)) / frame_h,
        )
        resized = abs(wanted.h - target.h) / target.h
        return wanted if moved > DEAD_ZONE_CENTRE or resized > DEAD_ZONE_SIZE else target

    def crop_for(
        self, box: tuple[float, ...] | None, frame_size: tuple[int, int], dt_s: float
    ) -> Crop:
        """The crop for this frame, given the people's box in it and the time since the
        last frame."""
        frame_w, frame_h = frame_size
        wanted = wanted_crop(box, frame_size, self.max_zoom)
        if self._frame_size != frame_size or self._springs is None:
            # A new stream starts on the whole picture and moves in like any other move.
            self._frame_size = frame_size
            self._target = None
            self._springs = (_Spring(frame_w / 2), _Spring(frame_h / 2), _Spring(float(frame_h)))
        self._target = self._follow(wanted, frame_w, frame_h)
        target = self._target
        spring_x, spring_y, spring_h = self._springs
        height = spring_h.step(target.h, dt_s, MAX_SPEED * frame_h)
        height = min(float(frame_h), max(frame_h / max(1.0, self.max_zoom), height))
        width = height * frame_w / frame_h
        centre_x = spring_x.step(target.x + target.w / 2, dt_s, MAX_SPEED * frame_w)
        centre_y = spring_y.step(target.y + target.h / 2, dt_s, MAX_SPEED * frame_h)
        crop = clamp(Crop(centre_x - width / 2, centre_y - height / 2, width, height), frame_size)
        if box is not None and box[1] < crop.y + HEAD_MARGIN * crop.h:
            # The head would be cut: up at once, whatever the spring says.
            crop = clamp(Crop(crop.x, box[1] - HEAD_MARGIN * crop.h, width, height), frame_size)
            spring_y.value, spring_y.velocity = crop.y + height / 2, 0.0
        return crop


class FramingStage:
    """The framer in the compositor: ``decide`` the crop from the segmenter's mask, then
    ``frame`` the camera picture (the alpha is made for the same window by the matte, see
    ``compose.Masker``). A 720p frame costs one ``warpAffine``: 0.7 ms flat out here, 1.1 ms
    paced at 30 fps (the frame cold in the cache)."""

    def __init__(self, max_zoom: float = 2.0, fps: float = 30.0) -> None:
        self.framer = Framer(max_zoom)
        self.period_s = 1.0 / fps
        self.crop: Crop | None = None
        self._frame: np.ndarray | None = None
        self._last_t_s: float | None = None

    def reset(self) -> None:
        self.framer.reset()
        self._last_t_s = None

    def decide(
        self, mask: np.ndarray, frame_size: tuple[int, int], t_s: float | None = None
    ) -> Crop | None:
        """This frame's crop, from the people in ``mask``; None for the whole picture.

        ``t_s``: the frame's time, so a machine that drops frames moves the crop as far in
        a second as one that does not (one frame period without it)."""
        dt_s = self.period_s
        if t_s is not None:
            if self._last_t_s is not None:
                dt_s = min(MAX_STEP_S, max(0.0, t_s - self._last_t_s))
            self._last_t_s = t_s
        crop = self.framer.crop_for(person_box(mask, frame_size), frame_size, dt_s)
        self.crop = crop
        if crop.rounded() == (0, 0, frame_size[0], frame_size[1]):
            return None
        return crop

    def frame(
        self, frame_bgr: np.ndarray, crop: Crop, out_size: tuple[int, int] | None = None
    ) -> np.ndarray:
        """The camera picture under ``crop``, scaled to ``out_size`` (the frame's by
        default), in a buffer of its own."""
        height, width = frame_bgr.shape[:2]
        size = out_size or (width, height)
        if self._frame is None or self._frame.shape[:2] != (size[1], size[0]):
            self._frame = np.empty((size[1], size[0], 3), np.uint8)
        return warp_window(frame_bgr, crop, (width, height), self._frame, size)
