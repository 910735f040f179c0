"""``people = "main"``: only the person the call is about stays in the picture.

A segmenter marks every person (and sometimes a poster or a face on a screen). This keeps
the main one and hands everyone else to the background: the largest, most central region
when the call starts or the main person comes back into view, then, frame after frame,
whatever region overlaps the kept one of the frame before (so the choice is made once, not
re-made on every frame: a colleague walking behind never takes over by being larger for a
moment). Regions that merge with the kept one (a hand reaching out, a person leaning in)
are kept with it.

Letting a second person in is predictable and needs no clicks: a region that stays in view
for ``admit_after_s`` without a break, and is at least ``ADMIT_SHARE`` of the main person's
size, joins the kept people (someone who sits down beside you). Someone walking across
never covers the same place that long, and a small face on a screen is too small. ``all``
(the default) keeps every region, as before; switching to ``all`` and back forgets who was
let in.

It works on the segmenter's own small mask (0.2-0.4 ms at 320 px), before the matte.
"""

from __future__ import annotations

import cv2
import numpy as np

from vbgcam.matte import pixels_with

# A region must cover this share of the mask to be anyone at all...
MIN_REGION_SHARE = 0.01
# ...and this much to be followed as the main person rather than chosen afresh each frame.
MIN_MAIN_SHARE = 0.03
# A region that stays this big, relative to the main person, may be let in.
ADMIT_SHARE = 0.5
# Kept regions may move this many pixels (of the small mask) between frames and still be
# recognised by their overlap with the kept region of the frame before.
FOLLOW_PX = 5
# A soft edge around a kept region belongs to it: the kept pixels grown by this much.
EDGE_PX = 3
# A region is the same person as a kept one when this share of it is where they were.
FOLLOW_SHARE = 0.5
# How fast the place of the kept people follows them (per frame): a place is theirs once
# they were there for about ten frames.
TEMPLATE_RATE = 0.06
# Frames the main person may be missing from the mask before someone else is chosen.
GRACE_FRAMES = 15
# A region must have been apart from the kept people this many frames to stay apart when
# it merges with them (else it is a piece of them, cut off for a moment).
SPLIT_AFTER_FRAMES = 3


class MainPerson:
    """Zeroes every region of a mask but the main person's (and those let in)."""

    def __init__(self, admit_after_s: float = 10.0, fps: float = 30.0) -> None:
        self.admit_frames = round(admit_after_s * fps) if admit_after_s > 0 else 0
        self._shape: tuple[int, int] | None = None
        self._follow = cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (2 * FOLLOW_PX + 1, 2 * FOLLOW_PX + 1)
        )
        self._edge = cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (2 * EDGE_PX + 1, 2 * EDGE_PX + 1)
        )
        self.reset()

    def reset(self) -> None:
        """Choose the main person afresh on the next frame."""
        self._kept: np.ndarray | None = None  # 255 where a kept person was last frame
        self._others: np.ndarray | None = None  # 255 where someone else was
        self._stay: np.ndarray | None = None
        self._recent_kept: np.ndarray | None = None  # where the kept people have been lately
        self._missing = 0  # frames in a row the kept people were not found
        self._committed = False  # a main person big enough to follow was found

    def _allocate(self, shape: tuple[int, int]) -> None:
        self._shape = shape
        self._out = np.zeros(shape, np.uint8)
        self._stay = np.zeros(shape, np.uint16)
        self._recent_kept = np.zeros(shape, np.uint8)
        self._kept = self._others = None

    def keep(self, mask: np.ndarray) -> np.ndarray:
        """``mask`` (uint8, 255 = person) with everyone but the kept people zeroed; a
        buffer of this filter's own, valid until the next call."""
        if self._shape != mask.shape or self._stay is None:
            self._allocate(mask.shape)
        assert self._stay is not None
        solid = cv2.inRange(mask, 128, 255)
        # Labels without OpenCV's statistics (0.04 against 0.37 ms here): areas by counting.
        # 32-bit labels: a noisy full-size mask (diff's original method) has more than a
        # 16-bit label can count.
        count, labels = cv2.connectedComponents(solid, connectivity=8, ltype=cv2.CV_32S)
        areas = np.bincount(labels.ravel(), minlength=count)
        big = [label for label in range(1, count) if areas[label] >= MIN_REGION_SHARE * mask.size]
        assert self._recent_kept is not None
        kept = self._follow_kept(labels, big, areas)
        committed = bool(kept) and max(areas[k] for k in kept) >= MIN_MAIN_SHARE * mask.size
        if committed:
            self._missing = 0
        elif not kept and self._committed and self._missing < GRACE_FRAMES:
            # The main person is missing from this mask (a segmenter's miss, a lean out of
            # view): nobody is shown for a moment rather than someone else taking over.
            self._missing += 1
            committed = True  # still theirs while the grace lasts
            np.multiply(
                self._recent_kept, 1 - TEMPLATE_RATE, out=self._recent_kept, casting="unsafe"
            )
        else:
            main = self._choose_main(big, areas, labels)
            kept = [main] if main is not None else []
            if main is not None:  # the main person's place, from now on
                self._recent_kept[:] = 0
                self._recent_kept[labels == main] = 255
                self._kept = self._others = None  # last frame's split means nothing now
                self._missing = 0
            # Only someone big enough is followed; a smaller region (a lamp post the network
            # took for a person, someone still at the edge) is chosen afresh every frame.
            committed = main is not None and areas[main] >= MIN_MAIN_SHARE * mask.size
        self._committed = committed
        self._admit(labels, big, kept, areas)
        if not kept:
            self._kept = self._others = None
            self._out[:] = 0
            return self._out
        chosen = np.zeros(count, bool)
        chosen[kept] = True
        kept_pixels = pixels_with(labels, chosen)
        if self._others is not None and self._kept is not None and self._touch(kept_pixels):
            self._split_merged(kept_pixels, self._kept, self._others, areas, kept)
        place = self._recent_kept
        cv2.addWeighted(place, 1 - TEMPLATE_RATE, kept_pixels, TEMPLATE_RATE, 0, dst=place)
        self._kept = kept_pixels
        self._others = cv2.subtract(solid, kept_pixels)
        # Frames in a row each pixel belonged to someone not kept.
        others_now = self._others > 0
        np.add(self._stay, 1, out=self._stay, where=others_now & (self._stay < 65535))
        self._stay[~others_now] = 0
        grown = cv2.dilate(kept_pixels, self._edge)
        cv2.bitwise_and(mask, grown, dst=self._out)
        return self._out

    def _touch(self, kept_pixels: np.ndarray) -> bool:
        """Whether a kept region now covers a place someone else had last frame (only then
        is there a merged region to split: 0.02 ms to ask, against 0.5 to split)."""
        assert self._others is not None
        near_others = cv2.dilate(self._others, self._follow)
        return cv2.countNonZero(cv2.bitwise_and(near_others, kept_pixels)) > 0

    def _split_merged(
        self,
        kept_pixels: np.ndarray,
        was_kept: np.ndarray,
        was_other: np.ndarray,
        areas: np.ndarray,
        kept: list[int],
    ) -> None:
        """Someone who was apart and now touches a kept person is one region in the mask:
        each of its pixels goes to whoever was nearest last frame (kept people or the
        others), so a passer-by is not let in by brushing past, and the seam between them
        stays where it was. Pixels of someone else that have stayed ``admit_frames`` and add
        up to ``ADMIT_SHARE`` of the main person are let in all the same."""
        assert self._stay is not None
        # Only someone seen apart for a few frames is someone else: a piece of the main
        # person that was cut off for a frame (a head at the picture's edge) rejoins them.
        was_other = cv2.bitwise_and(was_other, cv2.inRange(self._stay, SPLIT_AFTER_FRAMES, 65535))
        if not was_kept.any() or not was_other.any():
            return
        to_kept = cv2.distanceTransform(cv2.bitwise_not(was_kept), cv2.DIST_L2, 3)
        to_other = cv2.distanceTransform(cv2.bitwise_not(was_other), cv2.DIST_L2, 3)
        theirs = (kept_pixels > 0) & (to_other < to_kept)
        if self.admit_frames and theirs.any():
            stayed = theirs & (self._stay >= self.admit_frames)
            # The merged region holds both of them: the main person is about half of it.
            main_area = max(float(areas[label]) for label in kept) / 2
            if np.count_nonzero(stayed) >= ADMIT_SHARE * main_area:
                theirs &= ~stayed
        kept_pixels[theirs] = 0

    def _follow_kept(self, labels: np.ndarray, big: list[int], areas: np.ndarray) -> list[int]:
        """The main person: the region that overlaps most where the kept people were last
        frame or have been lately (so someone walking in fast is followed frame to frame);
        and any other region that lies mostly where the kept people have been lately.
        Someone who brushed past, or stepped out from behind the main person while touching
        them, was never there long enough, and is left out once apart."""
        assert self._recent_kept is not None
        lately = cv2.inRange(self._recent_kept, 128, 255)
        near = cv2.max(lately, self._kept) if self._kept is not None else lately
        near = cv2.dilate(near, self._follow)
        if not near.any():
            return []
        overlaps = np.bincount(labels[near > 0].ravel(), minlength=len(areas))
        touching = [label for label in big if overlaps[label] > 0]
        if not touching:
            return []
        best = max(touching, key=lambda label: int(overlaps[label]))
        place = cv2.dilate(lately, self._follow)
        settled = np.bincount(labels[place > 0].ravel(), minlength=len(areas))
        return [
            label
            for label in touching
            if label == best or settled[label] >= FOLLOW_SHARE * areas[label]
        ]

    @staticmethod
    def _choose_main(big: list[int], areas: np.ndarray, labels: np.ndarray) -> int | None:
        """The largest, most central region: area weighted down by distance from the
        centre (a region at the edge counts half). Asked only when nobody is followed."""
        if not big:
            return None
        width = labels.shape[1]
        best, best_score = None, -1.0
        for label in big:
            moments = cv2.moments((labels == label).astype(np.uint8), binaryImage=True)
            centre_x = moments["m10"] / max(moments["m00"], 1.0)
            off = abs(centre_x - width / 2) / (width / 2)
            score = float(areas[label]) * (1.0 - 0.5 * off)
            if score > best_score:
                best, best_score = label, score
        return best

    def _admit(
        self, labels: np.ndarray, big: list[int], kept: list[int], areas: np.ndarray
    ) -> None:
        """Let in a region apart from the kept people that has been there
        ``admit_frames`` (``_stay`` counts, per pixel, the frames in a row it belonged to
        someone not kept) and is big enough."""
        assert self._stay is not None
        others = [label for label in big if label not in kept]
        if not others or not kept or self.admit_frames == 0:
            return
        main_area = max(float(areas[label]) for label in kept)
        for label in others:
            if areas[label] < ADMIT_SHARE * main_area:
                continue
            if np.median(self._stay[labels == label]) >= self.admit_frames:
                kept.append(label)
                # Theirs from now on, as if they had always been kept.
                assert self._recent_kept is not None
                self._recent_kept[labels == label] = 255
