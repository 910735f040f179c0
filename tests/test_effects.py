"""Output effects after the blend: mirror and overlay (``vbgcam.effects``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.test_backgrounds import BLUE, GREEN, RED, camera_frame, solid, write
from vbgcam.config.settings import BackgroundSettings
from vbgcam.effects import Effects, Mirror, Overlay, make_effects
from vbgcam.errors import BackgroundError

# --- output effects


def test_mirror_flips_left_and_right() -> None:
    frame = camera_frame((33, 8))
    flipped = frame.copy()
    Mirror().apply(flipped)
    assert np.array_equal(flipped, frame[:, ::-1])


def logo(tmp_path: Path, width: int = 40, height: int = 20) -> Path:
    """Left half opaque green, right half red at alpha 128."""
    bgra = np.zeros((height, width, 4), np.uint8)
    bgra[:, : width // 2] = (*GREEN, 255)
    bgra[:, width // 2 :] = (*RED, 128)
    return write(tmp_path / "logo.png", bgra)


@pytest.mark.parametrize(
    ("position", "top", "left"),
    [
        pytest.param("top-left", 4, 4, id="top-left"),
        pytest.param("top-right", 4, 356, id="top-right"),
        pytest.param("bottom-left", 176, 4, id="bottom-left"),
        pytest.param("bottom-right", 176, 356, id="bottom-right"),
    ],
)
def test_overlay_lands_in_its_corner_blended_by_its_alpha(
    tmp_path: Path, position: str, top: int, left: int
) -> None:
    # 400x200: the margin is 2 % of 200 = 4 px; 40 px is under a quarter of the width.
    effects = make_effects(
        BackgroundSettings(overlay=str(logo(tmp_path)), overlay_position=position), (400, 200)
    )
    frame = solid(400, 200, (100, 100, 100))
    effects.apply(frame)
    assert (frame[top : top + 20, left : left + 20] == GREEN).all()
    half_red = frame[top : top + 20, left + 20 : left + 40].astype(int)
    assert np.abs(half_red - (50, 50, 178)).max() <= 1
    outside = np.ones((200, 400), bool)
    outside[top : top + 20, left : left + 40] = False
    assert (frame[outside] == 100).all()


def test_a_large_overlay_is_scaled_to_a_quarter_of_the_width(tmp_path: Path) -> None:
    overlay = Overlay.from_file(logo(tmp_path, 200, 50), (400, 200), "bottom-right")
    frame = solid(400, 200, (100, 100, 100))
    overlay.apply(frame)
    changed = np.argwhere((frame != 100).any(axis=2))
    # 100x25 at 4 px from the right and bottom edges.
    assert changed.min(axis=0).tolist() == [171, 296]
    assert changed.max(axis=0).tolist() == [195, 395]


def test_full_overlay_is_scaled_to_the_frame(tmp_path: Path) -> None:
    bgra = np.zeros((20, 40, 4), np.uint8)
    bgra[:] = (*BLUE, 255)
    bgra[5:15, 10:30, 3] = 0  # a window in the middle
    path = write(tmp_path / "frame.png", bgra)
    effects = make_effects(
        BackgroundSettings(overlay=str(path), overlay_position="full"), (400, 200)
    )
    frame = solid(400, 200, (100, 100, 100))
    effects.apply(frame)
    assert (frame[:40] == BLUE).all() and (frame[160:] == BLUE).all()
    assert (frame[60:140, 110:290] == 100).all()


def test_effects_mirror_before_the_overlay_so_its_text_reads_right(tmp_path: Path) -> None:
    effects = make_effects(
        BackgroundSettings(mirror=True, overlay=str(logo(tmp_path)), overlay_position="top-left"),
        (400, 200),
    )
    frame = solid(400, 200, (100, 100, 100))
    frame[:, 200:] = 0
    effects.apply(frame)
    assert (frame[4:24, 4:24] == GREEN).all()  # the logo's left half is still on the left
    assert (frame[100, :200] == 0).all() and (frame[100, 200:] == 100).all()


def test_no_effects_leave_the_frame_alone() -> None:
    effects = make_effects(BackgroundSettings(), (32, 16))
    frame = camera_frame((32, 16))
    before = frame.copy()
    effects.apply(frame)
    assert effects.steps == ()
    assert np.array_equal(frame, before)


@pytest.mark.parametrize(
    "content", [pytest.param(None, id="missing"), pytest.param(b"GIF? no", id="garbage")]
)
def test_an_overlay_that_cannot_be_read_is_a_background_error_naming_it(
    tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "logo.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BackgroundError, match="overlay image") as info:
        make_effects(BackgroundSettings(overlay=str(path)), (64, 48))
    assert str(path) in str(info.value)


def test_effects_run_in_the_order_given() -> None:
    calls: list[str] = []

    class Record:
        def __init__(self, name: str) -> None:
            self.name = name

        def apply(self, frame_bgr: np.ndarray) -> None:
            calls.append(self.name)

    Effects([Record("first"), Record("second")]).apply(camera_frame((4, 4)))
    assert calls == ["first", "second"]
