"""The original mask method: grey(|frame - previous|) > threshold is the person."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from vbgcam.demo_scene import DemoScene
from vbgcam.segmenters import make_segmenter
from vbgcam.segmenters.diff import ORIGINAL_STRIP_ROWS, DiffSegmenter
from vbgcam.settings import SegmenterSettings


def solid(bgr: tuple[int, int, int], shape: tuple[int, int] = (4, 6)) -> np.ndarray:
    frame = np.empty((*shape, 3), np.uint8)
    frame[:] = bgr
    return frame


@pytest.mark.parametrize(
    ("before", "after", "threshold", "expected"),
    [
        pytest.param((100, 100, 100), (104, 104, 104), 3, 255, id="grey-change-4-over-3"),
        pytest.param((100, 100, 100), (103, 103, 103), 3, 0, id="grey-change-3-is-not-over-3"),
        pytest.param((100, 100, 100), (97, 97, 97), 3, 0, id="darker-by-3"),
        pytest.param((100, 100, 100), (96, 96, 96), 3, 255, id="darker-by-4"),
        pytest.param((50, 50, 50), (50, 50, 50), 0, 0, id="no-change-threshold-0"),
        pytest.param((50, 50, 50), (51, 51, 51), 0, 255, id="any-change-threshold-0"),
        pytest.param((0, 0, 0), (255, 255, 255), 254, 255, id="full-swing-threshold-254"),
        pytest.param((0, 0, 0), (255, 255, 255), 255, 0, id="threshold-255-sees-nothing"),
        # Grey weights blue by 0.114: a change of 20 in blue alone is grey 2, not motion.
        pytest.param((100, 100, 100), (120, 100, 100), 3, 0, id="blue-only-change-is-faint"),
        pytest.param((100, 100, 100), (100, 100, 110), 3, 0, id="red-10-is-grey-3"),
        pytest.param((100, 100, 100), (100, 110, 100), 3, 255, id="green-10-is-grey-6"),
    ],
)
def test_pixels_whose_grey_change_exceeds_the_threshold_are_255_and_others_0(
    before: tuple[int, int, int], after: tuple[int, int, int], threshold: int, expected: int
) -> None:
    segmenter = DiffSegmenter(threshold=threshold, hold_s=0, clean=False)
    segmenter.segment(solid(before))
    mask = segmenter.segment(solid(after))
    assert mask.dtype == np.uint8
    assert mask.shape == (4, 6)
    assert (mask == expected).all()


def test_only_the_pixels_that_changed_are_in_the_mask() -> None:
    previous = solid((80, 80, 80))
    frame = previous.copy()
    frame[1, 2] = (90, 90, 90)
    frame[3, 5] = (0, 0, 0)
    frame[0, 0] = (82, 82, 82)  # below the threshold
    segmenter = DiffSegmenter(threshold=3, hold_s=0, clean=False)
    segmenter.segment(previous)
    mask = segmenter.segment(frame)
    expected = np.zeros((4, 6), np.uint8)
    expected[1, 2] = expected[3, 5] = 255
    assert np.array_equal(mask, expected)


def test_mask_compares_against_the_previous_frame_not_the_first() -> None:
    segmenter = DiffSegmenter(threshold=3, hold_s=0, clean=False)
    segmenter.segment(solid((0, 0, 0)))
    assert (segmenter.segment(solid((100, 100, 100))) == 255).all()
    assert (segmenter.segment(solid((100, 100, 100))) == 0).all()


def test_first_frame_gives_an_empty_mask() -> None:
    scene = DemoScene(320, 240)
    frame = np.empty((240, 320, 3), np.uint8)
    scene.render(0.5, frame)
    mask = DiffSegmenter(hold_s=0, clean=False).segment(frame)
    assert mask.shape == (240, 320)
    assert not mask.any()


def test_still_person_fades_into_the_background() -> None:
    """The known weakness of the method: no motion, no person."""
    scene = DemoScene(320, 240)
    frame = np.empty((240, 320, 3), np.uint8)
    scene.render(1.0, frame)
    assert scene.person_mask(1.0).any()
    segmenter = DiffSegmenter(hold_s=0, clean=False)
    segmenter.segment(frame)
    assert not segmenter.segment(frame.copy()).any()


def test_moving_person_is_found_only_where_the_figure_was_or_is() -> None:
    scene = DemoScene(320, 240)
    before, after = np.empty((240, 320, 3), np.uint8), np.empty((240, 320, 3), np.uint8)
    scene.render(1.0, before)
    scene.render(1.0 + 1 / 30, after)
    segmenter = DiffSegmenter(hold_s=0, clean=False)
    segmenter.segment(before)
    mask = segmenter.segment(after)
    figure = cv2.bitwise_or(scene.person_mask(1.0), scene.person_mask(1.0 + 1 / 30))
    near_figure = cv2.dilate(figure, np.ones((7, 7), np.uint8)) > 0  # 3 px of anti-aliasing
    assert mask.any()
    assert int(np.count_nonzero(mask.astype(bool) & ~near_figure)) == 0


def test_reset_forgets_the_previous_frame() -> None:
    segmenter = DiffSegmenter(threshold=3, hold_s=0, clean=False)
    segmenter.segment(solid((0, 0, 0)))
    segmenter.reset()
    assert not segmenter.segment(solid((200, 200, 200))).any()
    assert (segmenter.segment(solid((0, 0, 0))) == 255).all()


def test_a_new_frame_size_starts_over_with_an_empty_mask() -> None:
    segmenter = DiffSegmenter(threshold=3, hold_s=0, clean=False)
    segmenter.segment(solid((0, 0, 0), (4, 6)))
    mask = segmenter.segment(solid((200, 200, 200), (8, 10)))
    assert mask.shape == (8, 10)
    assert not mask.any()


def test_segmenter_reuses_its_mask_buffer() -> None:
    segmenter = DiffSegmenter(hold_s=0, clean=False)
    first = segmenter.segment(solid((0, 0, 0)))
    second = segmenter.segment(solid((50, 50, 50)))
    third = segmenter.segment(solid((0, 0, 0)))
    assert first is second is third


def test_original_method_in_bands_matches_the_whole_frame_formula_on_a_tall_odd_frame() -> None:
    """Bands of rows, each finished before the next, give the whole-frame answer, and every
    band remembers its rows for the next frame."""
    rng = np.random.default_rng(5)
    height = 2 * ORIGINAL_STRIP_ROWS + 13  # two whole bands and a short last one
    frames = [rng.integers(0, 256, (height, 37, 3), np.uint8) for _ in range(4)]
    segmenter = DiffSegmenter(threshold=3, hold_s=0, clean=False)
    segmenter.segment(frames[0])
    for previous, frame in itertools.pairwise(frames):
        grey = cv2.cvtColor(cv2.absdiff(frame, previous), cv2.COLOR_BGR2GRAY)
        expected = np.where(grey > 3, 255, 0).astype(np.uint8)
        assert np.array_equal(segmenter.segment(frame), expected)


def scene_with_square(present: bool) -> np.ndarray:
    """A 60x40 grey room (below the working size, so used as is), with a bright square."""
    frame = solid((100, 100, 100), (40, 60))
    if present:
        frame[10:30, 20:40] = 200
    return frame


def test_improved_diff_holds_a_still_person_until_the_hold_expires() -> None:
    segmenter = DiffSegmenter(threshold=3, hold_s=0.2, clean=False, fps=30.0)  # 6 frames
    segmenter.segment(scene_with_square(False))
    segmenter.segment(scene_with_square(True))  # the person arrives: motion
    held = [segmenter.segment(scene_with_square(True))[20, 30] for _ in range(10)]
    assert held[:6] == [255] * 6, held
    assert held[-1] == 0, held


def test_improved_diff_releases_a_place_at_once_when_the_learned_background_shows_again() -> None:
    segmenter = DiffSegmenter(threshold=3, hold_s=30.0, clean=False, fps=30.0)
    for _ in range(6):  # the empty room is learned
        segmenter.segment(scene_with_square(False))
    for _ in range(3):  # the person arrives and keeps still: held
        mask = segmenter.segment(scene_with_square(True))
    assert mask[20, 30] == 255
    segmenter.segment(scene_with_square(False))  # the person leaves: motion there
    mask = segmenter.segment(scene_with_square(False))
    assert not mask.any(), "the room shows again, long before the 30 s hold"


def test_registry_builds_the_diff_segmenter_with_the_configured_threshold() -> None:
    segmenter = make_segmenter(SegmenterSettings(name="diff", threshold=17))
    assert isinstance(segmenter, DiffSegmenter)
    assert segmenter.threshold == 17
