"""Frame sources: the demo scene, a video file standing in for a camera, a camera."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import CLIP_FPS, CLIP_FRAMES, CLIP_SIZE, decode_all
from vbgcam.errors import SourceError
from vbgcam.sources import DemoSource, VideoFileSource, open_source
from vbgcam.sources.demo_scene import DemoScene


def blank(size: tuple[int, int]) -> np.ndarray:
    return np.zeros((size[1], size[0], 3), np.uint8)


def disc(radius_px: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px + 1, 2 * radius_px + 1))


# --- demo scene


@pytest.mark.parametrize("size", [(320, 240), (640, 360), (1280, 720)], ids=str)
def test_demo_source_fills_frames_of_the_requested_size(size: tuple[int, int]) -> None:
    source = open_source("demo", size, 30.0, "MJPG")
    frame = blank(size)
    assert source.read_into(frame)
    assert not source.paces_itself
    assert source.fps == 30.0
    expected = blank(size)
    DemoScene(*size).render(0.0, expected)  # the first frame is scene time 0
    assert np.array_equal(frame, expected)


def test_demo_source_is_deterministic() -> None:
    size = (320, 240)
    first, second = DemoSource(size, 30.0), DemoSource(size, 30.0)
    a, b = blank(size), blank(size)
    previous = None
    for _ in range(5):
        assert first.read_into(a)
        assert second.read_into(b)
        assert np.array_equal(a, b)
        if previous is not None:
            assert not np.array_equal(a, previous), "consecutive demo frames should move"
        previous = a.copy()


@pytest.mark.parametrize("t_s", [0.0, 0.37, 1.0, 2.5, 3.9])
@pytest.mark.parametrize("size", [(320, 240), (1280, 720)], ids=str)
def test_person_mask_covers_exactly_the_pixels_the_figure_changed(
    size: tuple[int, int], t_s: float
) -> None:
    """Frame pixels differ from the empty room where the mask is set and nowhere else, give
    or take a 3 px band for anti-aliased edges."""
    scene = DemoScene(*size)
    frame = blank(size)
    scene.render(t_s, frame)
    mask = scene.person_mask(t_s)
    assert mask.dtype == np.uint8 and mask.shape == frame.shape[:2]
    assert set(np.unique(mask)) == {0, 255}

    differs = np.any(frame != scene.room, axis=2)
    changed_outside_mask = differs & (cv2.dilate(mask, disc(3)) == 0)
    unchanged_inside_mask = ~differs & (cv2.erode(mask, disc(3)) > 0)
    assert changed_outside_mask.sum() == 0
    assert unchanged_inside_mask.sum() == 0
    assert 0.05 < mask.mean() / 255 < 0.5, "the figure should be a sizeable part of the frame"


def test_person_mask_follows_the_figure_over_time() -> None:
    scene = DemoScene(320, 240)
    assert not np.array_equal(scene.person_mask(0.0), scene.person_mask(1.0))
    assert np.array_equal(scene.person_mask(1.0), scene.person_mask(1.0))


# --- video file


def test_video_file_reports_its_size_rate_and_length(demo_clip: Path) -> None:
    source = VideoFileSource(demo_clip)
    try:
        assert source.size == CLIP_SIZE
        assert source.fps == CLIP_FPS
        assert source.frame_count == CLIP_FRAMES
        assert not source.paces_itself
        assert "320x240" in source.description
    finally:
        source.close()


@pytest.mark.parametrize(
    "buffer_size",
    [
        pytest.param((320, 240), id="same-size"),
        pytest.param((160, 120), id="smaller"),
        pytest.param((640, 360), id="larger-other-aspect"),
    ],
)
def test_video_file_frames_are_resized_to_the_buffer(
    demo_clip: Path, buffer_size: tuple[int, int]
) -> None:
    decoded = decode_all(demo_clip)[:3]
    source = VideoFileSource(demo_clip)
    try:
        for expected_native in decoded:
            frame = blank(buffer_size)
            assert source.read_into(frame)
            expected = cv2.resize(expected_native, buffer_size, interpolation=cv2.INTER_AREA)
            assert np.array_equal(frame, expected)
    finally:
        source.close()


def test_video_file_loops_after_its_last_frame(demo_clip: Path) -> None:
    decoded = decode_all(demo_clip)
    assert len(decoded) == CLIP_FRAMES
    source = VideoFileSource(demo_clip)
    frame = blank(CLIP_SIZE)
    try:
        for index in range(CLIP_FRAMES + 3):
            assert source.read_into(frame), f"no frame at read {index}"
            assert np.array_equal(frame, decoded[index % CLIP_FRAMES]), f"wrong frame at {index}"
    finally:
        source.close()


def test_video_file_without_loop_ends_after_its_last_frame(demo_clip: Path) -> None:
    source = VideoFileSource(demo_clip, loop=False)
    frame = blank(CLIP_SIZE)
    try:
        delivered = 0
        while source.read_into(frame):
            delivered += 1
            assert delivered <= CLIP_FRAMES
        assert delivered == CLIP_FRAMES
    finally:
        source.close()


def test_still_image_given_as_a_camera_is_refused_with_where_it_belongs(
    background_image: Path,
) -> None:
    """A picture is not a camera: the message says to use it as the background instead."""
    with pytest.raises(SourceError, match=r"single picture, not a video.*--bg"):
        VideoFileSource(background_image)


@pytest.mark.parametrize(
    ("content", "expected_in_message"),
    [
        pytest.param(None, "does not exist", id="missing"),
        pytest.param(b"", "cannot decode", id="empty"),
        pytest.param(b"shopping list: milk, eggs\n", "cannot decode", id="text"),
        pytest.param(b"\x00\x00\x00\x18ftypmp42" + bytes(200), "cannot decode", id="truncated-mp4"),
    ],
)
def test_file_that_is_not_a_video_is_a_source_error(
    tmp_path: Path, content: bytes | None, expected_in_message: str
) -> None:
    path = tmp_path / "camera.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=expected_in_message) as info:
        open_source(str(path), (320, 240), 30.0, "MJPG")
    assert str(path) in str(info.value)


# --- camera


@pytest.mark.parametrize(
    ("spec", "expected_in_message"),
    [
        pytest.param("97", "cannot open camera 97", id="index"),
        pytest.param("/dev/video97", "camera /dev/video97 does not exist", id="device-path"),
    ],
)
def test_camera_that_does_not_exist_is_a_source_error_quickly(
    spec: str, expected_in_message: str
) -> None:
    if Path("/dev/video97").exists():
        pytest.skip("this machine has a /dev/video97")
    start = time.monotonic()
    with pytest.raises(SourceError, match=expected_in_message) as info:
        open_source(spec, (640, 480), 30.0, "MJPG")
    assert time.monotonic() - start < 2.0
    assert "--camera" in str(info.value), "the message should say how to pick another camera"
