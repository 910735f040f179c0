"""Whether ``auto`` uses RVM on this machine: only when its model is cached and it keeps up.

RVM costs about ten times the selfie model, so it runs within a CPU budget (``budget.py``)
and its alpha is carried between runs. Where the budget pays for too few runs, masks would
lag a moving person by more than the selfie model's errors cost, so ``auto`` times the
network where it will run, once, at load (the reference check has already warmed it up),
and falls back to the selfie model when it is too slow, saying so in the log with the
numbers. Load time grows by about a fifth of a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from vbgcam.config.settings import SegmenterSettings
from vbgcam.errors import ModelError
from vbgcam.segmenters.budget import least_cpu_ms

if TYPE_CHECKING:
    from vbgcam.segmenters import Segmenter

log = logging.getLogger(__name__)

# Input sizes (longer side) ``rvm_long_side_px = 0`` chooses from, best first. On the eval
# clips at network_cpu 0.33 here: 256 0.933 IoU (a run on 32 % of moving frames), 224 0.951,
# 192 0.950 (67 %), 176 0.946, 160 0.942 (93 %); every frame at 256, 0.960. A fresh mask at a
# smaller size beats a carried one at a larger size.
SIZES_PX = (256, 224, 192, 160)
# The size chosen is the largest whose run the budget pays on at least this share of the
# frames of a moving picture; ``auto`` takes RVM only if some size does: below it, carried
# masks lag a moving person and the selfie model (0.939 with its matte) does better.
MIN_RUNS_PER_FRAME = 0.6
TIMED_RUNS = 4
# The picture the timing runs see: a 16:9 camera, the usual case.
TIMING_FRAME = (1280, 720)


def step_ms(
    segmenter: object,
    runs: int = TIMED_RUNS,
    cpu_clock: Callable[[], float] = time.thread_time,
) -> float:
    """CPU time (this thread's) of one RVM run on a 16:9 picture at the segmenter's input
    size: what the budget pays for a run (``budget.least_cpu_ms``)."""
    from vbgcam.segmenters.rvm import RvmSegmenter, input_size

    inner = getattr(segmenter, "inner", segmenter)
    assert isinstance(inner, RvmSegmenter)
    width, height = input_size(TIMING_FRAME, inner.long_side_px)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    cost_ms = least_cpu_ms(lambda: inner.matting.step(rgb), runs, cpu_clock)
    inner.matting.reset()
    return cost_ms


def fitting_size(cost_ms: float, share: float, fps: float) -> tuple[int, float]:
    """The largest of ``SIZES_PX`` whose run (``cost_ms`` at the default size, scaled by the
    pixels of a 16:9 input) the budget pays on ``MIN_RUNS_PER_FRAME`` of the frames, else
    the smallest; with its expected cost."""
    from vbgcam.segmenters.rvm import DEFAULT_LONG_SIDE_PX, input_size

    def pixels(size_px: int) -> int:
        width, height = input_size(TIMING_FRAME, size_px)
        return width * height

    allowance_ms = share * 1000.0 / fps
    for size_px in SIZES_PX:
        expected_ms = cost_ms * pixels(size_px) / pixels(DEFAULT_LONG_SIDE_PX)
        if allowance_ms / expected_ms >= MIN_RUNS_PER_FRAME or size_px == SIZES_PX[-1]:
            log.info(
                "rvm: %d px input, about %.1f ms of CPU a run here (%.1f ms at %d px)",
                size_px,
                expected_ms,
                cost_ms,
                DEFAULT_LONG_SIDE_PX,
            )
            return size_px, expected_ms
    raise AssertionError("unreachable: the smallest size is always returned")


def rvm_if_it_keeps_up(
    settings: SegmenterSettings,
    fps: float,
    build: Callable[[SegmenterSettings, float], Segmenter],
) -> Segmenter | None:
    """``build(settings, fps)`` for RVM when its model is cached and one run fits the frame
    budget here; None (with a log line saying why) otherwise."""
    from vbgcam import models

    if models.rvm_sources() is None:
        log.info("auto: the rvm model is not cached ('vbgcam models pull rvm'); using selfie")
        return None
    try:
        segmenter = build(settings, fps)
    except ModelError as exc:
        log.warning("auto: cannot use rvm (%s); using selfie", exc)
        return None
    budget = getattr(segmenter, "budget", None)
    if budget is None or budget.runs_per_frame < MIN_RUNS_PER_FRAME:
        cost = f"{budget.cost_ms:.1f} ms" if budget is not None else "?"
        log.warning(
            "auto: rvm costs %s of CPU a run here; %.0f %% of a core (network_cpu) pays for "
            "a run on fewer than %.0f %% of the frames at %g fps: using selfie "
            "(--segmenter rvm forces it)",
            cost,
            settings.network_cpu * 100,
            MIN_RUNS_PER_FRAME * 100,
            fps,
        )
        return None
    log.info(
        "auto: rvm, %.1f ms of CPU a run here: a fresh mask on %.0f %% of moving frames",
        budget.cost_ms,
        budget.runs_per_frame * 100,
    )
    return segmenter
