"""The selfie segmenter: MediaPipe's models run by OpenCV, scored on real photographs.

Photos come from the human-seg data set (real people, person masks), kept outside the
repository: ``$VBGCAM_DATA`` or ``../shared/data`` next to it. Tests that need it skip
politely where it is absent; the models come from the ``with_models`` fixture.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from vbgcam.errors import ModelError
from vbgcam.matte import Matte
from vbgcam.models import MODELS
from vbgcam.segmenters.selfie import ModelChoice, SelfieSegmenter, choose_model

REPO_ROOT = Path(__file__).resolve().parents[2]
PORTRAIT_COUNT = 10
PORTRAIT_MIN_COVER = 0.20  # a portrait-like photo: the person covers at least this share


@dataclass(frozen=True)
class Photo:
    """A real photo (BGR uint8) and its person mask at the photo's size (booleans)."""

    name: str
    image: np.ndarray
    person: np.ndarray


def human_seg_dir() -> Path | None:
    data = Path(os.environ.get("VBGCAM_DATA") or REPO_ROOT.parent / "shared" / "data")
    for candidate in (data / "human-seg", data):
        if (candidate / "images").is_dir() and (candidate / "masks").is_dir():
            return candidate
    return None


def read_photo(folder: Path, name: str) -> Photo:
    image = cv2.imread(str(folder / "images" / f"{name}.jpg"), cv2.IMREAD_COLOR)
    mask = cv2.imread(str(folder / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    assert image is not None and mask is not None, name
    height, width = image.shape[:2]
    if mask.shape != (height, width):  # many masks are smaller than their photo
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
    return Photo(name, image, mask >= 128)


@pytest.fixture(scope="session")
def portraits() -> list[Photo]:
    """The first ``PORTRAIT_COUNT`` human-seg photos (in numeric order) where the person
    covers at least 20 % of the picture."""
    folder = human_seg_dir()
    if folder is None:
        pytest.skip("the human-seg data set is not here (set VBGCAM_DATA to its folder)")
    names = sorted((path.stem for path in (folder / "images").glob("*.jpg")), key=int)
    photos: list[Photo] = []
    for name in names:
        photo = read_photo(folder, name)
        if photo.person.mean() >= PORTRAIT_MIN_COVER:
            photos.append(photo)
        if len(photos) == PORTRAIT_COUNT:
            return photos
    pytest.skip(f"human-seg has fewer than {PORTRAIT_COUNT} portrait-like photos")


def iou(found: np.ndarray, truth: np.ndarray) -> float:
    return np.count_nonzero(found & truth) / np.count_nonzero(found | truth)


def raw_iou(mask: np.ndarray, truth: np.ndarray) -> float:
    """IoU of a model-size soft mask, scaled to the truth bilinearly and cut at 128."""
    height, width = truth.shape
    scaled = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
    return iou(scaled >= 128, truth)


def refined_iou(photo: Photo, flip: bool = False) -> float:
    """Selfie segmenter and matte on one photo, as the live pipeline runs them."""
    mask = SelfieSegmenter(flip=flip).segment(photo.image)
    alpha = Matte().refine(photo.image, mask)
    return iou(alpha >= 128, photo.person)


def model_mask_shape(name: str) -> tuple[int, int]:
    width, height = MODELS[name].input_size
    return height, width


def mask_shape(frame_size: tuple[int, int], preference: str = "auto") -> tuple[int, int]:
    """The segmenter's mask for a frame: the model's input size, or, where it follows the
    person, the frame's aspect at the model's height."""
    choice = choose_model(frame_size, preference)
    height, width = model_mask_shape(choice.name)
    if choice.follow_person:
        return height, max(width, round(height * frame_size[0] / frame_size[1]))
    return height, width


def room(width: int, height: int, seed: int = 3) -> np.ndarray:
    """A generated room: a soft colour gradient with a few furniture-like blocks."""
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    picture = np.empty((height, width, 3), np.float32)
    picture[:, :, 0] = 140 + 60 * x
    picture[:, :, 1] = 150 + 40 * y
    picture[:, :, 2] = 170 - 50 * x * y
    frame = picture.astype(np.uint8)
    rng = np.random.default_rng(seed)
    for _ in range(6):
        left, top = int(rng.integers(0, width - 240)), int(rng.integers(0, height // 2))
        right, bottom = left + int(rng.integers(80, 240)), top + int(rng.integers(60, 200))
        colour = tuple(int(c) for c in rng.integers(40, 220, 3))
        cv2.rectangle(frame, (left, top), (right, bottom), colour, -1)
    return frame


def paste_person(photo: Photo, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The photo's person, cut out by its mask, standing at the bottom middle of a generated
    room at ``width`` x ``height``, 85 % of its height: (frame, exact person mask)."""
    rows, columns = np.nonzero(photo.person)
    top, bottom = rows.min(), rows.max() + 1
    left, right = columns.min(), columns.max() + 1
    cut_image = photo.image[top:bottom, left:right]
    cut_mask = photo.person[top:bottom, left:right].astype(np.uint8) * 255
    scale = min(0.85 * height / cut_image.shape[0], width / cut_image.shape[1])
    size = (round(cut_image.shape[1] * scale), round(cut_image.shape[0] * scale))
    cut_image = cv2.resize(cut_image, size, interpolation=cv2.INTER_LINEAR)
    cut_mask = cv2.resize(cut_mask, size, interpolation=cv2.INTER_NEAREST) > 0
    frame = room(width, height)
    truth = np.zeros((height, width), bool)
    x, y = (width - size[0]) // 2, height - size[1]
    frame[y:, x : x + size[0]][cut_mask] = cut_image[cut_mask]
    truth[y:, x : x + size[0]] = cut_mask
    return frame, truth


# --- which model, and what it returns


@pytest.mark.parametrize(
    ("frame_size", "preference", "choice"),
    [
        pytest.param(
            (1280, 720), "auto", ModelChoice("selfie-general", True), id="16-9-auto-follows"
        ),
        pytest.param(
            (1920, 1080), "auto", ModelChoice("selfie-general", True), id="1080p-auto-follows"
        ),
        pytest.param((640, 480), "auto", ModelChoice("selfie-general"), id="4-3-auto-is-general"),
        pytest.param(
            (720, 1280), "auto", ModelChoice("selfie-general"), id="portrait-auto-is-general"
        ),
        pytest.param((640, 480), "crop", ModelChoice("selfie-general", True), id="4-3-crop"),
        pytest.param((1280, 720), "general", ModelChoice("selfie-general"), id="16-9-general"),
        pytest.param(
            (640, 480), "landscape", ModelChoice("selfie-landscape"), id="4-3-asked-landscape"
        ),
    ],
)
def test_the_model_suits_the_frame_shape_unless_one_is_asked_for(
    with_models: Path, frame_size: tuple[int, int], preference: str, choice: ModelChoice
) -> None:
    """The mask has the frame's aspect at the chosen model's height; a model that saw the
    whole frame gives its own input size, which names it."""
    assert choose_model(frame_size, preference) == choice
    width, height = frame_size
    frame = np.full((height, width, 3), 128, np.uint8)
    mask = SelfieSegmenter(model=preference).segment(frame)
    assert mask.shape == mask_shape(frame_size, preference)
    if not choice.follow_person:
        assert mask.shape == model_mask_shape(choice.name)
    assert mask.dtype == np.uint8


@pytest.mark.parametrize(
    "preference",
    [
        pytest.param("auto", id="auto"),
        pytest.param("crop", id="crop"),
        pytest.param("landscape", id="landscape"),
        pytest.param("general", id="general"),
    ],
)
def test_a_missing_model_is_a_model_error_that_says_how_to_get_it(preference: str) -> None:
    with pytest.raises(ModelError, match="vbgcam models pull"):
        SelfieSegmenter(model=preference)


def test_with_only_the_landscape_model_cached_it_can_be_asked_for_but_general_cannot(
    model_cache: Path,
) -> None:
    """The cache here is this test's own empty one; only one model goes into it."""
    from vbgcam.models import cache_dir

    spec = MODELS["selfie-landscape"]
    cache_dir().mkdir(parents=True)
    shutil.copy2(model_cache / "vbgcam" / "models" / spec.filename, cache_dir())
    frame = np.full((720, 1280, 3), 128, np.uint8)
    assert SelfieSegmenter(model="landscape").segment(frame).shape == model_mask_shape(
        "selfie-landscape"
    )
    with pytest.raises(ModelError, match=r"selfie-general.*vbgcam models pull"):
        SelfieSegmenter(model="general")
    with pytest.raises(ModelError, match="selfie-general"):
        SelfieSegmenter(model="auto")


# --- quality on real photographs


def test_portraits_are_found_with_a_mean_iou_of_at_least_0_85(
    with_models: Path, portraits: list[Photo]
) -> None:
    ious = {photo.name: round(refined_iou(photo), 3) for photo in portraits}
    assert np.mean(list(ious.values())) >= 0.85, ious


def test_the_raw_mask_is_soft_and_at_the_models_input_size(
    with_models: Path, portraits: list[Photo]
) -> None:
    for photo in portraits[:3]:
        height, width = photo.image.shape[:2]
        mask = SelfieSegmenter().segment(photo.image)
        assert mask.shape == mask_shape((width, height)), photo.name
        partial = np.count_nonzero((mask > 0) & (mask < 255))
        assert partial > 0, f"{photo.name}: a hard 0/255 mask, not the model's probabilities"
        assert raw_iou(mask, photo.person) >= 0.8, photo.name


def test_a_real_person_pasted_into_a_generated_720p_room_is_found(
    with_models: Path, portraits: list[Photo]
) -> None:
    """Exact truth at webcam size: the pasted mask, through the general model following
    the person (the first frame is seen whole, the next ones as a band around them)."""
    frame, truth = paste_person(portraits[0], 1280, 720)
    assert 0.1 < truth.mean() < 0.6
    segmenter = SelfieSegmenter()
    for _ in range(3):
        mask = segmenter.segment(frame)
        assert mask.shape == mask_shape((1280, 720))
        alpha = Matte().refine(frame, mask)
        assert alpha.shape == truth.shape
        assert iou(alpha >= 128, truth) >= 0.8


def test_a_person_who_moves_to_the_side_of_a_wide_frame_is_followed(
    with_models: Path, portraits: list[Photo]
) -> None:
    """The band around the person moves with them: a person who jumps from the middle to
    the left edge is still found within a few frames, and the band is then at the left."""
    frame, truth = paste_person(portraits[0], 1280, 720)
    columns = np.flatnonzero(truth.any(axis=0))
    shift = -int(columns[0])  # to the frame's left edge
    moved, moved_truth = np.roll(frame, shift, axis=1), np.roll(truth, shift, axis=1)
    segmenter = SelfieSegmenter()
    for _ in range(3):
        segmenter.segment(frame)
    scores = [iou(cv2.resize(segmenter.segment(moved), (1280, 720)) >= 128, moved_truth)]
    for _ in range(4):
        scores.append(iou(cv2.resize(segmenter.segment(moved), (1280, 720)) >= 128, moved_truth))
    assert scores[-1] >= 0.8, scores
    band = segmenter._band._band
    assert band is not None and band[0] == 0, band


def test_flip_averages_in_a_mirrored_run_and_still_finds_the_person(
    with_models: Path, portraits: list[Photo]
) -> None:
    for photo in portraits[:3]:
        plain = SelfieSegmenter(flip=False).segment(photo.image).copy()
        mirrored = SelfieSegmenter(flip=False).segment(photo.image[:, ::-1].copy())[:, ::-1]
        flipped = SelfieSegmenter(flip=True).segment(photo.image)
        assert not np.array_equal(plain, flipped), photo.name
        average = (plain.astype(np.float32) + mirrored) / 2
        assert np.abs(flipped - average).max() <= 2, photo.name
        assert raw_iou(plain, photo.person) >= 0.85, photo.name
        assert raw_iou(flipped, photo.person) >= 0.85, photo.name
    ious = [refined_iou(photo, flip=True) for photo in portraits]
    assert np.mean(ious) >= 0.85, ious


def test_the_quality_bar_rejects_a_misplaced_or_inverted_mask(portraits: list[Photo]) -> None:
    """The scoring itself: a person shifted by a third of the picture, or everything but
    the person, is far below the bars used above."""
    photo = portraits[0]
    assert iou(photo.person, photo.person) == 1.0
    shifted = np.roll(photo.person, photo.person.shape[1] // 3, axis=1)
    assert iou(shifted, photo.person) < 0.7
    assert iou(~photo.person, photo.person) == 0.0
