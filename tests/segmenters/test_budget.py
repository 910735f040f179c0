"""The network's CPU budget: RVM runs when its share of a core pays for a run, and the mask is
carried in between, never for long.

No real time passes here: the network is a stand-in that "costs" a fixed number of
milliseconds a run by advancing a fake CPU clock, the clock the budget is charged from. So
every number below is exact arithmetic on the budget's rule, not a timing on this machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from vbgcam.segmenters.budget import BURST_S, NetworkBudget
from vbgcam.segmenters.reuse import MAX_REUSED_FRAMES, ReusingSegmenter
from vbgcam.shrink import working_copy

FPS = 30.0
SIZE = (320, 180)
SHARE = 0.25  # the default network_cpu
COST_MS = 35.0  # RVM on a 2-core laptop-class machine
BLOCK_PX = 64


class FakeCpuClock:
    """This thread's CPU time in seconds; only the stand-in network moves it."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


class MeteredNetwork:
    """A stateless network that costs ``cost_ms`` of CPU a run (on ``clock``). Its mask is
    filled with the number of the run that made it (1, 2, ...), so a test can tell from a
    mask it was handed which run, and so which frame, it came from."""

    def __init__(self, clock: FakeCpuClock, cost_ms: float = COST_MS) -> None:
        self.clock = clock
        self.cost_ms = cost_ms
        self.runs = 0
        self.cpu_ms = 0.0
        self._mask = np.empty((SIZE[1], SIZE[0]), np.uint8)

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        self.runs += 1
        self.clock.now_s += self.cost_ms / 1e3
        self.cpu_ms += self.cost_ms
        self._mask.fill(self.runs % 256)
        return self._mask

    def reset(self) -> None:
        pass


def budgeted(
    network: MeteredNetwork, share: float = SHARE, cost_estimate_ms: float = COST_MS
) -> ReusingSegmenter:
    """The network wrapped as ``make_segmenter`` wraps RVM, but with skip_calm off (the
    budget alone decides here): reuse on, a budget
    of ``share`` of a core with the usual burst; the cost estimate is what the load-time
    timing said (``step_ms``), which the budget corrects from the runs it pays for."""
    budget = NetworkBudget(share, FPS, BURST_S, cost_estimate_ms)
    return ReusingSegmenter(network, 1, True, False, budget, cpu_clock=network.clock)


_ROOM = np.empty((SIZE[1], SIZE[0], 3), np.uint8)
_ROOM[:] = np.linspace(60, 200, SIZE[0], dtype=np.float32).astype(np.uint8)[None, :, None]


def still_frame(index: int) -> np.ndarray:
    return _ROOM.copy()


def moving_frame(index: int) -> np.ndarray:
    """A hand-sized bright block 8 px further right every frame: every frame differs."""
    frame = _ROOM.copy()
    left = 8 * (index % 32)
    frame[40 : 40 + BLOCK_PX, left : left + BLOCK_PX] = 250
    return frame


Scene = Callable[[int], np.ndarray]


@dataclass
class Run:
    """What happened on each frame: whether the network ran, and the age of the mask handed
    out (frames since the frame whose run made it)."""

    ran: list[bool] = field(default_factory=list)
    mask_age: list[int] = field(default_factory=list)
    frame_of_run: dict[int, int] = field(default_factory=dict)

    def feed(self, segmenter: ReusingSegmenter, scene: Scene, frames: int) -> None:
        network = segmenter.inner
        assert isinstance(network, MeteredNetwork)
        for _ in range(frames):
            index = len(self.ran)
            frame = scene(index)
            before = network.runs
            mask = segmenter.segment(frame, working_copy(frame))
            self.ran.append(network.runs > before)
            if self.ran[-1]:
                self.frame_of_run[network.runs % 256] = index
            self.mask_age.append(index - self.frame_of_run[int(mask[0, 0])])

    def runs_in(self, frames: range) -> int:
        return sum(self.ran[index] for index in frames)


def longest_streak_of_runs(ran: list[bool]) -> int:
    longest = current = 0
    for one in ran:
        current = current + 1 if one else 0
        longest = max(longest, current)
    return longest


# --- the share of a core


def test_a_moving_picture_spends_its_share_of_a_core_plus_the_burst_and_no_more() -> None:
    network = MeteredNetwork(FakeCpuClock())
    frames = 300  # 10 s at 30 fps
    Run().feed(budgeted(network), moving_frame, frames)

    seconds = frames / FPS
    earned_ms = SHARE * seconds * 1e3
    assert network.cpu_ms <= earned_ms + BURST_S * 1e3
    # ...and it is not starved: all it earned was spent, but for less than one run
    assert network.cpu_ms >= earned_ms - COST_MS


def test_runs_forced_by_resets_leave_at_most_one_run_of_debt() -> None:
    """After many runs the budget did not choose (a reset before every frame, as for a new
    photo each time), a moving picture gets its share again within a few frames."""
    network = MeteredNetwork(FakeCpuClock())
    segmenter = budgeted(network)
    run = Run()
    for _ in range(100):
        segmenter.reset()
        run.feed(segmenter, moving_frame, 1)
    assert segmenter.budget is not None
    assert segmenter.budget.balance_ms >= -segmenter.budget.cost_ms
    run.feed(segmenter, moving_frame, 30)
    assert run.runs_in(range(100, 130)) >= math.floor(30 * SHARE * 1e3 / FPS / COST_MS) - 1


def test_a_start_spends_no_burst_it_did_not_save() -> None:
    """The first second of every start is paid at the share, like any other second: a full
    bucket at start would cost a 10 s run 4 % of a core more."""
    network = MeteredNetwork(FakeCpuClock())
    Run().feed(budgeted(network), moving_frame, round(FPS))

    assert network.cpu_ms <= SHARE * 1e3 + COST_MS


@pytest.mark.parametrize(
    ("share", "cost_ms"),
    [
        pytest.param(0.3, 35.0, id="default-share-laptop"),
        pytest.param(0.5, 35.0, id="half-a-core-laptop"),
        pytest.param(0.3, 20.0, id="default-share-desktop"),
        pytest.param(0.2, 60.0, id="small-share-slow-machine"),
        pytest.param(1.0, 20.0, id="share-pays-for-every-frame"),
    ],
)
def test_the_share_of_moving_frames_with_a_fresh_mask_is_the_allowance_over_the_cost(
    share: float, cost_ms: float
) -> None:
    network = MeteredNetwork(FakeCpuClock(), cost_ms)
    segmenter = budgeted(network, share, cost_ms)
    run = Run()
    run.feed(segmenter, moving_frame, 360)

    expected = min(1.0, share * 1e3 / FPS / cost_ms)
    assert segmenter.budget is not None
    assert segmenter.budget.runs_per_frame == pytest.approx(expected)
    steady = range(60, 360)  # after the initial burst is spent
    assert run.runs_in(steady) / len(steady) == pytest.approx(expected, abs=0.02)


def test_a_network_twice_as_slow_gets_half_the_runs_for_the_same_cpu() -> None:
    """Both budgets were told 35 ms at load; the slow machine's runs take 70 ms, which the
    budget learns from what it pays."""
    runs = {}
    cpu_ms = {}
    for cost_ms in (COST_MS, 2 * COST_MS):
        network = MeteredNetwork(FakeCpuClock(), cost_ms)
        run = Run()
        run.feed(budgeted(network, cost_estimate_ms=COST_MS), moving_frame, 600)
        runs[cost_ms] = run.runs_in(range(60, 600))
        cpu_ms[cost_ms] = network.cpu_ms

    assert runs[2 * COST_MS] / runs[COST_MS] == pytest.approx(0.5, abs=0.05)
    assert cpu_ms[2 * COST_MS] == pytest.approx(cpu_ms[COST_MS], abs=2 * COST_MS)


# --- still pictures and bursts


def test_a_still_picture_runs_the_network_only_to_refresh_the_mask() -> None:
    network = MeteredNetwork(FakeCpuClock())
    segmenter = budgeted(network)
    run = Run()
    run.feed(segmenter, still_frame, 300)

    refreshed_every = MAX_REUSED_FRAMES + 1
    assert network.runs == math.ceil(300 / refreshed_every)
    assert [index for index, ran in enumerate(run.ran) if ran] == list(
        range(0, 300, refreshed_every)
    )
    # the refreshes cost far less than the share earns: the bucket is full for the next burst
    assert segmenter.budget is not None
    assert segmenter.budget.balance_ms == segmenter.budget.capacity_ms


def test_after_a_still_stretch_the_saved_budget_pays_for_a_burst_of_fresh_masks() -> None:
    network = MeteredNetwork(FakeCpuClock())
    segmenter = budgeted(network)
    run = Run()
    run.feed(segmenter, still_frame, 60)  # 2 s sitting still
    run.feed(segmenter, moving_frame, 120)  # then the person stands up

    burst = run.ran[60:]
    runs_the_burst_pays_for = int(BURST_S * 1e3 // COST_MS)  # 14
    first_carried = burst.index(False)
    assert first_carried >= runs_the_burst_pays_for, burst
    # once the saved budget is spent, the network is back to its share: no more streaks
    assert longest_streak_of_runs(burst[first_carried:]) <= 2


def test_without_a_still_stretch_a_moving_picture_gets_no_burst() -> None:
    network = MeteredNetwork(FakeCpuClock())
    run = Run()
    run.feed(budgeted(network), moving_frame, 240)

    assert longest_streak_of_runs(run.ran[60:]) <= 2


# --- the age of a carried mask


@pytest.mark.parametrize(
    "cost_ms",
    [
        pytest.param(COST_MS, id="laptop"),
        pytest.param(150.0, id="slow-machine"),
    ],
)
def test_a_carried_mask_is_never_older_than_max_reused_frames(cost_ms: float) -> None:
    network = MeteredNetwork(FakeCpuClock(), cost_ms)
    segmenter = budgeted(network, cost_estimate_ms=cost_ms)
    run = Run()
    for scene in (still_frame, moving_frame, still_frame, moving_frame):
        run.feed(segmenter, scene, 90)

    assert max(run.mask_age) <= MAX_REUSED_FRAMES
    # while moving, a mask is at most as old as the frames it takes to earn one run
    moving = [*range(90, 180), *range(270, 360)]
    frames_per_run = math.ceil(cost_ms / (SHARE * 1e3 / FPS))
    assert max(run.mask_age[index] for index in moving) <= min(frames_per_run, MAX_REUSED_FRAMES)


def test_the_age_cap_outranks_the_budget_when_a_run_costs_more_than_its_frames_earn() -> None:
    """network_cpu 0.05 (the lowest allowed) at 30 fps earns 1.7 ms a frame, 27 ms in 16
    frames: less than one 35 ms run. The mask is still refreshed every 16 frames, so such a
    network spends 2.2 ms a frame, more than its share. (``auto`` never picks such a
    budget: it wants a run on at least a quarter of the frames.)"""
    network = MeteredNetwork(FakeCpuClock())
    run = Run()
    frames = 1800  # a minute
    run.feed(budgeted(network, share=0.05), moving_frame, frames)

    assert max(run.mask_age) == MAX_REUSED_FRAMES
    # once the initial burst is spent, the runs come every 16 frames exactly
    later_runs = [index for index, ran in enumerate(run.ran) if ran and index >= 300]
    assert set(np.diff(later_runs)) == {MAX_REUSED_FRAMES + 1}
    assert network.cpu_ms > 0.05 * frames / FPS * 1e3 + BURST_S * 1e3


# --- the bucket itself


def test_the_bucket_always_holds_at_least_one_run() -> None:
    budget = NetworkBudget(SHARE, FPS, burst_s=0.0, cost_ms=COST_MS)
    assert budget.capacity_ms == COST_MS
    assert budget.affordable


def test_a_run_that_costs_more_than_expected_raises_the_expected_cost() -> None:
    budget = NetworkBudget(SHARE, FPS, BURST_S, COST_MS)
    for _ in range(30):
        budget.spent(2 * COST_MS)
        budget.balance_ms = budget.capacity_ms
    assert budget.cost_ms == pytest.approx(2 * COST_MS, rel=0.01)


@pytest.mark.parametrize(
    ("share", "fps"),
    [pytest.param(0.0, FPS, id="no-share"), pytest.param(SHARE, 0.0, id="no-frame-rate")],
)
def test_a_share_or_frame_rate_that_is_not_positive_is_refused(share: float, fps: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        NetworkBudget(share, fps, BURST_S, COST_MS)


def test_a_run_measured_as_costing_nothing_does_not_break_the_budget() -> None:
    """A coarse CPU clock can measure a run as 0 ms: the share of frames it pays for stays
    a number, and the network is still paced by the budget."""
    budget = NetworkBudget(SHARE, FPS, BURST_S, 0.0)
    assert budget.runs_per_frame == 1.0
    for _ in range(100):
        budget.spent(0.0)
    assert budget.cost_ms > 0 and budget.runs_per_frame == 1.0


# --- RVM's input size: the largest the budget pays on most moving frames


def test_rvm_takes_the_largest_input_its_share_pays_for_on_most_moving_frames() -> None:
    from vbgcam.segmenters.rvm_choice import SIZES_PX, fitting_size

    # A quarter of a core at 30 fps earns 8.3 ms a frame: a run on 60 % of the frames may
    # cost up to 13.9 ms. Timed at 256 px, the cost scales with the pixels (224 px: 0.77x,
    # 192 px: 0.56x, 160 px: 0.39x).
    assert fitting_size(19.3, 0.25, 30.0)[0] == 192  # the 8-bit decoder's usual run here
    assert fitting_size(27.7, 0.25, 30.0)[0] == 160  # a slow start here
    assert fitting_size(17.0, 0.25, 30.0)[0] == 224
    assert fitting_size(13.0, 0.25, 30.0)[0] == 256
    assert fitting_size(13.0, 0.125, 30.0)[0] == 160  # half the share
    assert fitting_size(10.0, 0.25, 30.0)[0] == 256
    assert fitting_size(10.0, 0.25, 60.0)[0] == 192  # 60 fps: half as much a frame
    size, expected = fitting_size(100.0, 0.25, 30.0)  # none fits: the smallest, its cost
    assert size == SIZES_PX[-1] and expected == pytest.approx(100.0 * (160 * 90) / (256 * 144))
