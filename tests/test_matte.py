"""Matte refinement: a raw mask in, a clean frame-size alpha out.

Frames are generated with a known figure (a bright disc, as a head against a dark room), so
every promise of the matte is checked against the true mask: edges snap to the picture, specks
and holes go, a still mask stops flickering without a moving one lagging, feathering grows
outward, and the alpha has the frame's size.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from vbgcam.matte import EDGE_CONTRAST, Matte, MatteOptions, guided_filter, remove_specks

FRAME_W, FRAME_H = 640, 360
CENTER = (320, 180)
RADIUS = 100
FIGURE_BGR = (210, 200, 190)
ROOM_GREY = 30


def disc_frame(
    size: tuple[int, int] = (FRAME_W, FRAME_H),
    center: tuple[int, int] = CENTER,
    radius: int = RADIUS,
    seed: int | None = 0,
) -> np.ndarray:
    """A sharp bright disc on a dark room (BGR uint8); with ``seed``, sensor noise of 2."""
    width, height = size
    frame = np.full((height, width, 3), ROOM_GREY, np.uint8)
    cv2.circle(frame, center, radius, FIGURE_BGR, -1)
    return noisy(frame, seed) if seed is not None else frame


def disc_mask(
    size: tuple[int, int] = (FRAME_W, FRAME_H),
    center: tuple[int, int] = CENTER,
    radius: int = RADIUS,
) -> np.ndarray:
    """The true mask of ``disc_frame``: uint8, 255 inside the disc, 0 outside."""
    width, height = size
    mask = np.zeros((height, width), np.uint8)
    cv2.circle(mask, center, radius, 255, -1)
    return mask


def featureless_wall(seed: int) -> np.ndarray:
    """A still, evenly lit grey wall with sensor noise: nothing for the guided filter to
    snap to, so only temporal smoothing can calm a flickering mask."""
    return noisy(np.full((FRAME_H, FRAME_W, 3), 100, np.uint8), seed)


def noisy(frame: np.ndarray, seed: int, sigma: float = 2.0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, frame.shape)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


def person(alpha: np.ndarray) -> np.ndarray:
    return alpha >= 128


def iou(found: np.ndarray, truth: np.ndarray) -> float:
    return np.count_nonzero(found & truth) / np.count_nonzero(found | truth)


def boundary(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a boolean mask (the frame's border is not a boundary)."""
    mask_u8 = mask.astype(np.uint8)
    eroded = cv2.erode(mask_u8, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)))
    return (mask_u8 - eroded).astype(bool)


def mean_boundary_distance_px(found: np.ndarray, truth: np.ndarray) -> float:
    """How far apart two boolean masks' edges are: the mean distance from each boundary
    pixel of one to the nearest of the other, both ways."""

    def distance_to(edge: np.ndarray) -> np.ndarray:
        return cv2.distanceTransform(np.where(edge, 0, 1).astype(np.uint8), cv2.DIST_L2, 5)

    found_edge, true_edge = boundary(found), boundary(truth)
    there = float(distance_to(true_edge)[found_edge].mean())
    back = float(distance_to(found_edge)[true_edge].mean())
    return (there + back) / 2


def ring(mask: np.ndarray, inner_px: int, outer_px: int) -> np.ndarray:
    """Pixels outside ``mask`` whose distance to it is in (inner_px, outer_px]."""
    distance = cv2.distanceTransform(np.where(mask > 0, 0, 1).astype(np.uint8), cv2.DIST_L2, 5)
    return (distance > inner_px) & (distance <= outer_px)


def inside(mask: np.ndarray, margin_px: int) -> np.ndarray:
    """Pixels of ``mask`` at least ``margin_px`` from its edge."""
    distance = cv2.distanceTransform((mask > 0).astype(np.uint8), cv2.DIST_L2, 5)
    return distance > margin_px


# --- the guided filter: edges follow the picture


@pytest.mark.parametrize(
    ("size", "block_px"),
    [
        # both give blocks of 4 px at the 320 px working size, the guided filter's radius
        pytest.param((640, 360), 8, id="8px-blocks-at-640x360"),
        pytest.param((1280, 720), 16, id="16px-blocks-at-1280x720"),
    ],
)
def test_refinement_moves_a_blocky_edge_toward_the_true_edge_of_a_sharp_figure(
    size: tuple[int, int], block_px: int
) -> None:
    scale = size[0] / FRAME_W
    center = (round(CENTER[0] * scale), round(CENTER[1] * scale))
    radius = round(RADIUS * scale)
    frame = disc_frame(size, center, radius)
    truth = disc_mask(size, center, radius)
    width, height = size
    coarse = cv2.resize(
        truth, (width // block_px, height // block_px), interpolation=cv2.INTER_NEAREST
    )
    blocky = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_NEAREST)

    refined = Matte().refine(frame, blocky)

    blocky_error = mean_boundary_distance_px(person(blocky), truth > 0)
    refined_error = mean_boundary_distance_px(person(refined), truth > 0)
    assert refined_error <= 0.7 * blocky_error, (blocky_error, refined_error)
    assert iou(person(refined), truth > 0) >= iou(person(blocky), truth > 0) + 0.02


# --- specks and holes


def grid(*rows: str) -> np.ndarray:
    """A float32 mask drawn with '#' (person, 1.0), '+' (soft fringe, 0.3) and '.' (0.0)."""
    values = {"#": 1.0, "+": 0.3, ".": 0.0}
    return np.array([[values[c] for c in row] for row in rows], np.float32)


# 21 one-pixel specks, or 20 one-pixel holes, in a row: more than remove_specks counts
# one label at a time.
SPECKS_41 = "#." * 20 + "#"
HOLES_41 = "#" + ".#" * 20
BLANK_41, FULL_41, BLOB_41 = (
    ".........................................",
    "#########################################",
    "######...................................",
)


@pytest.mark.parametrize(
    ("mask", "min_area", "expected"),
    [
        pytest.param(
            grid("......", ".##...", ".##..#", "......"),
            3,
            grid("......", ".##...", ".##...", "......"),
            id="isolated-speck-removed",
        ),
        pytest.param(
            grid("......", ".##...", ".##..#", "......"),
            10,
            grid("......", ".##...", ".##...", "......"),
            id="largest-blob-kept-even-if-small",
        ),
        pytest.param(
            grid("......", ".##...", ".##...", "...#.."),
            3,
            grid("......", ".##...", ".##...", "...#.."),
            id="diagonal-neighbour-is-the-same-blob",
        ),
        pytest.param(
            grid("+........", "##....+..", "##...+#+.", "........."),
            3,
            grid("+........", "##.......", "##.......", "........."),
            id="soft-fringe-of-a-removed-speck-goes-too",
        ),
        pytest.param(
            grid(".......", ".#####.", ".##.##.", ".#####.", "......."),
            3,
            grid(".......", ".#####.", ".#####.", ".#####.", "......."),
            id="small-interior-hole-filled",
        ),
        pytest.param(
            grid("........", ".######.", ".#..###.", ".#..###.", ".######.", "........"),
            3,
            grid("........", ".######.", ".#..###.", ".#..###.", ".######.", "........"),
            id="large-interior-hole-kept",
        ),
        pytest.param(
            grid(".......", ".#####.", ".##.##.", ".##.##."),
            3,
            grid(".......", ".#####.", ".##.##.", ".##.##."),
            id="hole-touching-the-border-kept",
        ),
        pytest.param(
            grid("....", "....", "...."), 3, grid("....", "....", "...."), id="empty-stays-empty"
        ),
        pytest.param(
            grid(SPECKS_41, BLANK_41, BLOB_41),
            2,
            grid(BLANK_41, BLANK_41, BLOB_41),
            id="more-specks-than-are-counted-one-by-one",
        ),
        pytest.param(
            grid(FULL_41, HOLES_41, FULL_41),
            2,
            grid(FULL_41, FULL_41, FULL_41),
            id="more-holes-than-are-counted-one-by-one",
        ),
    ],
)
def test_remove_specks(mask: np.ndarray, min_area: int, expected: np.ndarray) -> None:
    before = mask.copy()
    cleaned = remove_specks(mask, min_area)
    np.testing.assert_array_equal(cleaned, expected)
    np.testing.assert_array_equal(mask, before, err_msg="the input mask was changed")


def reference_remove_specks(mask: np.ndarray, min_area: int) -> np.ndarray:
    """``remove_specks`` the straightforward way: OpenCV's blob statistics, boolean masks."""
    solid = (mask >= 0.5).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    cleaned = mask.copy()
    areas = stats[:, cv2.CC_STAT_AREA]
    if count > 2:
        keep = areas >= min_area
        keep[0] = False
        keep[1 + int(np.argmax(areas[1:]))] = True
        removed = ~keep[labels] & (solid > 0)
        grown = cv2.dilate(removed.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        cleaned[grown & ~(keep[labels] & (solid > 0))] = 0
    outside = np.zeros((solid.shape[0] + 2, solid.shape[1] + 2), np.uint8)
    outside[1:-1, 1:-1] = solid
    cv2.floodFill(outside, None, (0, 0), 2)
    holes = (outside[1:-1, 1:-1] == 0).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=4)
    small = stats[:, cv2.CC_STAT_AREA] < min_area
    small[0] = False
    cleaned[small[labels]] = 1.0
    return cleaned


@pytest.mark.parametrize("seed", range(12))
def test_remove_specks_matches_the_straightforward_way_on_random_masks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    height, width = rng.integers(8, 60, 2)
    mask = (rng.random((height, width)) < rng.uniform(0.2, 0.8)).astype(np.float32)
    mask = cv2.blur(mask, (3, 3))  # soft fringes, values between 0 and 1
    for min_area in (1, 3, 10, 40):
        expected = reference_remove_specks(mask, min_area)
        np.testing.assert_array_equal(remove_specks(mask, min_area), expected)


# --- temporal smoothing


@pytest.mark.parametrize(
    "frame_for",
    [
        pytest.param(lambda seed: disc_frame(seed=seed), id="sharp-figure"),
        pytest.param(featureless_wall, id="featureless-wall"),
    ],
)
def test_a_flickering_mask_on_a_still_picture_flickers_less_after_refinement(
    frame_for: Callable[[int], np.ndarray],
) -> None:
    """The segmenter's mask alternates between two slightly different outlines (8 px
    apart) while the picture stays still: the alpha should change much less."""
    masks = (disc_mask(radius=RADIUS - 4), disc_mask(radius=RADIUS + 4))
    matte = Matte()
    mask_change, alpha_change = [], []
    previous_alpha = previous_mask = None
    for index in range(20):
        mask = masks[index % 2]
        alpha = matte.refine(frame_for(index), mask).astype(np.float32)
        if index >= 10:  # past the first frames, where smoothing has no history yet
            mask_change.append(np.abs(mask - previous_mask).mean())
            alpha_change.append(np.abs(alpha - previous_alpha).mean())
        previous_alpha, previous_mask = alpha, mask.astype(np.float32)
    assert np.mean(alpha_change) <= 0.5 * np.mean(mask_change), (mask_change, alpha_change)


def test_a_moving_figure_is_followed_without_lag_or_ghost() -> None:
    """Where the picture changed, the new mask wins at once: no trail of the old position."""
    matte = Matte()
    old_center, new_center = CENTER, (CENTER[0] + 80, CENTER[1])
    for index in range(6):
        matte.refine(disc_frame(center=old_center, seed=index), disc_mask(center=old_center))
    new_mask = disc_mask(center=new_center)
    new_truth = new_mask > 0
    left_behind = (disc_mask(center=old_center) > 0) & ~new_truth
    for index in range(2):
        alpha = matte.refine(disc_frame(center=new_center, seed=10 + index), new_mask)
    found = person(alpha)
    assert iou(found, new_truth) >= 0.9
    assert np.count_nonzero(found & left_behind) / np.count_nonzero(left_behind) < 0.02


def reference_refine(
    options: MatteOptions, frames: list[np.ndarray], masks: list[np.ndarray]
) -> list[np.ndarray]:
    """The documented steps, written the plain NumPy way, frame after frame."""
    alphas, previous_guide, previous_alpha = [], None, None
    for frame, mask in zip(frames, masks, strict=True):
        height, width = frame.shape[:2]
        small = cv2.resize(frame, (320, 180), interpolation=cv2.INTER_AREA)
        guide = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255
        soft = cv2.resize(mask, (320, 180), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
        soft = remove_specks(soft, int(options.min_blob * 320 * 180))
        if previous_guide is not None:
            change = cv2.GaussianBlur(cv2.absdiff(guide, previous_guide), (0, 0), 2)
            weight_new = np.clip(change * (255 / 4), 1 - options.smooth, 1.0)
            soft = weight_new * soft + (1 - weight_new) * previous_alpha
        previous_guide, previous_alpha = guide, soft
        if options.guided_radius > 0:
            soft = guided_filter(guide, soft, options.guided_radius, options.guided_eps)
        soft = (soft - 0.5) * EDGE_CONTRAST + 0.5
        ksize = 2 * options.feather_px + 1
        soft = np.maximum(soft, cv2.blur(soft, (ksize, ksize)))
        small_alpha = np.clip(soft * 255, 0, 255).astype(np.uint8)
        alphas.append(cv2.resize(small_alpha, (width, height), interpolation=cv2.INTER_LINEAR))
    return alphas


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(MatteOptions(), id="defaults"),
        pytest.param(MatteOptions(guided_radius=0), id="no-guided-filter"),
    ],
)
def test_refinement_in_place_matches_the_plain_numpy_steps_within_a_level(
    options: MatteOptions,
) -> None:
    """The matte works in place to save temporaries; over a moving, flickering sequence
    that must change nothing but the last bit of rounding."""
    frames = [disc_frame(center=(CENTER[0] + 6 * i, CENTER[1]), seed=i) for i in range(6)]
    masks = [
        disc_mask(center=(CENTER[0] + 6 * i, CENTER[1]), radius=RADIUS + (-4) ** (i % 2))
        for i in range(6)
    ]
    matte = Matte(options)
    expected = reference_refine(options, frames, masks)
    for index, (frame, mask) in enumerate(zip(frames, masks, strict=True)):
        alpha = matte.refine(frame, mask).astype(np.int16)
        assert np.abs(alpha - expected[index]).max() <= 1, f"frame {index}"


# --- feathering


def test_feathering_grows_the_edge_into_the_background_and_never_eats_the_person() -> None:
    truth = disc_mask()
    options = MatteOptions()
    alpha = Matte(options).refine(disc_frame(), truth).astype(np.float32)
    scale = FRAME_W / 320  # frame pixels per working pixel
    # the person stays whole, except within 2 working pixels of the edge
    assert alpha[inside(truth, round(2 * scale))].min() >= 250
    # the ramp is outside: more alpha spills out than is missing in
    spilled = alpha[truth == 0].sum() / 255
    missing = (255 - alpha[truth > 0]).sum() / 255
    assert spilled >= 1.5 * missing, (spilled, missing)
    assert alpha[ring(truth, 0, 1)].mean() >= 64, "the first pixel outside is partly person"
    # and it ends: no halo beyond the feather and the guided filter's reach
    reach_px = round((options.feather_px + options.guided_radius) * scale)
    assert alpha[ring(truth, reach_px, 10_000)].max() == 0


# --- the output


@pytest.mark.parametrize(
    ("frame_size", "mask_size"),
    [
        pytest.param((640, 360), (640, 360), id="mask-at-frame-size"),
        pytest.param((1280, 720), (256, 144), id="landscape-model-mask"),
        pytest.param((640, 480), (256, 256), id="general-model-mask-on-4-3"),
        pytest.param((1920, 1080), (320, 180), id="working-size-mask-on-1080p"),
        pytest.param((160, 120), (160, 120), id="frame-smaller-than-working-size"),
    ],
)
def test_alpha_is_a_frame_size_uint8_picture_of_the_person(
    frame_size: tuple[int, int], mask_size: tuple[int, int]
) -> None:
    width, height = frame_size
    center, radius = (width // 2, height // 2), height // 3
    frame = disc_frame(frame_size, center, radius)
    truth = disc_mask(frame_size, center, radius)
    mask = cv2.resize(truth, mask_size, interpolation=cv2.INTER_AREA)
    alpha = Matte().refine(frame, mask)
    assert alpha.shape == (height, width)
    assert alpha.dtype == np.uint8
    assert iou(person(alpha), truth > 0) >= 0.9
