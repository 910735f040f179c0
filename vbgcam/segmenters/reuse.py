"""Skip the network when the picture did not change: the previous mask is still right.

On a call most frames barely differ from the last one that was segmented; the selfie
network is the single most expensive step (5 ms of a ~9 ms frame at 720p), and its answer
for an unchanged picture is the same answer. The check costs 0.05 ms: the working copy is
averaged into 8x8-pixel blocks, and a block whose mean moved by more than ``CHANGE_LEVELS``
grey levels since the last segmented frame counts as a change, once the picture's overall
brightness change (auto-exposure) is taken out (``exposure_matched``). Comparing with the
last *segmented* frame, not the previous one, means slow drift adds up and is caught.

``skip_calm`` goes one step further for a person who talks and shifts a little, the usual
picture on a call: when nothing moved by more than an edge shifting ~2 px at 720p since the
previous frame, which the network saw, that frame's mask is carried one frame. Never two in
a row, so the mask is at most one frame old, and only while the motion is that small; the
matte still snaps its edge to the new picture. Any faster movement runs the network on every
frame the budget pays for. (With ``every`` > 1 the calm check never comes into play: those
frames are skipped anyway.) On clips of a person swaying gently (at most 1.3 px a frame at
720p) it skipped 41 % of the network runs for 0.001 less IoU (``vbgcam eval`` methods, see
the README).

``budget`` (``budget.py``) caps the network's CPU (``network_cpu``: RVM, which costs more
than a frame can pay, and the selfie model on a machine too slow for it): the network runs
when the budget covers it, and the mask is carried between, moved along with the picture by
optical flow when a ``carrier`` (``carry.py``) is given. A calm frame's mask is handed out
as it is: the picture moved by under 2 px at 720p, which the flow (0.9 ms) would not mend
in the selfie model's mask. RVM's alpha is a soft matte whose edge (hair) shows a one-frame
lag more, and a run costs ten times the flow: with ``carry_calm`` its calm frames get the
flow too (on a person swaying gently, as on a call: boundary F 0.502 against 0.496 as it
is, 0.506 with no calm skip, for 24 % fewer runs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import cv2
import numpy as np

from vbgcam.segmenters import Segmenter
from vbgcam.segmenters.budget import NetworkBudget
from vbgcam.segmenters.carry import MaskCarrier
from vbgcam.shrink import shrink

# Why a mask is handed out again: the picture is unchanged; it barely moved (calm: one
# frame, the mask as it is, or moved by the carrier with ``carry_calm``); or it moved and the
# network is skipped anyway (every Nth frame, the CPU budget: the mask is moved along with the
# picture when a carrier is set).
Reuse = Literal["still", "calm", "moved"]

BLOCK_PX = 8
# Sensor noise averages out in an 8x8 block of the 320 px copy (256 camera pixels at 720p):
# a block mean that moves by 2 levels is a real change.
CHANGE_LEVELS = 2.0
# Blocks darker than this do not measure the exposure (noise is most of their level), and
# fewer than this many bright blocks do not either: then the means are compared as they are.
MIN_GAIN_LEVEL = 16.0
MIN_GAIN_BLOCKS = 16
# Even a picture that looks unchanged is segmented again at least this often.
MAX_REUSED_FRAMES = 15
# Calm: a block mean moving by more than this is motion (a high-contrast edge moving half a
# pixel of the 320 px copy, 2 px at 720p, moves an 8-px block's mean by about 6-12 levels)...
CALM_LEVELS = 8.0
# ...and a frame is calm while at most this share of the blocks moved (a blink, a lip).
CALM_MOVED_SHARE = 0.005
# The network's mask is carried at most this many frames while calm.
CALM_MAX_CARRIED = 1


def exposure_matched(reference: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """``reference`` block means scaled by the picture's overall brightness change since:
    a webcam's auto-exposure hunts all the time (a 3 % gain moves a bright block by 6
    levels), and a person who did not move needs no new mask for it. The gain is the
    median ratio over the blocks bright enough to measure it, so a moving hand or head (a
    minority of the blocks) does not set it and still shows as a change. On the eval clips
    (exposure drift of a few per cent) the selfie network then ran on 340 instead of 349 of
    630 frames and RVM on 317-324 instead of 348 (its budget makes the count vary), and
    with the selfie model the worst still frame went from 0.948 to 0.966 IoU and the worst
    frame in view from 0.946 to 0.955 (fewer fresh masks of an unchanged picture)."""
    bright = reference > MIN_GAIN_LEVEL
    if np.count_nonzero(bright) < MIN_GAIN_BLOCKS:
        return reference
    gain = float(np.median(blocks[bright] / reference[bright]))
    return reference * np.float32(gain)


def block_means(image: np.ndarray) -> np.ndarray:
    """The mean of each ``BLOCK_PX`` square of ``image``, as a smaller image.

    Whole blocks from the top left, averaged by exact halvings (``shrink``: OpenCV's fastest
    area path); where a side is not whole blocks (a 320x180 copy has 22.5 rows of them), one
    more block row or column, flush with that edge, overlaps the last, so every pixel counts
    (a hand entering at the bottom is seen). 0.03 ms for a 320x180 grey copy in float here,
    against 0.11-0.15 ms for one 8-bit area resize by 8.2 (OpenCV's general, slow path)."""
    height, width = image.shape[:2]
    if height < BLOCK_PX or width < BLOCK_PX:  # smaller than one block: one mean or a few
        size = (max(1, width // BLOCK_PX), max(1, height // BLOCK_PX))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)

    def spans(length: int) -> list[slice]:
        """The whole blocks along a side, and a block flush with its end if one is left."""
        whole = slice(0, length - length % BLOCK_PX)
        return [whole] if length % BLOCK_PX == 0 else [whole, slice(length - BLOCK_PX, length)]

    def means(part: np.ndarray) -> np.ndarray:
        return shrink(part, (part.shape[1] // BLOCK_PX, part.shape[0] // BLOCK_PX))

    grid = [[means(image[rows, columns]) for columns in spans(width)] for rows in spans(height)]
    return np.concatenate([np.concatenate(row, axis=1) for row in grid], axis=0)


class ReusingSegmenter:
    """Wraps a stateless segmenter; ``every`` > 1 also segments only every Nth frame."""

    # Its held mask and the picture it was made for belong to the frames before a gap (a
    # pause, a camera outage): the compositor resets it when the stream restarts, so the
    # first frame after is segmented, not handed an old mask because the budget is short.
    restarts_with_the_stream = True

    def __init__(
        self,
        inner: Segmenter,
        every: int = 1,
        reuse_still: bool = True,
        skip_calm: bool = False,
        budget: NetworkBudget | None = None,
        cpu_clock: Callable[[], float] = time.thread_time,
        carrier: MaskCarrier | None = None,
        carry_calm: bool = False,
    ) -> None:
        self.inner = inner
        self.budget = budget
        self.carrier = carrier  # moves a carried mask along with the picture
        self.carry_calm = carry_calm  # a calm frame's mask is moved by the carrier too
        self._cpu_clock = cpu_clock  # seconds of CPU; what a run costs the budget
        self.sees_half_frame = getattr(inner, "sees_half_frame", False)
        self.refined = getattr(inner, "refined", False)
        self.recurrent = getattr(inner, "recurrent", False)
        self.every = max(1, every)
        self.reuse_still = reuse_still
        self.skip_calm = skip_calm
        self.reused = 0
        # The mask handed out is last frame's again, for a picture that did not change:
        # what was made from it last frame (the matte's alpha) is still right too.
        self.unchanged = False
        # Whether last frame's mask was the network's own: a network run, or one handed out
        # again for an unchanged picture (not a mask carried over a movement).
        self._exact = False
        self._reference: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._since_segmented = 0

    def reset(self) -> None:
        self.inner.reset()
        self.unchanged = False
        self._exact = False
        self._reference = None
        self._mask = None
        if self.carrier is not None:
            self.carrier.forget()

    def _blocks(self, small_bgr: np.ndarray) -> np.ndarray:
        """Grey mean of each 8x8 block of the working copy (``block_means``), in whole
        levels. Averaged in float and rounded once, as one 8-bit area resize did before:
        halvings in 8-bit round three times, and unrounded means cross ``CHANGE_LEVELS``
        (set on whole levels) more often; either way a dim, noisy but still picture would
        run the network far more often (at 720p with noise of 20 levels, 18 or 24 of 30
        frames reused instead of 25)."""
        grey = cv2.cvtColor(small_bgr, cv2.COLOR_BGR2GRAY)
        means = block_means(grey.astype(np.float32))
        np.rint(means, out=means)
        return means

    def _reuse(self, blocks: np.ndarray | None) -> Reuse | None:
        """Whether the last mask is handed out again, and why; None: run the network."""
        if self._mask is None or self._since_segmented >= MAX_REUSED_FRAMES:
            return None
        if self._since_segmented < self.every - 1:
            return "moved"
        if blocks is None or self._reference is None or blocks.shape != self._reference.shape:
            return None
        change = np.abs(blocks - exposure_matched(self._reference, blocks))
        if self.reuse_still and float(np.max(change)) <= CHANGE_LEVELS:
            return "still"
        if self.skip_calm and self._since_segmented < CALM_MAX_CARRIED:
            moved = np.count_nonzero(change > CALM_LEVELS)
            if moved <= CALM_MOVED_SHARE * change.size:
                return "calm"
        if self.budget is not None and not self.budget.affordable:
            return "moved"
        return None

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        blocks = self._blocks(small_bgr) if small_bgr is not None else None
        if self.budget is not None:
            self.budget.tick()
        reuse = self._reuse(blocks)
        # "still" compares with the frame the network last saw: last frame's mask is the
        # same only if last frame was that one or unchanged from it.
        self.unchanged = reuse == "still" and self._exact
        self._exact = reuse in (None, "still")
        if reuse is not None:
            assert self._mask is not None
            self._since_segmented += 1
            self.reused += 1
            carried = reuse == "moved" or (reuse == "calm" and self.carry_calm)
            if carried and self.carrier is not None and small_bgr is not None:
                return self.carrier.carry(self._mask, small_bgr)
            return self._mask
        started_cpu_s = self._cpu_clock()
        mask = self.inner.segment(frame_bgr, small_bgr)
        if self.budget is not None:
            self.budget.spent((self._cpu_clock() - started_cpu_s) * 1e3)
        if self._mask is None or self._mask.shape != mask.shape:
            self._mask = np.empty_like(mask)
        np.copyto(self._mask, mask)  # the inner segmenter reuses its buffer
        self._reference = blocks
        self._since_segmented = 0
        if self.carrier is not None and small_bgr is not None:
            self.carrier.seen(small_bgr)
        return self._mask
