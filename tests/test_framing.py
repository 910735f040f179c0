"""Auto-framing (``vbgcam.framing``) on generated people with known masks, 30 frames a second:
a person off-centre is centred within 2 s and stays so, no frame cuts a head, swaying
moves nothing, nobody in view eases back to the whole picture, several people are framed
together, and the crop never leaves the picture or zooms past its limit."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from tests.people_masks import draw_person, person_mask
from vbgcam.framing import HEAD_ROOM, Crop, Framer, FramingStage, person_box

SIZE = (1280, 720)
FPS = 30.0
W, H = SIZE


def run(
    scene: Callable[[int], np.ndarray | None], frames: int, max_zoom: float = 2.0
) -> list[tuple[Crop, tuple[float, ...] | None]]:
    """The crop of every frame, with the people's box in it; ``scene(i)`` is frame i's
    alpha (None: nobody)."""
    framer = Framer(max_zoom)
    crops = []
    for index in range(frames):
        alpha = scene(index)
        box = person_box(alpha, SIZE) if alpha is not None else None
        crops.append((framer.crop_for(box, SIZE, 1 / FPS), box))
    return crops


def centre_in_crop(crop: Crop, box: tuple[float, ...]) -> float:
    """Where the people's centre is across the crop: 0.5 is the middle."""
    return ((box[0] + box[2]) / 2 - crop.x) / crop.w


def test_a_person_sitting_in_the_left_third_is_centred_within_2_s_and_stays_centred() -> None:
    alpha = person_mask(SIZE, 0.27 * W, 0.38 * H, 0.15 * W)
    crops = run(lambda i: alpha, round(6 * FPS))
    assert crops[0][0].h > 0.98 * H, "a stream starts on the whole picture and moves in"
    for crop, box in crops[round(2 * FPS) :]:
        assert box is not None
        assert abs(centre_in_crop(crop, box) - 0.5) < 0.03
        assert crop.h < 0.6 * H, "zoomed in on a small, far person"


def test_no_frame_cuts_the_head_even_when_the_person_stands_up_quickly() -> None:
    def scene(index: int) -> np.ndarray:
        rise = min(1.0, max(0.0, (index - 60) / 6))  # stands up within 0.2 s from 2 s on
        return person_mask(SIZE, 0.5 * W, (0.40 - 0.35 * rise) * H, 0.18 * W)

    for crop, box in run(scene, round(5 * FPS)):
        assert box is not None
        assert box[1] >= crop.y - 0.5, f"head top {box[1]:.0f} above the crop's {crop.y:.0f}"


def test_the_crop_stays_still_while_the_person_only_sways_and_talks() -> None:
    def scene(index: int) -> np.ndarray:
        sway = 0.02 * W * math.sin(2 * math.pi * 0.5 * index / FPS)
        nod = 0.01 * H * math.sin(2 * math.pi * 1.3 * index / FPS)
        return person_mask(SIZE, 0.45 * W + sway, 0.35 * H + nod, 0.2 * W)

    crops = [crop for crop, _ in run(scene, round(8 * FPS))][round(2 * FPS) :]
    steps = [
        max(abs(b.x - a.x), abs(b.y - a.y), abs(b.h - a.h)) for a, b in itertools.pairwise(crops)
    ]
    assert max(steps) < 2.0, f"the crop moved {max(steps):.1f} px in one frame"


def test_after_a_move_the_crop_settles_within_2_s_without_jerks() -> None:
    def scene(index: int) -> np.ndarray:
        x = 0.3 if index < 60 else 0.7  # moves to the other side at 2 s
        return person_mask(SIZE, x * W, 0.36 * H, 0.16 * W)

    crops = run(scene, round(6 * FPS))
    settled = crops[60 + round(2 * FPS)][0]
    final = crops[-1][0]
    assert abs(settled.x - final.x) < 0.01 * W
    assert abs(centre_in_crop(*crops[-1]) - 0.5) < 0.03
    steps = [abs(b[0].x - a[0].x) for a, b in itertools.pairwise(crops)]
    assert max(steps) < 0.05 * W, "a jump instead of a pan"


def test_with_nobody_in_view_it_eases_back_to_the_whole_picture() -> None:
    alpha = person_mask(SIZE, 0.3 * W, 0.38 * H, 0.15 * W)
    crops = run(lambda i: alpha if i < 60 else None, round(5 * FPS))
    assert crops[59][0].h < 0.6 * H
    whole = crops[60 + round(2 * FPS)][0]
    assert whole.rounded() == (0, 0, W, H)


def test_several_people_are_framed_together() -> None:
    alpha = person_mask(SIZE, 0.3 * W, 0.38 * H, 0.14 * W)
    draw_person(alpha, 0.55 * W, 0.40 * H, 0.13 * W)
    crop, box = run(lambda i: alpha, round(3 * FPS))[-1]
    assert box is not None
    assert crop.x <= box[0] and box[2] <= crop.x + crop.w, "someone is out of the picture"


@pytest.mark.parametrize("max_zoom", [1.0, 1.5, 2.0, 3.0])
def test_the_crop_never_leaves_the_picture_nor_zooms_past_its_limit(max_zoom: float) -> None:
    rng = np.random.default_rng(5)
    places = rng.uniform([0.0, 0.05, 0.03], [1.0, 0.9, 0.5], (12, 3))

    def scene(index: int) -> np.ndarray:
        x, top, width = places[index // 20]
        return person_mask(SIZE, x * W, top * H, width * W)

    for crop, _ in run(scene, 12 * 20, max_zoom):
        assert crop.x >= -1e-6 and crop.y >= -1e-6
        assert crop.x + crop.w <= W + 1e-6 and crop.y + crop.h <= H + 1e-6
        assert crop.h >= H / max_zoom - 1e-6
        assert crop.w / crop.h == pytest.approx(W / H)


def test_there_is_head_room_above_a_centred_person() -> None:
    alpha = person_mask(SIZE, 0.5 * W, 0.4 * H, 0.15 * W)
    crop, box = run(lambda i: alpha, round(3 * FPS))[-1]
    assert box is not None
    assert (box[1] - crop.y) / crop.h == pytest.approx(HEAD_ROOM, abs=0.03)


def test_the_framing_stage_crops_the_picture_and_the_matte_makes_the_alpha_alike() -> None:
    """The picture is cropped and scaled by the stage, the alpha by the matte from its small
    copy: both must land on the same pixels."""
    from vbgcam.matte import Matte

    stage = FramingStage(2.0, FPS)
    matte = Matte()
    frame = np.zeros((H, W, 3), np.uint8)
    frame[:, : W // 2] = (0, 0, 255)  # red left half, blue right half
    frame[:, W // 2 :] = (255, 0, 0)
    alpha = person_mask(SIZE, 0.3 * W, 0.38 * H, 0.15 * W)
    frame[alpha > 0] = (0, 255, 0)  # the person is green
    small_mask = cv2.resize(alpha, (320, 180), interpolation=cv2.INTER_AREA)
    for _ in range(round(3 * FPS)):
        crop = stage.decide(small_mask, SIZE)
    assert crop is not None and crop.h < 0.6 * H
    framed = stage.frame(frame, crop)
    framed_alpha = matte.refine(frame, small_mask, None, crop)
    assert framed.shape == frame.shape and framed_alpha.shape == alpha.shape
    # The person's centre is in the middle of the framed picture.
    columns = np.flatnonzero(framed_alpha.max(axis=0) >= 128)
    assert (columns[0] + columns[-1]) / 2 / W == pytest.approx(0.5, abs=0.03)
    # Alpha and picture agree: where the alpha is solid the picture is the green person,
    # where it is clear, not.
    solid = framed_alpha >= 250
    clear = framed_alpha <= 5
    green = np.all(framed == (0, 255, 0), axis=2)
    assert green[solid].mean() > 0.99
    assert green[clear].mean() < 0.01


def test_with_nobody_in_view_the_stage_leaves_the_whole_picture() -> None:
    stage = FramingStage(2.0, FPS)
    assert stage.decide(np.zeros((180, 320), np.uint8), SIZE) is None


def test_a_hand_raised_above_the_head_does_not_move_the_crop() -> None:
    def scene(index: int) -> np.ndarray:
        alpha = person_mask(SIZE, 0.5 * W, 0.35 * H, 0.16 * W)
        if 60 <= index < 90:  # a hand raised beside and above the head for a second
            alpha[round(0.1 * H) : round(0.5 * H), round(0.58 * W) : round(0.61 * W)] = 255
        return alpha

    crops = [crop for crop, _ in run(scene, round(4 * FPS))]
    steps = [abs(b.y - a.y) for a, b in itertools.pairwise(crops[round(1.8 * FPS) :])]
    assert max(steps) < 2.0, f"the crop jumped {max(steps):.0f} px for a raised hand"


def test_a_machine_that_drops_frames_settles_as_fast_in_seconds() -> None:
    """Framing is timed by the frames' own times: a compositor that gets every other
    frame still settles within 2 s."""
    alpha = person_mask(SIZE, 0.27 * W, 0.38 * H, 0.15 * W)
    stage = FramingStage(2.0, FPS)
    small = cv2.resize(alpha, (320, 180), interpolation=cv2.INTER_AREA)
    crop = None
    for index in range(0, round(2.2 * FPS), 2):  # 15 frames a second arrive
        crop = stage.decide(small, SIZE, index / FPS)
    box = person_box(small, SIZE)
    assert crop is not None and box is not None
    assert abs(centre_in_crop(crop, box) - 0.5) < 0.03


# --- a camera asked for more than the output


def test_camera_size_is_asked_only_with_framing_and_must_be_larger_and_alike() -> None:
    from vbgcam.config.settings import build_settings
    from vbgcam.errors import ConfigError
    from vbgcam.pipeline.build import capture_size

    def size_for(**values: str) -> tuple[int, int]:
        base = {"camera.size": "1280x720", "camera.source": "demo"}  # no real camera asked
        return capture_size(build_settings({**base, **values}))

    assert size_for() == (1280, 720)
    assert size_for(**{"framing.camera_size": "1920x1080"}) == (1280, 720), "framing is off"
    on = {"framing.mode": "auto"}
    assert size_for(**on, **{"framing.camera_size": "1920x1080"}) == (1920, 1080)
    assert size_for(**on) == (1280, 720)
    with pytest.raises(ConfigError, match="smaller than the output"):
        size_for(**on, **{"framing.camera_size": "640x360"})
    with pytest.raises(ConfigError, match="another shape"):
        size_for(**on, **{"framing.camera_size": "1920x1440"})


@pytest.mark.parametrize("framing", [True, False])
def test_a_larger_camera_picture_comes_out_at_the_output_size(framing: bool) -> None:
    """With framing the crop is taken from the camera's larger picture (sharper than
    scaling the output up); with framing off the whole picture is scaled down."""
    from tests.segmenters.test_people import ScriptedMasks
    from vbgcam.backgrounds import ColorBackground
    from vbgcam.compose import Compositor

    camera_size, out_size = (1920, 1080), (1280, 720)
    alpha = person_mask(camera_size, 0.3 * 1920, 0.38 * 1080, 0.15 * 1920)
    small = cv2.resize(alpha, (320, 180), interpolation=cv2.INTER_AREA)
    frame = np.zeros((1080, 1920, 3), np.uint8)
    frame[alpha > 0] = (0, 255, 0)  # the person is green
    compositor = Compositor(
        ScriptedMasks(lambda index: small),
        ColorBackground("#0000ff", out_size),
        framing=FramingStage(2.0, FPS) if framing else None,
    )
    out = np.empty((720, 1280, 3), np.uint8)
    for index in range(round(3 * FPS)):
        used = compositor.compose(frame, index / FPS, out)
    assert used.shape == (720, 1280)
    green = np.all(out == (0, 255, 0), axis=2)
    columns = np.flatnonzero(green.any(axis=0))
    centre = (columns[0] + columns[-1]) / 2 / 1280
    if framing:
        assert centre == pytest.approx(0.5, abs=0.03)
        assert green.mean() > 0.15, "zoomed in on the person"
    else:
        assert centre == pytest.approx(0.3, abs=0.02)
        assert green.mean() == pytest.approx((alpha > 0).mean(), abs=0.01)


def test_auto_camera_size_is_the_smallest_larger_mode_that_reaches_max_zoom() -> None:
    from vbgcam.sources.camera_modes import Mode, larger_mode

    modes = [
        Mode("MJPG", 1280, 720, (30.0,)),
        Mode("MJPG", 1920, 1080, (30.0,)),
        Mode("MJPG", 2560, 1440, (30.0,)),
        Mode("MJPG", 3840, 2160, (15.0,)),  # too slow
        Mode("MJPG", 1600, 1200, (30.0,)),  # 4:3
        Mode("YUYV", 2560, 1440, (5.0,)),
    ]
    assert larger_mode(modes, (1280, 720), 30.0, "MJPG", 2.0) == (2560, 1440)
    assert larger_mode(modes, (1280, 720), 30.0, "MJPG", 1.5) == (1920, 1080)
    assert larger_mode(modes[:2], (1280, 720), 30.0, "MJPG", 2.0) == (1920, 1080)
    assert larger_mode(modes, (1920, 1080), 30.0, "MJPG", 2.0) == (2560, 1440)
    assert larger_mode(modes[:1], (1280, 720), 30.0, "MJPG", 2.0) is None


def test_auto_camera_size_asks_the_driver_only_for_a_camera() -> None:
    from vbgcam.config.settings import build_settings
    from vbgcam.pipeline.build import capture_size
    from vbgcam.sources.camera_modes import Mode

    asked: list[object] = []

    def modes_of(path: object) -> list[Mode]:
        asked.append(path)
        return [Mode("MJPG", 1920, 1080, (30.0,))]

    def size_for(source: str) -> tuple[int, int]:
        settings = build_settings(
            {"camera.size": "1280x720", "camera.source": source, "framing.mode": "auto"}
        )
        return capture_size(settings, modes_of)

    assert size_for("0") == (1920, 1080)
    assert size_for("/dev/video2") == (1920, 1080)
    assert size_for("demo") == (1280, 720)
    assert size_for("clip.mp4") == (1280, 720)
    assert [str(path) for path in asked] == ["/dev/video0", "/dev/video2"]
