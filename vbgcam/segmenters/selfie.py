"""MediaPipe selfie segmentation, run by LiteRT or OpenCV's DNN module (no mediapipe at run time).

Two models exist: a landscape one (256x144) for wide frames and a general one (256x256). The
frame is shrunk once into a preallocated picture at the model's input size; the network's
soft output is returned at that small size, and the matte stage scales it to the frame, so no
full-size work is done here. ``runtimes`` picks who runs the network (LiteRT where
installed) and checks its answer at load. Averaging with a run on the mirrored frame
(``flip``) removes some one-sided errors at the cost of a second inference.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from vbgcam.errors import ModelError
from vbgcam.models import MODELS, verified_path
from vbgcam.segmenters.runtimes import NetworkRuntime, open_runtime
from vbgcam.shrink import shrink

log = logging.getLogger(__name__)

# Frames wider than this (width / height) use the landscape model; 16:9 is 1.78, 4:3 is 1.33.
LANDSCAPE_MIN_ASPECT = 1.5


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


def choose_model(frame_size: tuple[int, int], preference: str) -> str:
    """``landscape``/``general`` as asked, or by the frame's shape for ``auto``."""
    if preference in ("landscape", "general"):
        return f"selfie-{preference}"
    width, height = frame_size
    return "selfie-landscape" if width / height >= LANDSCAPE_MIN_ASPECT else "selfie-general"


class SelfieSegmenter:
    """Soft person mask from the selfie model: uint8 0..255 at the model's input size."""

    def __init__(self, model: str = "auto", flip: bool = False, threads: int = 1) -> None:
        self.preference = model
        self.flip = flip
        self.threads = threads
        wanted = ("landscape", "general") if model == "auto" else (model,)
        for choice in wanted:  # fail now, not on the first frame, when a model is missing
            if verified_path(f"selfie-{choice}") is None:
                raise missing_model(f"selfie-{choice}")
        self._nets: dict[str, NetworkRuntime] = {}
        self._frame_size: tuple[int, int] | None = None
        self._name = ""

    def _prepare(self, frame_size: tuple[int, int]) -> None:
        self._name = choose_model(frame_size, self.preference)
        if self._name not in self._nets:
            self._nets[self._name] = load_network(self._name, self.threads)
        width, height = MODELS[self._name].input_size
        self._small = np.empty((height, width, 3), np.uint8)
        self._rgb = np.empty_like(self._small)
        self._mask = np.empty((height, width), np.uint8)
        self._flipped = np.empty((height, width), np.float32)
        self._frame_size = frame_size

    @property
    def runtime(self) -> str:
        """Who runs the network for the current frame size ("" before the first frame)."""
        network = self._nets.get(self._name)
        return network.description if network is not None else ""

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        height, width = frame_bgr.shape[:2]
        if self._frame_size != (width, height):
            self._prepare((width, height))
        small_h, small_w = self._small.shape[:2]
        # From the compositor's 320 px working copy when there is one: a 1.25x step is
        # 0.02 ms, shrinking the full frame again 0.27 ms.
        shrink(
            small_bgr if small_bgr is not None else frame_bgr, (small_w, small_h), dst=self._small
        )
        cv2.cvtColor(self._small, cv2.COLOR_BGR2RGB, dst=self._rgb)
        network = self._nets[self._name]
        probability = network.probability(self._rgb)
        if self.flip:
            np.copyto(self._flipped, probability)
            mirrored = network.probability(self._rgb[:, ::-1])
            self._flipped += mirrored[:, ::-1]
            probability = self._flipped
            scale = 255.0 / 2
        else:
            scale = 255.0
        cv2.convertScaleAbs(probability, dst=self._mask, alpha=scale)
        return self._mask

    def reset(self) -> None:
        """The model has no memory of earlier frames; nothing to forget."""
