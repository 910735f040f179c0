"""A carried mask follows the picture: optical flow from the frame the network saw."""

from __future__ import annotations

import cv2
import numpy as np

from vbgcam.segmenters.carry import MaskCarrier

SMALL = (320, 180)  # the compositor's working copy of a 16:9 frame
MASK = (192, 108)  # RVM's input at 192 px
STEP_PX = 6  # how far the "person" moves a frame on the working copy


def textured_room(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (SMALL[1] // 4, SMALL[0] // 4), dtype=np.uint8)
    room = cv2.resize(noise, SMALL, interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(room, cv2.COLOR_GRAY2BGR)


PERSON = cv2.resize(np.random.default_rng(2).integers(0, 256, (20, 15), dtype=np.uint8), (60, 80))


def frame_with_person(left: int) -> tuple[np.ndarray, np.ndarray]:
    """A working copy with a textured block (the person) at ``left``, and its true mask at
    the mask size."""
    small = textured_room()
    small[50:130, left : left + 60] = cv2.cvtColor(PERSON, cv2.COLOR_GRAY2BGR)
    truth = np.zeros((SMALL[1], SMALL[0]), np.uint8)
    truth[50:130, left : left + 60] = 255
    return small, cv2.resize(truth, MASK, interpolation=cv2.INTER_NEAREST)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a >= 128, b >= 128
    return float(np.count_nonzero(a & b) / max(1, np.count_nonzero(a | b)))


def test_a_carried_mask_moves_with_the_person() -> None:
    carrier = MaskCarrier()
    seen, mask = frame_with_person(100)
    carrier.seen(seen)
    now, truth = frame_with_person(100 + STEP_PX)
    assert iou(carrier.carry(mask, now), truth) >= 0.85
    for frames_later in (1, 2):
        now, truth = frame_with_person(100 + frames_later * STEP_PX)
        carried = carrier.carry(mask, now)
        assert iou(carried, truth) > iou(mask, truth) + 0.05, "better than the mask as it was"


def test_a_still_picture_keeps_its_mask() -> None:
    carrier = MaskCarrier()
    seen, mask = frame_with_person(100)
    carrier.seen(seen)
    assert iou(carrier.carry(mask, seen.copy()), mask) >= 0.98


def test_nothing_is_moved_before_the_network_saw_a_frame_or_after_a_reset() -> None:
    carrier = MaskCarrier()
    now, mask = frame_with_person(110)
    assert carrier.carry(mask, now) is mask
    carrier.seen(frame_with_person(100)[0])
    carrier.forget()
    assert carrier.carry(mask, now) is mask


def test_a_working_copy_of_another_size_hands_the_mask_back_unmoved() -> None:
    carrier = MaskCarrier()
    carrier.seen(frame_with_person(100)[0])
    other = cv2.resize(frame_with_person(106)[0], (256, 144))
    _, mask = frame_with_person(100)
    assert carrier.carry(mask, other) is mask


def test_a_working_copy_too_thin_for_optical_flow_hands_the_mask_back_unmoved() -> None:
    """A 1280x32 camera has a 320x8 working copy: no crash, the mask is carried as it was."""
    carrier = MaskCarrier()
    strip = np.random.default_rng(3).integers(0, 256, (8, 320, 3), dtype=np.uint8)
    mask = np.zeros((4, 192), np.uint8)
    carrier.seen(strip)
    assert carrier.carry(mask, np.roll(strip, 4, axis=1)) is mask
