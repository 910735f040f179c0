"""Pictures read from files (any depth, alpha, grey) and fitted to a frame (``vbgcam.imaging``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vbgcam.backgrounds import (
    ImageBackground,
)
from vbgcam.errors import BackgroundError
from vbgcam.imaging import cover_fit, read_image

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
