"""Person segmenters: each turns a camera frame into a mask of where the person is.

A segmenter is anything with ``segment(frame_bgr) -> mask`` and ``reset()``. The mask is
uint8, 0 = background, 255 = person (values between are partial cover), with the frame's
aspect ratio but at whatever size the method works at (the matte stage scales it to the
frame); it is the segmenter's own buffer, valid until the next call. A segmenter whose masks
are only ever 0 or 255 at the frame's size may say so with ``binary = True``, which lets the
compositor copy instead of blend. One that only looks at a reduced picture may say so with
``sees_half_frame = True``: the compositor then hands it the frame halved (when the frame is
at least twice the working size), which it makes for the working copy anyway.

``SEGMENTERS`` maps each name to a constructor taking the settings and the frame rate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from vbgcam.config.settings import SegmenterSettings
from vbgcam.errors import ConfigError, ModelError
from vbgcam.segmenters.diff import DiffSegmenter
from vbgcam.segmenters.mog2 import BackgroundModelSegmenter
from vbgcam.segmenters.plate import PlateSegmenter

log = logging.getLogger(__name__)


class Segmenter(Protocol):
    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        """The mask for ``frame_bgr``; ``small_bgr``, when given, is the same frame already
        shrunk to ``vbgcam.shrink.working_size`` (the compositor makes it once per frame)."""
        ...

    def reset(self) -> None:
        """Forget history (previous frames), as after a scene cut or camera restart."""
        ...


def _diff(settings: SegmenterSettings, fps: float) -> Segmenter:
    return DiffSegmenter(settings.threshold, settings.hold_s, settings.clean, fps)


def _cpu_clock(settings: SegmenterSettings) -> Callable[[], float]:
    """What a network run costs the budget: with one thread, that thread's CPU; with a pool,
    the process's (which also counts the other stages' threads meanwhile: the budget then
    errs on the side of less CPU)."""
    return time.thread_time if settings.threads == 1 else time.process_time


def _selfie(settings: SegmenterSettings, fps: float) -> Segmenter:
    """The selfie network, skipped while the picture is still (or calm, with
    ``skip_calm``), and within ``network_cpu`` of a core: at the default quarter it runs on
    every moving frame on a laptop-class CPU at 30 fps (3-5 ms a run), and an old one that
    takes longer gets masks carried by optical flow between runs instead of a network that
    eats a core."""
    from vbgcam.segmenters.budget import BURST_S, NetworkBudget
    from vbgcam.segmenters.carry import MaskCarrier
    from vbgcam.segmenters.reuse import ReusingSegmenter
    from vbgcam.segmenters.selfie import SelfieSegmenter, run_cost_ms

    network = SelfieSegmenter(settings.model, settings.flip, settings.threads)
    if settings.every == 1 and not settings.reuse:
        return network
    # skip_calm is a kind of reuse: reuse = false keeps its meaning, a fresh mask every frame.
    skip_calm = settings.reuse and settings.skip_calm
    cpu_clock = _cpu_clock(settings)
    budget = NetworkBudget(
        settings.network_cpu, fps, BURST_S, run_cost_ms(network, cpu_clock=cpu_clock)
    )
    log.info(
        "selfie: %.1f ms of CPU a run here; network_cpu %.2f pays for a fresh mask on %.0f %% "
        "of moving frames",
        budget.cost_ms,
        settings.network_cpu,
        budget.runs_per_frame * 100,
    )
    return ReusingSegmenter(
        network,
        settings.every,
        settings.reuse,
        skip_calm,
        budget,
        cpu_clock=cpu_clock,
        carrier=MaskCarrier(),
    )


def _rvm(settings: SegmenterSettings, fps: float) -> Segmenter:
    """RVM within ``network_cpu`` of a core: at the input size the budget affords on most
    frames (unless one is set), run when its budget covers a run and the picture moved, its
    alpha carried in between and moved by optical flow (``carry.py``). With ``skip_calm``, a
    person who barely moves (as on a call) gets a run on every other frame at most, the
    alpha moved by the flow in between: on a gently swaying person that is a quarter fewer
    runs (5 % of a core here) for the same masks (IoU 0.9753 against 0.9755)."""
    from vbgcam.segmenters.budget import BURST_S, NetworkBudget
    from vbgcam.segmenters.carry import MaskCarrier
    from vbgcam.segmenters.reuse import ReusingSegmenter
    from vbgcam.segmenters.rvm import DEFAULT_LONG_SIDE_PX, RvmSegmenter
    from vbgcam.segmenters.rvm_choice import fitting_size, step_ms

    network = RvmSegmenter(settings.rvm_long_side_px or DEFAULT_LONG_SIDE_PX, settings.threads)
    cpu_clock = _cpu_clock(settings)
    cost_ms = step_ms(network, cpu_clock=cpu_clock)
    if settings.rvm_long_side_px == 0:
        size, cost_ms = fitting_size(cost_ms, settings.network_cpu, fps)
        network.use_long_side(size)
    budget = NetworkBudget(settings.network_cpu, fps, BURST_S, cost_ms)
    return ReusingSegmenter(
        network,
        settings.every,
        settings.reuse,
        settings.reuse and settings.skip_calm,
        budget,
        cpu_clock=cpu_clock,
        carrier=MaskCarrier(),
        carry_calm=True,
    )


def _auto(settings: SegmenterSettings, fps: float) -> Segmenter:
    """The best available: ``rvm`` when its model is cached and keeps up here, else
    ``selfie`` when its model is cached, else the improved ``diff``."""
    from vbgcam.segmenters.rvm_choice import rvm_if_it_keeps_up

    chosen = rvm_if_it_keeps_up(settings, fps, _rvm)
    if chosen is not None:
        return chosen
    try:
        return _selfie(settings, fps)
    except ModelError as exc:
        log.warning(
            "%s; using the 'diff' segmenter meanwhile, which loses a person who sits still",
            exc,
        )
        return _diff(settings, fps)


SEGMENTERS: dict[str, Callable[[SegmenterSettings, float], Segmenter]] = {
    "auto": _auto,
    "rvm": _rvm,
    "selfie": _selfie,
    "diff": _diff,
    "plate": lambda s, fps: PlateSegmenter(s.plate),
    "mog2": lambda s, fps: BackgroundModelSegmenter("mog2"),
    "knn": lambda s, fps: BackgroundModelSegmenter("knn"),
}


def make_segmenter(settings: SegmenterSettings, fps: float = 30.0) -> Segmenter:
    try:
        factory = SEGMENTERS[settings.name]
    except KeyError:
        raise ConfigError(
            f"unknown segmenter '{settings.name}'; expected one of: {', '.join(SEGMENTERS)}"
        ) from None
    return factory(settings, fps)
