"""Backgrounds and the compositor: the person over the new background."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from vbgcam.backgrounds import (
    BlurBackground,
    ColorBackground,
    ImageBackground,
    PassthroughBackground,
    cover_fit,
    make_background,
    read_image,
)
from vbgcam.compose import BINARY_STRIP_ROWS, Compositor, Masker, SoftBlender, blend_binary
from vbgcam.config.settings import BackgroundSettings, build_settings
from vbgcam.effects import Effects, Mirror
from vbgcam.errors import BackgroundError
from vbgcam.pipeline.build import compositor_for
from vbgcam.segmenters.diff import DiffSegmenter
from vbgcam.sources.demo_scene import DemoScene

SIZE = (640, 360)
FPS = 30.0
FAR_PX = 40


def disc(radius_px: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px + 1, 2 * radius_px + 1))


@pytest.fixture(scope="module")
def composited_demo(
    background_image: Path,
) -> list[tuple[float, np.ndarray, np.ndarray, np.ndarray]]:
    """Eight demo frames through diff + image background: (t, frame, mask, composite)."""
    scene = DemoScene(*SIZE)
    compositor = Compositor(
        DiffSegmenter(threshold=3, hold_s=0, clean=False), ImageBackground(background_image, SIZE)
    )
    results = []
    for index in range(8):
        t_s = 0.5 + index / FPS
        frame = np.empty((SIZE[1], SIZE[0], 3), np.uint8)
        scene.render(t_s, frame)
        composite = np.empty_like(frame)
        mask = compositor.compose(frame, t_s, composite).copy()
        results.append((t_s, frame, mask, composite))
    return results


def test_pixels_far_from_the_figure_show_the_background_exactly(
    composited_demo: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]],
    background_image: Path,
) -> None:
    scene = DemoScene(*SIZE)
    background = ImageBackground(background_image, SIZE).image
    for t_s, _frame, _mask, composite in composited_demo[1:]:
        figure = cv2.bitwise_or(scene.person_mask(t_s), scene.person_mask(t_s - 1 / FPS))
        far = cv2.dilate(figure, disc(FAR_PX)) == 0
        assert far.mean() > 0.3, "the test needs room far from the figure"
        wrong = np.any(composite[far] != background[far], axis=-1)
        assert int(wrong.sum()) == 0, f"{int(wrong.sum())} far pixels are not background at {t_s}"


def test_pixels_in_the_mask_show_the_camera_frame_exactly(
    composited_demo: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]],
    background_image: Path,
) -> None:
    background = ImageBackground(background_image, SIZE).image
    for t_s, frame, mask, composite in composited_demo[1:]:
        person = mask > 0
        assert person.any(), f"the moving figure gave no mask at {t_s}"
        assert np.array_equal(composite[person], frame[person])
        assert np.array_equal(composite[~person], background[~person])


def test_first_frame_is_all_background(
    composited_demo: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]],
    background_image: Path,
) -> None:
    _t_s, _frame, mask, composite = composited_demo[0]
    assert not mask.any()
    assert np.array_equal(composite, ImageBackground(background_image, SIZE).image)


class SleepySegmenter:
    """Takes 30 ms a frame, so the stage times can be told apart."""

    def __init__(self) -> None:
        self.mask = np.zeros((SIZE[1], SIZE[0]), np.uint8)
        self.mask[:, : SIZE[0] // 2] = 255

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        time.sleep(0.03)
        return self.mask

    def reset(self) -> None:
        """No memory."""


def test_compositor_records_how_long_each_stage_took(background_image: Path) -> None:
    """Each stage's time is charged to that stage: a 30 ms segmenter shows as segmentation,
    not as blending or background."""
    compositor = Compositor(SleepySegmenter(), ImageBackground(background_image, SIZE))
    frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    compositor.compose(frame, 0.0, np.empty_like(frame))
    times = compositor.times
    assert 29 <= times.segment_ms < 200
    assert times.blend_ms < times.segment_ms and times.background_ms < times.segment_ms


def test_no_background_replacement_gives_exactly_the_camera_frame() -> None:
    scene = DemoScene(*SIZE)
    compositor = Compositor(DiffSegmenter(hold_s=0, clean=False), PassthroughBackground())
    frame = np.empty((SIZE[1], SIZE[0], 3), np.uint8)
    composite = np.empty_like(frame)
    for index in range(3):
        scene.render(index / FPS, frame)
        mask = compositor.compose(frame, index / FPS, composite)
        assert np.array_equal(composite, frame)
    assert mask.any(), "the figure moved, so the mask was computed all the same"


def test_compositor_applies_the_effects_to_the_blended_frame() -> None:
    scene = DemoScene(*SIZE)
    blue = "#0000ff"
    plain = Compositor(DiffSegmenter(hold_s=0, clean=False), ColorBackground(blue, SIZE))
    mirrored = Compositor(
        DiffSegmenter(hold_s=0, clean=False),
        ColorBackground(blue, SIZE),
        effects=Effects([Mirror()]),
    )
    frame = np.empty((SIZE[1], SIZE[0], 3), np.uint8)
    straight, flipped = np.empty_like(frame), np.empty_like(frame)
    for index in range(3):
        scene.render(index / FPS, frame)
        plain.compose(frame, index / FPS, straight)
        mirrored.compose(frame, index / FPS, flipped)
    assert (straight != (255, 0, 0)).any(), "the person should show"
    assert np.array_equal(flipped, straight[:, ::-1])


def test_blend_takes_the_frame_where_the_mask_is_set_and_the_background_elsewhere() -> None:
    frame = np.full((2, 3, 3), 200, np.uint8)
    background = np.full((2, 3, 3), 7, np.uint8)
    mask = np.array([[0, 255, 0], [1, 0, 128]], np.uint8)
    dst = np.empty_like(frame)
    blend_binary(frame, background, mask, dst)
    assert np.array_equal(dst[:, :, 0], [[7, 200, 7], [200, 7, 200]])


def test_binary_blend_in_bands_matches_a_whole_frame_select_on_a_tall_odd_frame() -> None:
    rng = np.random.default_rng(3)
    height = 2 * BINARY_STRIP_ROWS + 17  # two whole bands and a short last one
    frame = rng.integers(0, 256, (height, 50, 3), np.uint8)
    background = rng.integers(0, 256, (height, 50, 3), np.uint8)
    mask = np.where(rng.random((height, 50)) < 0.4, 255, 0).astype(np.uint8)
    dst = np.empty_like(frame)
    blend_binary(frame, background, mask, dst)
    assert np.array_equal(dst, np.where(mask[..., None] > 0, frame, background))


# --- the soft blend: 8-bit arithmetic over the band only


def float_blend(frame: np.ndarray, background: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The exact blend, in float64: what the 8-bit blend must match within one level."""
    weight = alpha[..., None] / 255.0
    return frame * weight + background * (1.0 - weight)


def soft_edged_disc_alpha(
    size: tuple[int, int], center: tuple[int, int], radius: int
) -> np.ndarray:
    """A refined matte's shape: 255 inside, 0 far out, a ramp a few pixels wide between."""
    width, height = size
    alpha = np.zeros((height, width), np.uint8)
    cv2.circle(alpha, center, radius, 255, -1)
    return cv2.GaussianBlur(alpha, (0, 0), 3)


@pytest.mark.parametrize(
    ("size", "alpha_kind"),
    [
        pytest.param((64, 40), "random", id="random-alpha-everywhere"),
        pytest.param((1280, 720), "disc", id="soft-disc-720p"),
        pytest.param((333, 101), "disc", id="soft-disc-odd-size"),
        pytest.param((640, 360), "left-edge", id="band-on-the-frame-border"),
        pytest.param((200, 50), "stripes", id="many-band-pieces-per-strip"),
    ],
)
def test_soft_blend_is_within_one_level_of_the_float_blend_and_exact_where_alpha_is_0_or_255(
    size: tuple[int, int], alpha_kind: str
) -> None:
    width, height = size
    rng = np.random.default_rng(7)
    frame = rng.integers(0, 256, (height, width, 3), np.uint8)
    background = rng.integers(0, 256, (height, width, 3), np.uint8)
    if alpha_kind == "random":
        alpha = rng.integers(0, 256, (height, width), np.uint8)
    elif alpha_kind == "disc":
        alpha = soft_edged_disc_alpha(size, (width // 2, height // 2), height // 3)
    elif alpha_kind == "left-edge":
        alpha = np.zeros((height, width), np.uint8)
        alpha[:, :5] = np.linspace(255, 50, 5).astype(np.uint8)
    else:
        alpha = np.zeros((height, width), np.uint8)
        alpha[:, ::40] = 128  # pieces 39 px apart: each its own rectangle
        alpha[:, 1::40] = 255
    dst = np.empty_like(frame)

    SoftBlender().blend(frame, background, alpha, dst)

    error = np.abs(dst - float_blend(frame, background, alpha))
    assert error.max() <= 1.0, f"{error.max():.2f} levels from the float blend"
    solid, empty = alpha == 255, alpha == 0
    assert np.array_equal(dst[solid], frame[solid])
    assert np.array_equal(dst[empty], background[empty])


def test_soft_blend_over_a_sequence_leaves_nothing_of_the_previous_frame() -> None:
    """Buffers are reused between frames: a frame with no band after one with a band."""
    rng = np.random.default_rng(11)
    size = (320, 180)
    frame = rng.integers(0, 256, (180, 320, 3), np.uint8)
    background = rng.integers(0, 256, (180, 320, 3), np.uint8)
    blender = SoftBlender()
    dst = np.empty_like(frame)
    blender.blend(frame, background, soft_edged_disc_alpha(size, (160, 90), 50), dst)
    hard = np.zeros((180, 320), np.uint8)
    hard[40:120, 100:200] = 255
    blender.blend(frame, background, hard, dst)
    assert np.array_equal(dst, np.where(hard[..., None] > 0, frame, background))


# --- cover_fit


@pytest.mark.parametrize(
    ("source_wh", "size"),
    [
        pytest.param((1920, 1080), (1280, 720), id="same-aspect-down"),
        pytest.param((640, 360), (1280, 720), id="same-aspect-up"),
        pytest.param((1000, 1000), (1280, 720), id="square-to-wide"),
        pytest.param((333, 777), (320, 240), id="tall-odd-to-wide"),
        pytest.param((4000, 300), (640, 480), id="panorama"),
        pytest.param((7, 5), (1920, 1080), id="tiny-up"),
        pytest.param((1280, 720), (1280, 720), id="exact"),
    ],
)
def test_cover_fit_gives_exactly_the_output_size(
    source_wh: tuple[int, int], size: tuple[int, int]
) -> None:
    image = np.zeros((source_wh[1], source_wh[0], 3), np.uint8)
    fitted = cover_fit(image, size)
    assert fitted.shape == (size[1], size[0], 3)
    assert fitted.flags.c_contiguous


def test_cover_fit_crops_a_wide_image_at_both_sides_equally() -> None:
    # 6 x 2: a red column at each edge, blue-green stripes inside; fitted to 2 x 2 at scale 1.
    image = np.array(
        [
            [[0, 0, 255], [1, 1, 1], [10, 20, 30], [40, 50, 60], [2, 2, 2], [0, 0, 255]],
            [[0, 0, 255], [1, 1, 1], [11, 21, 31], [41, 51, 61], [2, 2, 2], [0, 0, 255]],
        ],
        np.uint8,
    )
    fitted = cover_fit(image, (2, 2))
    assert np.array_equal(fitted, image[:, 2:4])


def test_cover_fit_crops_a_tall_image_at_top_and_bottom_equally() -> None:
    image = np.zeros((8, 2, 3), np.uint8)
    image[:3] = 255  # the top three rows are white, the bottom three red
    image[5:] = (0, 0, 255)
    image[3:5] = (9, 9, 9)
    fitted = cover_fit(image, (2, 2))
    assert (fitted == 9).all()


def test_cover_fit_keeps_the_centre_of_the_picture(background_image: Path) -> None:
    """A 1920x1080 ramp fitted to a 4:3 frame loses equal parts of both sides."""
    image = read_image(background_image)
    fitted = cover_fit(image, (640, 480))
    # Blue ramps left to right. Scaled by 4/9 to 853x480, 640 columns survive from column
    # 106, i.e. source columns 239 to 1679: both sides lose the same 239 columns.
    assert abs(int(fitted[240, 0, 0]) - int(image[540, 240, 0])) <= 3
    assert abs(int(fitted[240, -1, 0]) - int(image[540, 1679, 0])) <= 3


# --- image and blur backgrounds


def test_image_background_is_fitted_once_and_read_only(background_image: Path) -> None:
    background = ImageBackground(background_image, (320, 240))
    frame = np.zeros((240, 320, 3), np.uint8)
    alpha = np.zeros((240, 320), np.uint8)
    first = background.frame_for(frame, alpha, 0.0)
    assert first.shape == (240, 320, 3)
    assert background.frame_for(frame, alpha, 5.0) is first
    assert not first.flags.writeable


@pytest.mark.parametrize("strength", [0, 1, 60, 100])
@pytest.mark.parametrize("size", [(320, 240), (330, 250), (1280, 720)], ids=str)
def test_blur_background_returns_the_output_size(size: tuple[int, int], strength: int) -> None:
    frame = np.zeros((size[1], size[0], 3), np.uint8)
    DemoScene(*size).render(0.0, frame)
    alpha = np.zeros(frame.shape[:2], np.uint8)
    blurred = BlurBackground(strength, size).frame_for(frame, alpha, 0.0)
    assert blurred.shape == frame.shape
    assert blurred.dtype == np.uint8


def test_blur_strength_zero_is_the_frame_itself() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    DemoScene(320, 240).render(0.0, frame)
    alpha = np.zeros(frame.shape[:2], np.uint8)
    assert np.array_equal(BlurBackground(0, (320, 240)).frame_for(frame, alpha, 0.0), frame)


def test_blur_removes_detail() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    DemoScene(320, 240).render(0.0, frame)
    alpha = np.zeros(frame.shape[:2], np.uint8)
    blurred = BlurBackground(100, (320, 240)).frame_for(frame, alpha, 0.0)
    sharpness = cv2.Laplacian(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
    blurred_sharpness = cv2.Laplacian(cv2.cvtColor(blurred, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
    assert blurred_sharpness < sharpness / 10


def test_settings_choose_the_image_when_one_is_given_else_blur(background_image: Path) -> None:
    size = (320, 240)
    chosen = make_background(BackgroundSettings(path=str(background_image)), size)
    assert isinstance(chosen, ImageBackground)
    assert isinstance(make_background(BackgroundSettings(path="", blur=30), size), BlurBackground)


# --- reading images


def test_png_with_alpha_is_composited_over_black(tmp_path: Path) -> None:
    bgra = np.array(
        [[[10, 20, 30, 255], [200, 100, 50, 0], [200, 100, 50, 128], [255, 255, 255, 51]]],
        np.uint8,
    )
    path = tmp_path / "logo.png"
    assert cv2.imwrite(str(path), bgra)
    image = read_image(path)
    assert image.shape == (1, 4, 3)
    assert image.dtype == np.uint8
    expected = [[[10, 20, 30], [0, 0, 0], [100, 50, 25], [51, 51, 51]]]
    assert np.array_equal(image, np.array(expected, np.uint8))


def test_grey_and_16_bit_images_are_read_as_8_bit_bgr(tmp_path: Path) -> None:
    grey = tmp_path / "grey.png"
    assert cv2.imwrite(str(grey), np.full((2, 2), 77, np.uint8))
    deep = tmp_path / "deep.png"
    assert cv2.imwrite(str(deep), np.full((2, 2, 3), 65535, np.uint16))
    assert np.array_equal(read_image(grey), np.full((2, 2, 3), 77, np.uint8))
    assert np.array_equal(read_image(deep), np.full((2, 2, 3), 255, np.uint8))


@pytest.mark.parametrize(
    ("content", "expected_in_message"),
    [
        pytest.param(None, "does not exist", id="missing"),
        pytest.param(b"", "cannot decode", id="empty"),
        pytest.param(b"holiday snaps go here\n", "cannot decode", id="text"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(40), "cannot decode", id="truncated-png"),
    ],
)
def test_background_that_is_not_an_image_is_a_background_error(
    tmp_path: Path, content: bytes | None, expected_in_message: str
) -> None:
    path = tmp_path / "beach.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BackgroundError, match=expected_in_message) as info:
        ImageBackground(path, (320, 240))
    assert str(path) in str(info.value)


def test_background_that_is_a_folder_is_a_background_error(tmp_path: Path) -> None:
    with pytest.raises(BackgroundError) as info:
        read_image(tmp_path)
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize("threads", [1, 2, 0])
def test_the_threads_setting_sets_opencvs_thread_count(threads: int) -> None:
    """0 means one thread per core, as config.example.toml says (OpenCV's own 0 means
    no worker threads at all)."""
    before = cv2.getNumThreads()
    try:
        settings = build_settings(
            {"segmenter.name": "diff", "segmenter.threads": threads, "background.blur": 30}
        )
        compositor_for(settings)
        expected = threads if threads else max(1, cv2.getNumberOfCPUs())
        assert cv2.getNumThreads() == expected
    finally:
        cv2.setNumThreads(before)


class ShapeRecorder:
    """A segmenter that records the pictures it is handed and finds nobody."""

    def __init__(self, sees_half_frame: bool) -> None:
        self.sees_half_frame = sees_half_frame
        self.seen: list[tuple[tuple[int, ...], tuple[int, ...] | None]] = []

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        self.seen.append((frame_bgr.shape, None if small_bgr is None else small_bgr.shape))
        return np.zeros(frame_bgr.shape[:2], np.uint8)

    def reset(self) -> None:
        pass


@pytest.mark.parametrize(
    ("frame_size", "sees_half", "expected"),
    [
        pytest.param((1280, 720), True, (360, 640, 3), id="720p-halved"),
        pytest.param((1920, 1080), True, (540, 960, 3), id="1080p-halved"),
        pytest.param((1280, 720), False, (720, 1280, 3), id="720p-whole-when-not-asked"),
        pytest.param((480, 270), True, (270, 480, 3), id="small-frame-whole"),
    ],
)
def test_a_segmenter_that_sees_a_reduced_picture_gets_the_frame_halved(
    frame_size: tuple[int, int], sees_half: bool, expected: tuple[int, int, int]
) -> None:
    """The halved frame is the working copy's first step, shared: one full-size pass less."""
    width, height = frame_size
    recorder = ShapeRecorder(sees_half)
    Masker(recorder).mask_for(np.full((height, width, 3), 100, np.uint8))
    ((seen, small),) = recorder.seen
    assert seen == expected
    assert small is not None and small[1] == min(width, 320)


def test_the_selfie_mask_is_the_same_from_the_halved_frame(with_models: Path) -> None:
    """Handing the selfie network the frame halved changes nothing it computes."""
    from vbgcam.segmenters.selfie import SelfieSegmenter

    frame = np.empty((720, 1280, 3), np.uint8)
    DemoScene(1280, 720).render(1.0, frame)
    masker = Masker(SelfieSegmenter())
    direct = SelfieSegmenter()
    for _ in range(3):  # the first frame is seen whole, the next ones as a band
        expected = cv2.resize(direct.segment(frame), (1280, 720), interpolation=cv2.INTER_LINEAR)
        assert np.array_equal(masker.mask_for(frame), expected)
