"""MediaPipe selfie segmentation, run by LiteRT or OpenCV's DNN module (no mediapipe at run time).

Two models exist: a landscape one (256x144) and a general one (256x256). On wide frames the
general model sees a full-height band around the person found by its previous run
(``person_band.py``: better masks than the landscape model on the whole frame); elsewhere it
sees the whole frame. The picture is shrunk once into a preallocated input at the model's
size; the network's soft output is returned at that small size (placed in a frame-aspect
mask when it saw a band), and the matte stage scales it to the frame. ``runtimes`` picks who
runs the network (LiteRT where installed) and checks its answer at load. Averaging with a
run on the mirrored frame (``flip``) removes some one-sided errors at the cost of a second
inference.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from vbgcam.errors import ModelError
from vbgcam.models import MODELS, verified_path
from vbgcam.segmenters.budget import least_cpu_ms
from vbgcam.segmenters.person_band import PersonBand
from vbgcam.segmenters.runtimes import NetworkRuntime, open_runtime
from vbgcam.shrink import shrink

log = logging.getLogger(__name__)

# Frames wider than this (width / height) are "wide": 16:9 is 1.78, 4:3 is 1.33.
WIDE_MIN_ASPECT = 1.5


def missing_model(name: str) -> ModelError:
    return ModelError(
        f"the {name} model is not in the cache; run 'vbgcam models pull' "
        "(or 'vbgcam models import FILE' on a machine without internet)"
    )


def load_network(name: str, threads: int = 1) -> NetworkRuntime:
    """The cached, verified model ``name`` in the fastest runtime that reproduces it."""
    path = verified_path(name)
    if path is None:
        raise missing_model(name)
    runtime = open_runtime(name, path, MODELS[name].input_size, threads)
    log.info("%s model on %s", name, runtime.description)
    return runtime


@dataclass(frozen=True)
class ModelChoice:
    """Which model runs, and whether it sees a band around the person (``person_band.py``)
    instead of the whole frame."""

    name: str
    follow_person: bool = False


def choose_model(frame_size: tuple[int, int], preference: str) -> ModelChoice:
    """``landscape``/``general``/``crop`` as asked; for ``auto``, by the frame's shape: wide
    frames get the general model on a band around the person (better than the landscape
    model on the whole frame, see ``person_band.py``), others the general model."""
    if preference in ("landscape", "general"):
        return ModelChoice(f"selfie-{preference}")
    width, height = frame_size
    follow = preference == "crop" or width / height >= WIDE_MIN_ASPECT
    return ModelChoice("selfie-general", follow_person=follow)


def needed_models(preference: str) -> tuple[str, ...]:
    return ("selfie-landscape",) if preference == "landscape" else ("selfie-general",)


class SelfieSegmenter:
    """Soft person mask from a selfie model: uint8 0..255 with the frame's aspect, at the
    model's input size (or, following the person, at the model's height)."""

    # Only a picture of the model's size is ever looked at: the compositor may hand over
    # the frame halved, which it makes for its working copy anyway.
    sees_half_frame = True

    def __init__(self, model: str = "auto", flip: bool = False, threads: int = 1) -> None:
        self.preference = model
        self.flip = flip
        self.threads = threads
        for name in needed_models(model):  # fail now, not on the first frame
            if verified_path(name) is None:
                raise missing_model(name)
        self._nets: dict[str, NetworkRuntime] = {}
        self._frame_size: tuple[int, int] | None = None
        self._choice = ModelChoice("")
        self._band = PersonBand()
        self._halves: list[np.ndarray] = []
        self._has_mask = False

    def _prepare(self, frame_size: tuple[int, int]) -> None:
        self._choice = choose_model(frame_size, self.preference)
        name = self._choice.name
        if name not in self._nets:
            self._nets[name] = load_network(name, self.threads)
        width, height = MODELS[name].input_size
        self._small = np.empty((height, width, 3), np.uint8)
        self._rgb = np.empty_like(self._small)
        self._model_mask = np.empty((height, width), np.uint8)
        self._flipped = np.empty((height, width), np.float32)
        if self._choice.follow_person:
            frame_width, frame_height = frame_size
            mask_width = max(width, round(height * frame_width / frame_height))
            self._mask = np.zeros((height, mask_width), np.uint8)
            # The frame halved while it has twice the model's rows: OpenCV halves a whole
            # 720p frame in 0.14 ms, a band of odd width cut from it in 1.6 ms.
            self._halves = []
            while frame_height >= 2 * height:
                frame_width, frame_height = frame_width // 2, frame_height // 2
                self._halves.append(np.empty((frame_height, frame_width, 3), np.uint8))
        else:
            self._mask = self._model_mask
        self._band = PersonBand(width / height)
        self._has_mask = False
        self._frame_size = frame_size

    @property
    def runtime(self) -> str:
        """Who runs the network for the current frame size ("" before the first frame)."""
        network = self._nets.get(self._choice.name)
        return network.description if network is not None else ""

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        height, width = frame_bgr.shape[:2]
        if self._frame_size != (width, height):
            self._prepare((width, height))
        small_h, small_w = self._small.shape[:2]
        if not self._choice.follow_person:
            # From the compositor's 320 px working copy when there is one: a 1.25x step is
            # 0.02 ms, shrinking the full frame again 0.27 ms.
            source = small_bgr if small_bgr is not None else frame_bgr
            shrink(source, (small_w, small_h), dst=self._small)
            self._infer()
            return self._mask
        # The band is cut from the frame halved to at least the model's rows: the working
        # copy has too few of them.
        source = frame_bgr
        for half in self._halves:
            cv2.resize(source, half.shape[1::-1], dst=half, interpolation=cv2.INTER_AREA)
            source = half
        band = self._band.choose(self._mask if self._has_mask else None)
        mask_width = self._mask.shape[1]
        if band is None:
            shrink(source, (small_w, small_h), dst=self._small)
            self._infer()
            cv2.resize(self._model_mask, self._mask.shape[::-1], dst=self._mask)
        else:
            left, right = band
            source_width = source.shape[1]
            columns = slice(left * source_width // mask_width, right * source_width // mask_width)
            shrink(source[:, columns], (small_w, small_h), dst=self._small)
            self._infer()
            self._mask[:, :left] = 0
            self._mask[:, right:] = 0
            cv2.resize(self._model_mask, (right - left, small_h), dst=self._mask[:, left:right])
        self._has_mask = True
        return self._mask

    def _infer(self) -> None:
        """The network on ``self._small``, its probability as 0..255 in ``_model_mask``."""
        cv2.cvtColor(self._small, cv2.COLOR_BGR2RGB, dst=self._rgb)
        network = self._nets[self._choice.name]
        probability = network.probability(self._rgb)
        if self.flip:
            np.copyto(self._flipped, probability)
            mirrored = network.probability(self._rgb[:, ::-1])
            self._flipped += mirrored[:, ::-1]
            probability = self._flipped
            scale = 255.0 / 2
        else:
            scale = 255.0
        cv2.convertScaleAbs(probability, dst=self._model_mask, alpha=scale)

    def reset(self) -> None:
        """Forget the person's place: the next frame is seen whole."""
        self._band.reset()
        self._has_mask = False


# Runs timed at load for the CPU budget, on what the compositor hands the network from a
# 720p camera (the usual case): the frame halved (``sees_half_frame``).
TIMED_RUNS = 4
TIMING_FRAME = (640, 360)


def run_cost_ms(
    segmenter: SelfieSegmenter,
    runs: int = TIMED_RUNS,
    cpu_clock: Callable[[], float] = time.thread_time,
) -> float:
    """CPU time of one run on a 720p camera's picture: what the budget expects a run to
    cost (``budget.least_cpu_ms``). The model for that picture is loaded now (by the first,
    untimed run), not on the first camera frame, whose run would otherwise count its
    loading as a run. The segmenter is reset afterwards."""
    width, height = TIMING_FRAME
    picture = np.zeros((height, width, 3), np.uint8)
    cost_ms = least_cpu_ms(lambda: segmenter.segment(picture), runs, cpu_clock)
    segmenter.reset()
    return cost_ms
