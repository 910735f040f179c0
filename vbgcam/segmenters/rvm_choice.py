"""Whether ``auto`` uses RVM on this machine: only when its model is cached and it keeps up.

RVM costs several times the selfie model. On a machine where one run takes longer than the
compositor can afford between two frames, the output would stutter, so ``auto`` times the
network where it will run, once, at load (the reference check has already warmed it up)
and falls back to the selfie model when it is too slow, saying so in the log with the
numbers. Load time grows by about a tenth of a second.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable

import numpy as np

from vbgcam.errors import ModelError
from vbgcam.settings import SegmenterSettings

log = logging.getLogger(__name__)

# A network run may take at most this share of the frame period: the rest of the frame
# (decode, matte, blend: about 5 ms at 720p) and other programs need the remainder.
MAX_SHARE_OF_FRAME = 0.75
TIMED_RUNS = 5
# The picture the timing runs see: a 16:9 camera, the usual case.
TIMING_FRAME = (1280, 720)


def step_ms(segmenter: object, runs: int = TIMED_RUNS) -> float:
    """Median wall time of one RVM run on a 16:9 picture at the segmenter's input size."""
    from vbgcam.segmenters.rvm import RvmSegmenter, input_size

    inner = getattr(segmenter, "inner", segmenter)
    assert isinstance(inner, RvmSegmenter)
    width, height = input_size(TIMING_FRAME, inner.long_side_px)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    inner.matting.step(rgb)  # a new size allocates
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        inner.matting.step(rgb)
        times.append((time.perf_counter() - start) * 1e3)
    inner.matting.reset()
    return statistics.median(times)


def rvm_if_it_keeps_up(
    settings: SegmenterSettings,
    fps: float,
    build: Callable[[SegmenterSettings, float], object],
) -> object | None:
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
    budget_ms = MAX_SHARE_OF_FRAME * 1000.0 / fps
    cost_ms = step_ms(segmenter)
    if cost_ms > budget_ms:
        log.warning(
            "auto: rvm takes %.1f ms a run here, more than the %.1f ms a %g fps frame allows; "
            "using selfie (--segmenter rvm forces it)",
            cost_ms,
            budget_ms,
            fps,
        )
        return None
    log.info("auto: rvm, %.1f ms a run here (budget %.1f ms at %g fps)", cost_ms, budget_ms, fps)
    return segmenter
