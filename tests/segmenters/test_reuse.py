"""Mask reuse: the network is skipped only when its answer could not have changed."""

from __future__ import annotations

import numpy as np
import pytest

from vbgcam.segmenters.reuse import BLOCK_PX, MAX_REUSED_FRAMES, ReusingSegmenter, block_means
from vbgcam.shrink import working_copy
from vbgcam.sources.demo_scene import DemoScene

SIZE = (640, 360)
FPS_FOR_BUDGET = 30.0


class CountingSegmenter:
    """A stateless segmenter whose mask is the bright part of the picture."""

    def __init__(self) -> None:
        self.calls = 0

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        self.calls += 1
        return np.where(frame_bgr[:, :, 2] > 128, 255, 0).astype(np.uint8)

    def reset(self) -> None:
        pass


def demo_frame(t_s: float) -> np.ndarray:
    frame = np.empty((SIZE[1], SIZE[0], 3), np.uint8)
    DemoScene(*SIZE).render(t_s, frame)
    return frame


def noisy(frame: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 2.5, frame.shape)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


def test_a_still_picture_with_sensor_noise_reuses_the_mask() -> None:
    inner = CountingSegmenter()
    reusing = ReusingSegmenter(inner)
    still = demo_frame(0.5)
    for seed in range(5):
        frame = noisy(still, seed)
        reusing.segment(frame, working_copy(frame))
    assert inner.calls == 1
    assert reusing.reused == 4


def test_a_still_picture_with_strong_sensor_noise_still_reuses_the_mask() -> None:
    """A dim room: noise of 10 levels a pixel at this size still averages out in a block;
    how block means are computed must not turn that noise into changes."""
    inner = CountingSegmenter()
    reusing = ReusingSegmenter(inner)
    still = demo_frame(0.5).astype(np.float32)
    rng = np.random.default_rng(1)
    for _ in range(30):
        frame = np.clip(still + rng.normal(0, 10, still.shape), 0, 255).astype(np.uint8)
        reusing.segment(frame, working_copy(frame))
    assert reusing.reused >= 24


def test_a_small_movement_is_segmented_afresh() -> None:
    inner = CountingSegmenter()
    reusing = ReusingSegmenter(inner)
    frame = demo_frame(0.5)
    reusing.segment(frame, working_copy(frame))
    moved = frame.copy()
    moved[100:132, 300:332] = 255  # a hand-sized patch (32 px) changes
    mask = reusing.segment(moved, working_copy(moved))
    assert inner.calls == 2
    assert (mask[100:132, 300:332] == 255).all()


def test_a_change_at_the_very_bottom_edge_is_segmented_afresh() -> None:
    """The 320x180 working copy is 22.5 block rows high: its last four rows (the bottom 8
    rows of this frame) still count, as a hand or a shoulder entering from below."""
    inner = CountingSegmenter()
    reusing = ReusingSegmenter(inner)
    frame = demo_frame(0.5)
    reusing.segment(frame, working_copy(frame))
    moved = frame.copy()
    moved[SIZE[1] - 8 :, 300:364] = 255
    reusing.segment(moved, working_copy(moved))
    assert inner.calls == 2


def test_block_means_cover_every_pixel_with_blocks_flush_with_a_ragged_edge() -> None:
    rng = np.random.default_rng(3)
    for height, width in [(180, 320), (240, 320), (17, 9), (20, 30), (8, 8), (5, 7)]:
        image = rng.integers(0, 256, (height, width, 3), np.uint8).astype(np.float32)
        means = block_means(image)
        if height < BLOCK_PX or width < BLOCK_PX:
            assert means.shape[:2] == (1, 1)
            continue
        tops = [*range(0, height - BLOCK_PX + 1, BLOCK_PX)]
        lefts = [*range(0, width - BLOCK_PX + 1, BLOCK_PX)]
        tops += [height - BLOCK_PX] if height % BLOCK_PX else []
        lefts += [width - BLOCK_PX] if width % BLOCK_PX else []
        expected = np.array(
            [
                [
                    image[y : y + BLOCK_PX, x : x + BLOCK_PX].reshape(-1, 3).mean(axis=0)
                    for x in lefts
                ]
                for y in tops
            ]
        )
        assert means.shape == expected.shape
        assert np.abs(means - expected).max() <= 1e-3  # in float: exact, no rounding


@pytest.mark.parametrize("every", [2, 3, 5])
def test_every_nth_frame_is_segmented_even_when_moving(every: int) -> None:
    inner = CountingSegmenter()
    reusing = ReusingSegmenter(inner, every=every, reuse_still=False)
    for index in range(every * 4):
        frame = demo_frame(index / 30)
        reusing.segment(frame, working_copy(frame))
    assert inner.calls == 4


def test_an_unchanged_picture_is_still_segmented_now_and_then() -> None:
    inner = CountingSegmenter()
    reusing = ReusingSegmenter(inner)
    frame = demo_frame(0.5)
    for _ in range(2 * (MAX_REUSED_FRAMES + 1)):
        reusing.segment(frame, working_copy(frame))
    assert inner.calls == 2


def test_a_reused_selfie_mask_equals_a_fresh_one_for_the_same_picture(with_models: object) -> None:
    from vbgcam.segmenters.selfie import SelfieSegmenter

    frame = noisy(demo_frame(1.0), 0)
    fresh = SelfieSegmenter().segment(frame, working_copy(frame)).copy()
    reusing = ReusingSegmenter(SelfieSegmenter())
    reusing.segment(frame, working_copy(frame))
    reused = reusing.segment(frame, working_copy(frame))
    assert reusing.reused == 1
    assert np.array_equal(reused, fresh)


# --- skip_calm: every other frame while the person barely moves


def talking(index: int) -> np.ndarray:
    """A still picture in which one small patch (a mouth: 16 px of 640) changes every frame,
    by far more than sensor noise: not a still picture, but a calm one."""
    frame = noisy(demo_frame(0.5), index)
    frame[200:216, 300:316] = 40 + (index * 53) % 180  # never the same twice in 3 frames
    return frame


def moving_arm(index: int) -> np.ndarray:
    """A hand-sized block (64 px) that moves 8 px a frame, as a waving arm does."""
    frame = noisy(demo_frame(0.5), index)
    left = 100 + 8 * index
    frame[120:184, left : left + 64] = 250
    return frame


def test_a_calm_picture_is_segmented_every_other_frame_never_two_skipped_in_a_row() -> None:
    inner = CountingSegmenter()
    reusing = ReusingSegmenter(inner, skip_calm=True)
    segmented = []
    for index in range(20):
        frame = talking(index)
        before = inner.calls
        mask = reusing.segment(frame, working_copy(frame))
        segmented.append(inner.calls > before)
        if not segmented[-1]:  # the carried mask is the one the network gave a frame ago
            assert np.array_equal(mask, inner.segment(talking(index - 1)))
            inner.calls -= 1
    assert segmented == [True, False] * 10


class RecordingCarrier:
    """Stands in for the optical-flow carrier: says which frames it was asked to move."""

    def __init__(self) -> None:
        self.carried = 0

    def seen(self, small_bgr: np.ndarray) -> None:
        pass

    def forget(self) -> None:
        pass

    def carry(self, mask: np.ndarray, small_bgr: np.ndarray) -> np.ndarray:
        self.carried += 1
        return mask


def test_a_calm_skip_hands_out_the_mask_as_it_is_a_budget_skip_moves_it() -> None:
    """A calm frame moved by under 2 px at 720p: optical flow (0.9 ms) would buy nothing.
    A frame skipped for the CPU budget may have moved a lot: its mask is moved along."""
    from vbgcam.segmenters.budget import NetworkBudget

    carrier = RecordingCarrier()
    calm = ReusingSegmenter(CountingSegmenter(), skip_calm=True, carrier=carrier)  # type: ignore[arg-type]
    for index in range(10):
        frame = talking(index)
        calm.segment(frame, working_copy(frame))
    assert calm.reused == 5 and carrier.carried == 0
    # A network that costs a whole frame's allowance twice over runs on every other frame.
    clock = iter(float(t) for t in range(100))
    budget = NetworkBudget(
        share=0.5, fps=FPS_FOR_BUDGET, burst_s=0.0, cost_ms=1000 / FPS_FOR_BUDGET
    )
    moving = ReusingSegmenter(
        CountingSegmenter(),
        budget=budget,
        cpu_clock=lambda: next(clock) / FPS_FOR_BUDGET,  # every run: one frame's time
        carrier=carrier,  # type: ignore[arg-type]
    )
    for index in range(10):
        frame = moving_arm(index)
        moving.segment(frame, working_copy(frame))
    assert moving.reused >= 4 and carrier.carried == moving.reused


def test_with_carry_calm_a_calm_skip_is_moved_along_with_the_picture() -> None:
    """RVM's soft edge shows a one-frame lag: its calm frames get the flow too."""
    carrier = RecordingCarrier()
    calm = ReusingSegmenter(
        CountingSegmenter(),
        skip_calm=True,
        carrier=carrier,  # type: ignore[arg-type]
        carry_calm=True,
    )
    for index in range(10):
        frame = talking(index)
        calm.segment(frame, working_copy(frame))
    assert calm.reused == 5 and carrier.carried == 5


def test_a_still_frame_after_a_carried_calm_one_is_not_called_unchanged() -> None:
    """The alpha made last frame came from a moved mask: the compositor must make it afresh
    from the network's own mask, not hand last frame's out again."""
    calm = ReusingSegmenter(
        CountingSegmenter(),
        skip_calm=True,
        carrier=RecordingCarrier(),  # type: ignore[arg-type]
        carry_calm=True,
    )
    first, second = talking(0), talking(1)
    calm.segment(first, working_copy(first))  # the network runs
    calm.segment(second, working_copy(second))  # calm: carried
    assert calm.reused == 1
    calm.segment(first, working_copy(first))  # the network's own picture again: still
    assert calm.reused == 2 and not calm.unchanged
    calm.segment(first, working_copy(first))  # and again: now last frame's mask is the same
    assert calm.unchanged


def test_a_calm_picture_is_segmented_every_frame_without_skip_calm() -> None:
    inner = CountingSegmenter()
    reusing = ReusingSegmenter(inner, skip_calm=False)
    for index in range(10):
        frame = talking(index)
        reusing.segment(frame, working_copy(frame))
    assert inner.calls == 10


def test_faster_movement_is_segmented_every_frame_even_with_skip_calm() -> None:
    inner = CountingSegmenter()
    reusing = ReusingSegmenter(inner, skip_calm=True)
    for index in range(10):
        frame = moving_arm(index)
        mask = reusing.segment(frame, working_copy(frame))
        left = 100 + 8 * index
        assert (mask[120:184, left : left + 64] == 255).all(), index
    assert inner.calls == 10


def test_reuse_off_means_the_network_on_every_frame_whatever_skip_calm_says(
    with_models: object,
) -> None:
    """skip_calm is a kind of reuse: a config that turned reuse off keeps fresh masks."""
    from vbgcam.config.settings import SegmenterSettings
    from vbgcam.segmenters import make_segmenter
    from vbgcam.segmenters.selfie import SelfieSegmenter

    bare = make_segmenter(SegmenterSettings(name="selfie", reuse=False, skip_calm=True))
    assert isinstance(bare, SelfieSegmenter)
    reusing = make_segmenter(SegmenterSettings(name="selfie"))
    assert isinstance(reusing, ReusingSegmenter) and reusing.skip_calm


def test_the_selfie_network_stays_within_network_cpu_where_a_run_costs_more(
    with_models: object,
) -> None:
    """On a machine where a selfie run costs two frames' worth of its share (an old laptop),
    a moving picture gets a fresh mask on about every other frame, the rest carried."""
    from vbgcam.config.settings import SegmenterSettings
    from vbgcam.segmenters import make_segmenter

    share = 0.1
    selfie = make_segmenter(SegmenterSettings(name="selfie", network_cpu=share))
    assert isinstance(selfie, ReusingSegmenter) and selfie.budget is not None
    assert selfie.budget.share == share and selfie.carrier is not None
    assert 0 < selfie.budget.cost_ms < 1000  # timed at load
    run_s = 2 * share / FPS_FOR_BUDGET
    ticks = iter(range(10_000))
    selfie._cpu_clock = lambda: next(ticks) * run_s  # each run: two frames' share
    frames = 60
    for index in range(frames):
        frame = moving_arm(index % 40)
        selfie.segment(frame, working_copy(frame))
    runs = frames - selfie.reused
    assert 0.35 * frames <= runs <= 0.65 * frames


def test_unchanged_means_the_same_mask_as_last_frame_not_only_the_same_picture() -> None:
    """ "still" compares with the frame the network last saw; after a frame that got a
    carried mask (every 2nd frame here), the picture may be back to that frame's but last
    frame's mask was not the network's: only the frame after is unchanged."""
    inner = CountingSegmenter()
    reusing = ReusingSegmenter(inner, every=2)
    frame = demo_frame(0.5)
    seen = []
    for _ in range(4):
        reusing.segment(frame, working_copy(frame))
        seen.append(reusing.unchanged)
    assert inner.calls == 1
    assert seen == [False, False, False, True]
    reusing.reset()
    reusing.segment(frame, working_copy(frame))
    assert not reusing.unchanged


def exposed(frame: np.ndarray, gain: float) -> np.ndarray:
    return np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def test_auto_exposure_hunting_alone_does_not_run_the_network_again() -> None:
    """A webcam's exposure drifts by a few per cent all the time; the person did not move."""
    inner = CountingSegmenter()
    reusing = ReusingSegmenter(inner)
    still = demo_frame(0.5)
    for seed, gain in enumerate([1.0, 1.02, 1.04, 0.97, 1.01]):
        frame = noisy(exposed(still, gain), seed)
        reusing.segment(frame, working_copy(frame))
    assert inner.calls == 1


def test_a_hand_moving_while_the_exposure_changes_is_still_seen() -> None:
    inner = CountingSegmenter()
    reusing = ReusingSegmenter(inner)
    frame = demo_frame(0.5)
    reusing.segment(frame, working_copy(frame))
    moved = frame.copy()
    moved[100:132, 300:332] = 255  # a hand-sized patch (32 px) changes
    moved = exposed(moved, 1.04)
    reusing.segment(moved, working_copy(moved))
    assert inner.calls == 2
