"""The compositor: camera frame in, the person over the new background out.

Segmenter, matte, background, blend and output effects run in that order on the caller's
thread; the output goes into the caller's buffer, so the hot path allocates nothing at frame
size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from vbgcam.backgrounds import Background
from vbgcam.effects import Effects
from vbgcam.framing import Crop, FramingStage, warp_window
from vbgcam.matte import Matte
from vbgcam.segmenters import Segmenter
from vbgcam.segmenters.people import MainPerson
from vbgcam.shrink import shrink, working_size

# The binary blend copies in bands of this many rows, so the destination rows are still in
# the cache for the second copy: 0.46 ms instead of 0.49 ms at 1280x720 here (48: 0.47).
BINARY_STRIP_ROWS = 90


def blend_binary(
    frame_bgr: np.ndarray, background_bgr: np.ndarray, mask: np.ndarray, dst: np.ndarray
) -> None:
    """``dst`` = the frame where ``mask`` is set (non-zero), the background elsewhere."""
    height = dst.shape[0]
    for top in range(0, height, BINARY_STRIP_ROWS):
        rows = slice(top, min(height, top + BINARY_STRIP_ROWS))
        np.copyto(dst[rows], background_bgr[rows])
        cv2.copyTo(frame_bgr[rows], mask[rows], dst[rows])


class SoftBlender:
    """``dst = frame * alpha + background * (1 - alpha)`` with per-pixel alpha 0..255.

    A refined matte is 0 or 255 almost everywhere: only a band a few pixels wide along the
    person's outline is partly transparent (4 % of a 720p frame here). So the frame is built
    from two cheap copies (background everywhere, frame wherever alpha is not 0) and only
    rectangles covering the band, found per horizontal strip, are blended, in 8-bit
    OpenCV arithmetic: ``round(frame * alpha / 255) + round(background * (255 - alpha) /
    255)``, within one level of the exact blend and exact where alpha is 0 or 255.
    1.3 ms instead of 1.7 ms for the float blend over the same band at 1280x720 here
    (``cv2.blendLinear`` alone costs 3.5 ns a pixel; these five calls together 1.6).
    """

    STRIP_ROWS = 48
    # Band pieces closer than this are blended as one rectangle (fewer, larger calls).
    JOIN_GAP_PX = 16
    _JOIN = np.ones((1, JOIN_GAP_PX + 1), np.uint8)

    def __init__(self) -> None:
        self._shape: tuple[int, int] | None = None

    def _allocate(self, height: int, width: int) -> None:
        self._shape = (height, width)
        strips = -(-height // self.STRIP_ROWS)
        # Padded to whole strips, so one reshape gives every strip's rows.
        self._band_padded = np.zeros((strips * self.STRIP_ROWS, width), np.uint8)
        self._band = self._band_padded[:height]
        self._columns = np.zeros((strips, width + 2), np.int8)
        # Scratch for one rectangle: at most a strip's rows by the frame's width.
        self._alpha3 = np.empty((self.STRIP_ROWS, width, 3), np.uint8)
        self._rest3 = np.empty_like(self._alpha3)
        self._part = np.empty_like(self._alpha3)

    def _band_rectangles(self) -> list[tuple[int, int, int]]:
        """(strip, left, right) of each rectangle that covers the band."""
        width = self._band.shape[1]
        columns = self._band_padded.reshape(-1, self.STRIP_ROWS, width).max(axis=1)
        cv2.morphologyEx(columns, cv2.MORPH_CLOSE, self._JOIN, dst=columns)
        np.not_equal(columns, 0, out=self._columns[:, 1:-1], casting="unsafe")
        steps = np.diff(self._columns, axis=1)
        strips, lefts = np.nonzero(steps == 1)
        rights = np.nonzero(steps == -1)[1]
        return list(zip(strips.tolist(), lefts.tolist(), rights.tolist(), strict=True))

    def blend(
        self,
        frame_bgr: np.ndarray,
        background_bgr: np.ndarray,
        alpha: np.ndarray,
        dst: np.ndarray,
    ) -> None:
        height, width = alpha.shape
        if self._shape != (height, width):
            self._allocate(height, width)
        np.copyto(dst, background_bgr)
        # Also copies the band, which is blended over below.
        cv2.copyTo(frame_bgr, alpha, dst)
        cv2.inRange(alpha, 1, 254, dst=self._band)
        for strip, left, right in self._band_rectangles():
            top = strip * self.STRIP_ROWS
            cut = (slice(top, min(height, top + self.STRIP_ROWS)), slice(left, right))
            alpha_cut = alpha[cut]
            rows, columns = alpha_cut.shape
            alpha3 = self._alpha3[:rows, :columns]
            rest3 = self._rest3[:rows, :columns]
            part = self._part[:rows, :columns]
            cv2.cvtColor(alpha_cut, cv2.COLOR_GRAY2BGR, dst=alpha3)
            cv2.bitwise_not(alpha3, dst=rest3)
            cv2.multiply(frame_bgr[cut], alpha3, dst=part, scale=1 / 255)
            cv2.multiply(background_bgr[cut], rest3, dst=rest3, scale=1 / 255)
            cv2.add(part, rest3, dst=dst[cut])


@dataclass
class StageTimes:
    """Milliseconds the last frame spent in each stage, for stats and the benchmark."""

    segment_ms: float = 0.0
    refine_ms: float = 0.0
    background_ms: float = 0.0
    blend_ms: float = 0.0
    framing_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return (
            self.segment_ms + self.refine_ms + self.background_ms + self.blend_ms + self.framing_ms
        )


class Masker:
    """Segmenter and optional matte: a frame in, its frame-size alpha out.

    The frame is shrunk once to the working size and handed to both. Without a matte, a
    mask smaller than the frame is scaled up, and a ``binary`` full-size mask (the original
    method) passes through untouched: ``copy_through`` tells the blender it can copy. With
    ``people`` (``people = "main"``), everyone but the main person is taken out of the
    segmenter's mask before the matte sees it.
    """

    def __init__(
        self, segmenter: Segmenter, matte: Matte | None = None, people: MainPerson | None = None
    ) -> None:
        self.segmenter = segmenter
        self.matte = matte
        self.people = people
        self.copy_through = matte is None and getattr(segmenter, "binary", False)
        self.segment_ms = 0.0
        self.refine_ms = 0.0
        # The sizes and the alpha of the last frame, while it may be handed out again.
        self._last: tuple[tuple[tuple[int, int], tuple[int, int]], np.ndarray] | None = None
        self._scaled_mask: np.ndarray | None = None
        self._small: np.ndarray | None = None
        self._half: np.ndarray | None = None
        self._sees_half = getattr(segmenter, "sees_half_frame", False)

    def reset(self) -> None:
        self.segmenter.reset()
        self.forget_alpha()
        if self.matte is not None:
            self.matte.reset()
        if self.people is not None:
            self.people.reset()

    def forget_alpha(self) -> None:
        """The next alpha is made afresh, whatever the segmenter hands out."""
        self._last = None

    def _unchanged(self) -> bool:
        """Whether the segmenter handed out last frame's mask again because the picture did
        not change (``reuse.py``): the alpha made from it last frame is then still right,
        and the matte (1.5 ms a 720p frame here) or the scaling is skipped. On the eval
        clips the picture is unchanged on 41 % of the frames (the empty room before and
        after, the still person)."""
        return bool(getattr(self.segmenter, "unchanged", False))

    def _working_copy(self, frame_bgr: np.ndarray) -> np.ndarray:
        """The frame at the working size, by way of the frame halved (``_half``) when it is
        at least twice that size: the same steps ``shrink`` takes, with the half kept for a
        segmenter that looks at it (``sees_half_frame``)."""
        width, height = working_size(frame_bgr.shape)
        if self._small is None or self._small.shape[:2] != (height, width):
            self._small = np.empty((height, width, 3), np.uint8)
        frame_height, frame_width = frame_bgr.shape[:2]
        if frame_width < 2 * width or frame_height < 2 * height:
            self._half = None
            return shrink(frame_bgr, (width, height), dst=self._small)
        half_size = (frame_width // 2, frame_height // 2)
        if self._half is None or self._half.shape[1::-1] != half_size:
            self._half = np.empty((half_size[1], half_size[0], 3), np.uint8)
        cv2.resize(frame_bgr, half_size, dst=self._half, interpolation=cv2.INTER_AREA)
        return shrink(self._half, (width, height), dst=self._small)

    def _scaled(
        self,
        mask: np.ndarray,
        frame_size: tuple[int, int],
        out_size: tuple[int, int],
        window: Crop | None = None,
    ) -> np.ndarray:
        """A segmenter's mask (covering the frame) at ``out_size``; with ``window``, only
        that part of the frame."""
        width, height = out_size
        if window is None and mask.shape == (height, width):
            return mask
        if self._scaled_mask is None or self._scaled_mask.shape != (height, width):
            self._scaled_mask = np.empty((height, width), np.uint8)
        if window is not None:
            return warp_window(mask, window, frame_size, self._scaled_mask, out_size)
        cv2.resize(mask, out_size, dst=self._scaled_mask, interpolation=cv2.INTER_LINEAR)
        return self._scaled_mask

    def segment(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The segmenter's mask (everyone but the kept people taken out) at its own size,
        and the frame at the working size (None for a full-size binary segmenter)."""
        start = time.perf_counter()
        small = None if self.copy_through else self._working_copy(frame_bgr)
        # A segmenter that only looks at a reduced picture gets the frame halved, which the
        # working copy was made from: one full-size pass less (0.6-0.8 ms a 720p frame paced
        # at 30 fps here, where the frame is no longer in the cache).
        seen = self._half if self._half is not None and self._sees_half else frame_bgr
        mask = self.segmenter.segment(seen, small)
        if not self._unchanged():
            # Dropped here, not when the new alpha is made: a frame whose compositing fails
            # after this point must not leave an older alpha to be handed out again.
            self._last = None
        if self.people is not None:
            mask = self.people.keep(mask)
        self.segment_ms = (time.perf_counter() - start) * 1e3
        return mask, small

    def alpha_for(
        self,
        frame_bgr: np.ndarray,
        mask: np.ndarray,
        small: np.ndarray | None,
        window: Crop | None = None,
        out_size: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """The frame-size alpha from ``segment``'s answer; with ``window``, of that part of
        the frame scaled to ``out_size`` (framing; the frame's size by default), made
        straight from the small alpha."""
        start = time.perf_counter()
        frame_size = (frame_bgr.shape[1], frame_bgr.shape[0])
        sizes = (frame_size, out_size or frame_size)
        # ``segment`` dropped the kept alpha unless the segmenter reported an unchanged mask.
        if window is None and self._last is not None and self._last[0] == sizes:
            alpha = self._last[1]
        elif self.matte is not None:
            alpha = self.matte.refine(frame_bgr, mask, small, window, out_size)
        else:
            alpha = self._scaled(mask, frame_size, out_size or frame_size, window)
        # Framing moves its window from frame to frame, and people = main may change its
        # mind on the same mask: their alphas are made afresh every frame. The matte's
        # alpha is kept only once its smoothing has caught up with the mask: kept halfway,
        # an arm the network just found would stay half-faded until its next run.
        settled = self.matte is None or self.matte.settled
        keep = window is None and self.people is None and settled
        self._last = (sizes, alpha) if keep else None
        self.refine_ms = (time.perf_counter() - start) * 1e3
        return alpha

    def mask_for(self, frame_bgr: np.ndarray) -> np.ndarray:
        """The frame-size alpha (uint8, 255 = person); the segmenter's own buffer or ours."""
        mask, small = self.segment(frame_bgr)
        return self.alpha_for(frame_bgr, mask, small)


class Compositor:
    """A masker, a background, a blender and the output effects; one caller at a time."""

    def __init__(
        self,
        segmenter: Segmenter,
        background: Background,
        matte: Matte | None = None,
        effects: Effects | None = None,
        people: MainPerson | None = None,
        framing: FramingStage | None = None,
    ) -> None:
        self.masker = Masker(segmenter, matte, people)
        self.background = background
        self.effects = effects
        self.framing = framing
        self._scaled_frame: np.ndarray | None = None
        self.times = StageTimes()
        self._blender = SoftBlender()
        self._all_person: np.ndarray | None = None

    def _framed(self, frame_bgr: np.ndarray, crop: Crop, out_size: tuple[int, int]) -> np.ndarray:
        """The picture under ``crop`` at the output's size: framed, or (framing off, a
        camera asked for more than the output) the whole picture scaled down."""
        if self.framing is not None:
            return self.framing.frame(frame_bgr, crop, out_size)
        if self._scaled_frame is None or self._scaled_frame.shape[:2] != out_size[::-1]:
            self._scaled_frame = np.empty((out_size[1], out_size[0], 3), np.uint8)
        height, width = frame_bgr.shape[:2]
        return warp_window(frame_bgr, crop, (width, height), self._scaled_frame, out_size)

    def _everything(self, frame_bgr: np.ndarray) -> np.ndarray:
        """An all-person alpha: what the output shows when nothing is replaced."""
        if self._all_person is None or self._all_person.shape != frame_bgr.shape[:2]:
            self._all_person = np.full(frame_bgr.shape[:2], 255, np.uint8)
        return self._all_person

    @property
    def segmenter(self) -> Segmenter:
        return self.masker.segmenter

    def reset(self) -> None:
        """Forget every frame seen so far, learned backgrounds included."""
        self.masker.reset()
        if self.framing is not None:
            self.framing.reset()

    def restart_stream(self) -> None:
        """The frames that come next do not follow the last ones (a pause, a camera outage):
        a recurrent segmenter (``recurrent = True``: RVM), a network's held mask
        (``restarts_with_the_stream``: the mask reuse would hand out, or carry by optical
        flow from a picture of before the gap) and the matte's smoothing start afresh.
        What a segmenter learned of the room (plate, diff's hold, mog2) is kept: it is
        still the same room, and a person sitting still would otherwise be lost."""
        segmenter = self.masker.segmenter
        if getattr(segmenter, "recurrent", False) or getattr(
            segmenter, "restarts_with_the_stream", False
        ):
            segmenter.reset()
        self.masker.forget_alpha()
        if self.masker.matte is not None:
            self.masker.matte.reset()
        if self.masker.people is not None:  # whoever is in view now is the main person
            self.masker.people.reset()
        if self.framing is not None:
            self.framing.reset()

    def compose(self, frame_bgr: np.ndarray, t_s: float, dst: np.ndarray) -> np.ndarray:
        """Write the composited frame into ``dst``; returns the frame-size alpha used.

        With framing, the mask is found on the whole picture, then the picture and its
        alpha are cropped and scaled together (``framing.py``) and the background goes
        behind them at full resolution."""
        needs_mask = getattr(self.background, "needs_mask", True)
        if not needs_mask and self.framing is None:
            if dst.shape == frame_bgr.shape:
                np.copyto(dst, frame_bgr)
            else:  # a camera asked for more than the output: the whole picture, scaled
                cv2.resize(frame_bgr, dst.shape[1::-1], dst=dst, interpolation=cv2.INTER_AREA)
            if self.effects is not None:
                self.effects.apply(dst)
            self.times = StageTimes()
            return self._everything(dst)
        mask, small = self.masker.segment(frame_bgr)
        decide_at = time.perf_counter()
        height, width = frame_bgr.shape[:2]
        out_size = (dst.shape[1], dst.shape[0])
        crop = None
        if self.framing is not None:
            crop = self.framing.decide(mask, (width, height), t_s)
        if crop is None and out_size != (width, height):
            # A camera asked for more than the output, framing off: the whole picture.
            crop = Crop(0.0, 0.0, float(width), float(height))
        decided_at = time.perf_counter()
        # No background to put behind: the alpha is not needed (framing only).
        alpha = (
            self.masker.alpha_for(frame_bgr, mask, small, crop, out_size) if needs_mask else mask
        )
        warp_at = time.perf_counter()
        if crop is not None:
            frame_bgr = self._framed(frame_bgr, crop, out_size)
        prepared_at = time.perf_counter()
        framing_ms = ((decided_at - decide_at) + (prepared_at - warp_at)) * 1e3
        if not needs_mask:  # framing only: the framed camera picture as it is
            np.copyto(dst, frame_bgr)
            if self.effects is not None:
                self.effects.apply(dst)
            self.times = StageTimes(
                segment_ms=self.masker.segment_ms,
                refine_ms=self.masker.refine_ms,
                framing_ms=framing_ms,
            )
            return self._everything(dst)
        # The working copy shows the whole frame: not the picture framing cut out of it.
        small_bgr = small if crop is None else None
        background = self.background.frame_for(frame_bgr, alpha, t_s, small_bgr)
        blend_at = time.perf_counter()
        if background is frame_bgr:  # no background replacement: the camera picture
            np.copyto(dst, frame_bgr)
        elif self.masker.copy_through:
            blend_binary(frame_bgr, background, alpha, dst)
        else:
            self._blender.blend(frame_bgr, background, alpha, dst)
        if self.effects is not None:
            self.effects.apply(dst)
        self.times = StageTimes(
            segment_ms=self.masker.segment_ms,
            refine_ms=self.masker.refine_ms,
            background_ms=(blend_at - prepared_at) * 1e3,
            blend_ms=(time.perf_counter() - blend_at) * 1e3,
            framing_ms=framing_ms,
        )
        return alpha
