"""Backgrounds and the compositor: the person over the new background."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vbgcam.backgrounds import (
    ColorBackground,
    ImageBackground,
    PassthroughBackground,
)
from vbgcam.compose import BINARY_STRIP_ROWS, Compositor, Masker, SoftBlender, blend_binary
from vbgcam.config.settings import build_settings
from vbgcam.effects import Effects, Mirror
from vbgcam.matte import Matte
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


class BrightPart:
    """A stateless segmenter: the bright part of the picture is the person."""

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        source = small_bgr if small_bgr is not None else frame_bgr
        return np.where(source[:, :, 2] > 128, 255, 0).astype(np.uint8)

    def reset(self) -> None:
        pass


class CountingMatte(Matte):
    def __init__(self) -> None:
        super().__init__()
        self.refined = 0

    def refine(self, *args: Any, **kwargs: Any) -> np.ndarray:
        self.refined += 1
        return super().refine(*args, **kwargs)


def test_an_unchanged_picture_keeps_its_alpha_without_refining_it_again() -> None:
    """While the segmenter hands out its mask again for a picture that did not change, the
    alpha made from it is still right: the matte is not run again, and the alpha is the
    one a fresh refinement of the same mask would give."""
    from vbgcam.segmenters.reuse import ReusingSegmenter

    frame = np.empty((360, 640, 3), np.uint8)
    DemoScene(640, 360).render(0.5, frame)
    rng = np.random.default_rng(5)
    matte = CountingMatte()
    masker = Masker(ReusingSegmenter(BrightPart()), matte)
    alphas = []
    for _ in range(4):  # the same picture with sensor noise
        noisy = np.clip(frame + rng.normal(0, 2.0, frame.shape), 0, 255).astype(np.uint8)
        alphas.append(masker.mask_for(noisy).copy())
    assert matte.refined == 1
    assert all(np.array_equal(alpha, alphas[0]) for alpha in alphas)
    moved = frame.copy()
    moved[100:160, 300:360] = 255  # a hand moves in
    assert (masker.mask_for(moved)[110:150, 310:350] > 128).all()
    assert matte.refined == 2
    masker.reset()  # a new stream: nothing is handed out from before
    masker.mask_for(moved)
    assert matte.refined == 3


def test_alphas_are_made_afresh_every_frame_with_people_main() -> None:
    """people = main may change its mind on the same mask: no alpha is handed out again."""
    from vbgcam.segmenters.people import MainPerson
    from vbgcam.segmenters.reuse import ReusingSegmenter

    frame = np.empty((360, 640, 3), np.uint8)
    DemoScene(640, 360).render(0.5, frame)
    matte = CountingMatte()
    masker = Masker(ReusingSegmenter(BrightPart()), matte, MainPerson(10.0, 30.0))
    for _ in range(3):
        masker.mask_for(frame)
    assert matte.refined == 3


class Scripted(BrightPart):
    """The network's answers in turn: what it finds changes while the picture does not (an
    arm it had missed, found on a later run)."""

    def __init__(self, masks: list[np.ndarray]) -> None:
        self.masks = masks
        self.calls = 0

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        self.calls += 1
        return self.masks[min(self.calls, len(self.masks)) - 1]


def test_a_mask_change_on_a_still_picture_fades_in_fully_and_is_not_frozen_halfway() -> None:
    """The matte fades a new mask in over a few frames where the picture is still; its
    alpha is only handed out again once the fade is done."""
    from vbgcam.segmenters.reuse import MAX_REUSED_FRAMES, ReusingSegmenter

    frame = np.full((180, 320, 3), 90, np.uint8)
    without_arm = np.zeros((180, 320), np.uint8)
    without_arm[40:180, 120:200] = 255
    with_arm = without_arm.copy()
    with_arm[100:120, 200:280] = 255
    network = Scripted([without_arm, with_arm])
    matte = CountingMatte()
    masker = Masker(ReusingSegmenter(network), matte)
    rng = np.random.default_rng(2)
    arm = []
    for _ in range(MAX_REUSED_FRAMES + 8):  # the network runs again on a still picture
        noisy = np.clip(frame + rng.normal(0, 1.0, frame.shape), 0, 255).astype(np.uint8)
        arm.append(int(np.median(masker.mask_for(noisy)[105:115, 220:260])))
    assert network.calls == 2
    found = arm.index(next(level for level in arm if level > 0))
    assert arm[found + 4] >= 230, f"the arm stops at {arm[found:]}"
    assert matte.refined < len(arm), "settled alphas are handed out again"


class CountingBrightPart(BrightPart):
    def __init__(self) -> None:
        self.calls = 0

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        self.calls += 1
        return super().segment(frame_bgr, small_bgr)


def test_after_a_gap_in_the_stream_the_network_runs_even_when_its_budget_is_short() -> None:
    """A mask held from before a camera outage is of another picture: the first frame after
    the restart is segmented, not carried from it, whatever the CPU budget says."""
    from vbgcam.segmenters.budget import NetworkBudget
    from vbgcam.segmenters.carry import MaskCarrier
    from vbgcam.segmenters.reuse import ReusingSegmenter

    network = CountingBrightPart()
    ticks = iter(range(1000))
    segmenter = ReusingSegmenter(
        network,
        budget=NetworkBudget(share=0.05, fps=FPS, burst_s=0.0, cost_ms=1000.0),
        cpu_clock=lambda: float(next(ticks)),  # every run: a second of CPU, far over budget
        carrier=MaskCarrier(),
    )
    compositor = Compositor(segmenter, ColorBackground("#0000ff", SIZE))
    out = np.empty((SIZE[1], SIZE[0], 3), np.uint8)
    for t_s in (0.5, 0.6):
        frame = np.empty_like(out)
        DemoScene(*SIZE).render(t_s, frame)
        compositor.compose(frame, t_s, out)
    assert network.calls == 1  # the second frame moved, but the budget is spent: carried
    compositor.restart_stream()
    DemoScene(*SIZE).render(3.0, frame)
    compositor.compose(frame, 3.0, out)
    assert network.calls == 2


class RecordingBackground:
    """A plain colour that records the working copy it was handed with each frame."""

    def __init__(self) -> None:
        self.handed: list[tuple[int, ...] | None] = []

    def frame_for(
        self,
        frame_bgr: np.ndarray,
        alpha: np.ndarray,
        t_s: float,
        small_bgr: np.ndarray | None = None,
    ) -> np.ndarray:
        self.handed.append(None if small_bgr is None else small_bgr.shape)
        return np.full_like(frame_bgr, 90)  # the frame handed is at the output's size

    def advance(self) -> None:
        pass


def test_the_background_gets_the_working_copy_only_when_it_shows_the_whole_picture() -> None:
    """The working copy is of the whole camera frame: a background made from the picture
    (blur) may start from it, but not when only part of the frame is shown."""
    background = RecordingBackground()
    compositor = Compositor(BrightPart(), background, matte=Matte())
    frame = np.empty((720, 1280, 3), np.uint8)
    DemoScene(1280, 720).render(1.0, frame)
    compositor.compose(frame, 1.0, np.empty_like(frame))
    # A camera that delivers more than the output: the picture is scaled, its crop is set.
    compositor.compose(frame, 1.1, np.empty((SIZE[1], SIZE[0], 3), np.uint8))
    assert background.handed == [(180, 320, 3), None]
