"""Where the network looks in a wide frame: a full-height band around the person, held while
they stay in it, the whole frame when there is nobody to follow and now and then to find
someone new. Masks here are tiny literal pictures: 10 rows by 30 columns."""

from __future__ import annotations

import numpy as np
import pytest

from vbgcam.segmenters.person_band import MIN_PERSON_SHARE, REFRESH_RUNS, PersonBand

HEIGHT, WIDTH = 10, 30


def person_at(*spans: tuple[int, int]) -> np.ndarray:
    """A mask with a full-height person in each column span [left, right)."""
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    for left, right in spans:
        mask[:, left:right] = 255
    return mask


def test_the_first_run_sees_the_whole_frame() -> None:
    assert PersonBand().choose(None) is None


def test_nobody_or_a_speck_is_no_person_to_follow() -> None:
    band = PersonBand()
    band.choose(None)
    assert band.choose(np.zeros((HEIGHT, WIDTH), np.uint8)) is None
    speck = np.zeros((HEIGHT, WIDTH), np.uint8)
    speck[4, 4] = 255  # 1 pixel of 300
    assert MIN_PERSON_SHARE * HEIGHT * WIDTH > 1
    assert band.choose(speck) is None


@pytest.mark.parametrize(
    ("person", "expected"),
    [
        pytest.param((12, 16), (9, 19), id="middle: a square around them"),
        pytest.param((0, 3), (0, 10), id="left edge: kept inside the frame"),
        pytest.param((27, 30), (20, 30), id="right edge: kept inside the frame"),
    ],
)
def test_the_band_is_a_square_around_the_person_inside_the_frame(
    person: tuple[int, int], expected: tuple[int, int]
) -> None:
    band = PersonBand()
    band.choose(None)
    assert band.choose(person_at(person)) == expected


def test_two_people_apart_widen_the_band_to_hold_both() -> None:
    band = PersonBand()
    band.choose(None)
    left, right = band.choose(person_at((5, 8), (20, 23)))
    assert left <= 5 - 1 and right >= 23 + 1  # the margin of 0.15 x height on each side
    assert right - left > HEIGHT


def test_a_person_who_sways_inside_the_band_keeps_it_still() -> None:
    band = PersonBand()
    band.choose(None)
    first = band.choose(person_at((12, 16)))
    for sway in ((12, 17), (11, 16), (12, 16)):
        assert band.choose(person_at(sway)) == first


def test_a_person_who_leaves_the_band_gets_a_new_one() -> None:
    band = PersonBand()
    band.choose(None)
    first = band.choose(person_at((12, 16)))
    moved = band.choose(person_at((20, 24)))
    assert moved != first
    assert moved[0] < 20 and moved[1] > 24


def test_now_and_then_the_whole_frame_is_seen_and_the_band_is_kept() -> None:
    """Someone who enters beside the band is found on the next whole-frame run; a person
    who stayed put keeps the band they had."""
    band = PersonBand()
    choices = [band.choose(None)]
    choices += [band.choose(person_at((12, 16))) for _ in range(2 * REFRESH_RUNS)]
    whole = [run for run, choice in enumerate(choices, 1) if choice is None]
    assert whole == [1, REFRESH_RUNS, 2 * REFRESH_RUNS]
    held = {choice for choice in choices if choice is not None}
    assert held == {(9, 19)}


def test_reset_forgets_the_person() -> None:
    band = PersonBand()
    band.choose(None)
    band.choose(person_at((12, 16)))
    band.reset()
    assert band.choose(None) is None
