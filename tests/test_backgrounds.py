"""Background modes and output effects, on real files generated with known content."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vbgcam.backgrounds import (
    BlurBackground,
    ColorBackground,
    FolderBackground,
    ImageBackground,
    PassthroughBackground,
    VideoBackground,
    make_background,
)
from vbgcam.config.settings import BackgroundSettings
from vbgcam.errors import BackgroundError
from vbgcam.imaging import fit_image
from vbgcam.sources.demo_scene import DemoScene

RED = (0, 0, 255)
GREEN = (0, 255, 0)
BLUE = (255, 0, 0)


def write(path: Path, image: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), image)
    return path


def solid(width: int, height: int, bgr: tuple[int, int, int]) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    image[:] = bgr
    return image


def no_person(size: tuple[int, int]) -> np.ndarray:
    return np.zeros((size[1], size[0]), np.uint8)


def camera_frame(size: tuple[int, int]) -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (size[1], size[0], 3), np.uint8)


@pytest.fixture
def bands(tmp_path: Path) -> Path:
    """200x100 PNG: 50 columns red, 100 green, 50 blue."""
    image = solid(200, 100, GREEN)
    image[:, :50] = RED
    image[:, 150:] = BLUE
    return write(tmp_path / "bands.png", image)


def show(path: Path, size: tuple[int, int], **settings: Any) -> np.ndarray:
    """The first frame of the background at ``path`` with ``settings``."""
    background = make_background(BackgroundSettings(path=str(path), **settings), size)
    return background.frame_for(camera_frame(size), no_person(size), 0.0)


# --- fitting a picture


@pytest.mark.parametrize("fit", ["cover", "contain", "stretch", "tile"])
@pytest.mark.parametrize(
    "source_wh", [(1920, 1080), (333, 777), (7, 5), (4000, 300), (320, 240)], ids=str
)
def test_every_fit_gives_exactly_the_output_size(fit: str, source_wh: tuple[int, int]) -> None:
    image = np.zeros((source_wh[1], source_wh[0], 3), np.uint8)
    assert fit_image(image, (320, 240), fit).shape == (240, 320, 3)


def test_cover_fills_the_frame_and_crops_both_sides_equally(bands: Path) -> None:
    picture = show(bands, (100, 100), fit="cover")
    assert (picture == GREEN).all()


def test_contain_letterboxes_a_wide_picture_with_black_bars_of_equal_height(bands: Path) -> None:
    picture = show(bands, (100, 100), fit="contain")
    # Scaled by 1/2 to 100x50, centred: 25 black rows above and below.
    black_rows = np.flatnonzero((picture == 0).all(axis=(1, 2)))
    assert black_rows.tolist() == [*range(25), *range(75, 100)]
    assert (picture[25:75, 2:23] == RED).all()
    assert (picture[25:75, 27:73] == GREEN).all()
    assert (picture[25:75, 77:] == BLUE).all()


def test_contain_pillarboxes_a_tall_picture(tmp_path: Path) -> None:
    path = write(tmp_path / "tall.png", solid(50, 100, GREEN))
    picture = show(path, (200, 100), fit="contain")
    black_columns = np.flatnonzero((picture == 0).all(axis=(0, 2)))
    assert black_columns.tolist() == [*range(75), *range(125, 200)]
    assert (picture[:, 75:125] == GREEN).all()


def test_stretch_scales_each_side_to_the_output(bands: Path) -> None:
    picture = show(bands, (100, 100), fit="stretch")
    # Half as wide, as high: the bands become 25, 50 and 25 columns, nothing is cut.
    assert (picture[:, :24] == RED).all()
    assert (picture[:, 26:74] == GREEN).all()
    assert (picture[:, 76:] == BLUE).all()


def test_tile_repeats_the_picture_from_the_top_left_corner(tmp_path: Path) -> None:
    tile = np.random.default_rng(3).integers(0, 256, (20, 30, 3), np.uint8)
    path = write(tmp_path / "tile.png", tile)
    picture = show(path, (100, 50), fit="tile")
    rows, columns = np.mgrid[:50, :100]
    assert np.array_equal(picture, tile[rows % 20, columns % 30])


def test_a_png_background_with_alpha_is_shown_over_black(tmp_path: Path) -> None:
    bgra = np.zeros((40, 40, 4), np.uint8)
    bgra[:, :, :3] = (200, 100, 50)
    bgra[:, 20:, 3] = 255  # left half transparent, right half opaque
    path = write(tmp_path / "half.png", bgra)
    picture = show(path, (40, 40), mode="image")
    assert (picture[:, :20] == 0).all()
    assert (picture[:, 20:] == (200, 100, 50)).all()


# --- a folder of pictures


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Pictures a (red), c (green), e (blue) among a note, a broken JPEG and a sub-folder."""
    pictures = tmp_path / "holiday"
    pictures.mkdir()
    write(pictures / "a.png", solid(64, 48, RED))
    (pictures / "b.txt").write_text("not a picture\n")
    write(pictures / "c.png", solid(64, 48, GREEN))
    (pictures / "d.jpg").write_bytes(b"\xff\xd8 this is no JPEG")
    write(pictures / "e.png", solid(64, 48, BLUE))
    (pictures / "f.png").mkdir()
    return pictures


def colour_at(background: FolderBackground, t_s: float) -> tuple[int, ...]:
    size = (64, 48)
    return tuple(
        int(v) for v in background.frame_for(camera_frame(size), no_person(size), t_s)[0, 0]
    )


def test_folder_shows_its_pictures_in_name_order_every_interval(folder: Path) -> None:
    background = make_background(
        BackgroundSettings(mode="folder", path=str(folder), interval_s=2.0), (64, 48)
    )
    assert isinstance(background, FolderBackground)
    shown = [colour_at(background, t_s) for t_s in (0.0, 1.9, 2.0, 3.9, 4.0, 5.5, 6.0, 8.0)]
    assert shown == [RED, RED, GREEN, GREEN, BLUE, BLUE, RED, GREEN]


def test_folder_skips_files_that_are_not_pictures(folder: Path) -> None:
    background = FolderBackground(folder, (64, 48), interval_s=1.0)
    shown = [colour_at(background, float(t_s)) for t_s in range(4)]
    assert shown == [RED, GREEN, BLUE, RED]
    assert [p.name for p in background.paths] == ["a.png", "c.png", "e.png"]


def test_folder_without_interval_changes_only_on_advance(folder: Path) -> None:
    background = make_background(
        BackgroundSettings(mode="auto", path=str(folder), interval_s=0.0), (64, 48)
    )
    assert colour_at(background, 0.0) == RED
    assert colour_at(background, 1000.0) == RED
    background.advance()
    assert colour_at(background, 1000.1) == GREEN
    background.advance()
    background.advance()
    assert colour_at(background, 1000.2) == RED


def test_advance_restarts_the_interval(folder: Path) -> None:
    background = FolderBackground(folder, (64, 48), interval_s=2.0)
    assert colour_at(background, 0.0) == RED
    background.advance()
    assert colour_at(background, 1.5) == GREEN
    assert colour_at(background, 3.4) == GREEN
    assert colour_at(background, 3.5) == BLUE


def test_folder_fits_each_picture_once(folder: Path) -> None:
    size = (64, 48)
    background = FolderBackground(folder, size)
    shown = []
    for _ in range(4):  # red, green, blue, and red again
        shown.append(background.frame_for(camera_frame(size), no_person(size), 0.0))
        background.advance()
    assert shown[3] is shown[0]
    assert not shown[0].flags.writeable


@pytest.mark.parametrize(
    ("contents", "expected_in_message"),
    [
        pytest.param({}, "holds no pictures", id="empty"),
        pytest.param({"notes.txt": b"hello"}, "holds no pictures", id="no-pictures"),
        pytest.param({"broken.png": b"\x89PNG nope"}, "no picture that can be read", id="broken"),
    ],
)
def test_folder_without_a_readable_picture_is_a_background_error(
    tmp_path: Path, contents: dict[str, bytes], expected_in_message: str
) -> None:
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(BackgroundError, match=expected_in_message) as info:
        make_background(BackgroundSettings(mode="folder", path=str(tmp_path)), (64, 48))
    assert str(tmp_path) in str(info.value)


# --- a video


VIDEO_FPS = 10.0
VIDEO_FRAMES = 12


def grey_level(index: int) -> int:
    return 10 + 20 * index


@pytest.fixture(scope="module")
def counting_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 frames at 10 fps, 64x48 MJPG; frame k is a solid grey of level 10 + 20 k."""
    path = tmp_path_factory.mktemp("video") / "count.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), VIDEO_FPS, (64, 48))
    assert writer.isOpened()
    for index in range(VIDEO_FRAMES):
        writer.write(solid(64, 48, (grey_level(index),) * 3))
    writer.release()
    return path


def shown_index(picture: np.ndarray) -> int:
    """Which frame of the counting clip ``picture`` is, read from its grey level."""
    level = float(picture.mean())
    index = round((level - 10) / 20)
    assert abs(level - grey_level(index)) < 5, f"grey {level} is no frame of the clip"
    return index


@pytest.mark.parametrize("camera_fps", [30.0, 7.0, 10.0])
def test_video_plays_at_its_own_rate_whatever_the_camera_rate(
    counting_clip: Path, camera_fps: float
) -> None:
    size = (64, 48)
    background = make_background(BackgroundSettings(path=str(counting_clip)), size)
    assert isinstance(background, VideoBackground)
    frame, alpha = camera_frame(size), no_person(size)
    shown, expected = [], []
    for call in range(round(2.5 * VIDEO_FRAMES / VIDEO_FPS * camera_fps)):  # 2.5 loops
        t_s = call / camera_fps
        shown.append(shown_index(background.frame_for(frame, alpha, t_s)))
        expected.append(math.floor(t_s * VIDEO_FPS + 1e-6) % VIDEO_FRAMES)
    assert shown == expected
    assert VIDEO_FRAMES - 1 in shown and shown.count(0) >= 2, "the clip did not loop"


def test_a_video_with_an_impossible_frame_rate_is_played_at_the_default_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "fast.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 1000, (64, 48))
    for index in range(3):
        writer.write(solid(64, 48, (grey_level(index),) * 3))
    writer.release()
    with caplog.at_level(logging.WARNING, logger="vbgcam.backgrounds"):
        background = VideoBackground(path, (64, 48))
    assert background.fps == VideoBackground.DEFAULT_FPS
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "says 1000 fps" in said[0]
    assert f"playing it at {VideoBackground.DEFAULT_FPS:g} fps" in said[0], said


def test_video_decodes_at_most_one_frame_per_call_when_the_camera_is_faster(
    counting_clip: Path,
) -> None:
    size = (64, 48)
    background = VideoBackground(counting_clip, size)
    grabs: list[int] = []
    real_grab = background._grab

    def counting_grab() -> bool:
        grabs[-1] += 1
        return real_grab()

    background._grab = counting_grab  # type: ignore[method-assign]
    for call in range(90):
        grabs.append(0)
        background.frame_for(camera_frame(size), no_person(size), 100.0 + call / 30)
    assert max(grabs) == 1
    assert sum(grabs) == 29  # three seconds of a 10 fps clip, after the first frame


def test_video_fits_its_frames_like_a_picture(counting_clip: Path) -> None:
    picture = show(counting_clip, (128, 48), fit="contain")
    assert picture.shape == (48, 128, 3)
    assert (picture[:, :32] == 0).all() and (picture[:, 96:] == 0).all()
    assert abs(float(picture[:, 33:95].mean()) - grey_level(0)) < 5


def test_a_video_with_another_suffix_is_found_by_trying_it(
    counting_clip: Path, tmp_path: Path
) -> None:
    renamed = tmp_path / "clip.dat"
    renamed.write_bytes(counting_clip.read_bytes())
    assert isinstance(
        make_background(BackgroundSettings(path=str(renamed)), (64, 48)), VideoBackground
    )


@pytest.mark.parametrize("name", ["broken.mp4", "broken.dat"])
def test_a_video_that_cannot_be_decoded_is_a_background_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42 and then nothing useful" * 4)
    with pytest.raises(BackgroundError) as info:
        make_background(BackgroundSettings(path=str(path)), (64, 48))
    assert str(path) in str(info.value)


# --- blur without a halo


def test_blurred_background_does_not_take_the_persons_colour(tmp_path: Path) -> None:
    """A saturated red person on a flat blue-ish wall: just outside the person, the blurred
    wall keeps its own colour; the plain blur (no person alpha) turns it purple."""
    size = (640, 360)
    wall = np.array((200, 120, 40), np.float32)
    alpha = np.zeros((360, 640), np.uint8)
    cv2.circle(alpha, (320, 180), 80, 255, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 2)  # a matte's soft edge
    weight = alpha[:, :, None] / 255
    frame = (wall * (1 - weight) + np.array(RED, np.float32) * weight + 0.5).astype(np.uint8)
    rows, columns = np.mgrid[:360, :640]
    radius = np.hypot(columns - 320, rows - 180)
    ring = (radius > 86) & (radius < 110)

    background = BlurBackground(60, size)
    ours = background.frame_for(frame, alpha, 0.0)[ring].mean(axis=0)
    plain = background.frame_for(frame, no_person(size), 0.0)[ring].mean(axis=0)

    assert np.abs(ours - wall).max() < 8, f"halo: ring is {ours}, the wall {wall}"
    assert np.abs(plain - wall).max() > 24, "the plain blur should show the halo"


def test_blur_is_the_mode_without_a_path() -> None:
    background = make_background(BackgroundSettings(mode="blur", path="ignored.png"), (64, 48))
    assert isinstance(background, BlurBackground)


# --- colour and no replacement


@pytest.mark.parametrize(
    ("color", "bgr"),
    [
        pytest.param("#102030", (0x30, 0x20, 0x10), id="hex"),
        pytest.param("#FF8000", (0x00, 0x80, 0xFF), id="hex-upper"),
        pytest.param("teal", (152, 161, 42), id="name"),
    ],
)
def test_color_background_is_that_colour_in_bgr_order(
    color: str, bgr: tuple[int, int, int]
) -> None:
    size = (32, 16)
    background = make_background(BackgroundSettings(mode="color", color=color), size)
    assert isinstance(background, ColorBackground)
    picture = background.frame_for(camera_frame(size), no_person(size), 0.0)
    assert picture.shape == (16, 32, 3)
    assert (picture == bgr).all()


def test_none_background_is_the_camera_frame_itself() -> None:
    size = (32, 16)
    frame = camera_frame(size)
    background = make_background(BackgroundSettings(mode="none"), size)
    assert isinstance(background, PassthroughBackground)
    assert background.frame_for(frame, no_person(size), 0.0) is frame


@pytest.mark.parametrize(
    ("settings", "expected_in_message"),
    [
        pytest.param(BackgroundSettings(mode="color", color="sky"), "'sky'", id="bad-colour"),
        pytest.param(BackgroundSettings(mode="image", path=""), "needs a path", id="no-path"),
        pytest.param(
            BackgroundSettings(mode="image", path="/no/such.png"),
            "/no/such.png",
            id="missing-image",
        ),
        pytest.param(
            BackgroundSettings(mode="folder", path="/no/such"), "/no/such", id="missing-folder"
        ),
        pytest.param(
            BackgroundSettings(mode="video", path="/no/such.mp4"),
            "/no/such.mp4",
            id="missing-video",
        ),
        pytest.param(BackgroundSettings(path="/no/such.jpg"), "does not exist", id="auto-missing"),
    ],
)
def test_settings_that_cannot_give_a_background_are_background_errors(
    settings: BackgroundSettings, expected_in_message: str
) -> None:
    with pytest.raises(BackgroundError, match=expected_in_message):
        make_background(settings, (64, 48))


def test_auto_mode_picks_by_what_the_path_is(
    bands: Path, folder: Path, counting_clip: Path
) -> None:
    kinds: dict[str, type] = {
        "": BlurBackground,
        str(bands): ImageBackground,
        str(folder): FolderBackground,
        str(counting_clip): VideoBackground,
    }
    for path, kind in kinds.items():
        assert isinstance(make_background(BackgroundSettings(path=path), (64, 48)), kind), path


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


@pytest.mark.parametrize("size", [(1280, 720), (640, 480), (1920, 1080)], ids=str)
def test_blur_from_the_compositors_working_copy_is_the_blur_of_the_frame(
    size: tuple[int, int],
) -> None:
    """The blur starts from the working copy the compositor already made, where that holds
    a quarter of the frame's pixels, instead of reading the frame again: the picture is the
    same. A frame whose working copy is too small for it (1080p) is blurred from itself."""
    from vbgcam.shrink import working_copy

    width, height = size
    frame = np.zeros((height, width, 3), np.uint8)
    DemoScene(width, height).render(1.0, frame)
    frame = cv2.add(frame, np.random.default_rng(1).integers(0, 12, frame.shape, np.uint8))
    alpha = np.zeros((height, width), np.uint8)
    cv2.circle(alpha, (width // 2, height // 2), height // 3, 255, -1)
    from_frame = BlurBackground(60, size).frame_for(frame, alpha, 0.0).copy()
    small = working_copy(frame)
    from_small = BlurBackground(60, size).frame_for(frame, alpha, 0.0, small)
    assert np.array_equal(from_small, from_frame)
    # Which picture it starts from: a dark working copy darkens the blur where it is used.
    dark = BlurBackground(60, size).frame_for(frame, alpha, 0.0, np.zeros_like(small))
    uses_the_copy = small.shape[0] * 4 >= height and small.shape[1] * 4 >= width
    assert (int(dark.mean()) < int(from_frame.mean()) - 20) == uses_the_copy


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


def test_every_background_mode_has_a_kind_that_builds_it() -> None:
    from vbgcam.backgrounds import KINDS
    from vbgcam.config.settings import BACKGROUND_MODES

    assert sorted(KINDS) == sorted(BACKGROUND_MODES)
    built = make_background(BackgroundSettings(mode="color", color="#ff0000"), (8, 6))
    assert isinstance(built, ColorBackground)
