"""Robust Video Matting (Lin et al. 2021): a recurrent network that gives a soft alpha.

Where the selfie models judge every frame on its own, RVM carries four state tensors from
frame to frame, so a person who sits still, enters at the edge or holds a cup stays whole
and the edge does not flicker. The network sees the frame shrunk to ``long_side_px`` on its
longer side, aspect kept (both sides even: 256x144 for a 16:9 camera); its alpha
is returned at that size and the matte stage scales it to the frame.

The states describe *this* camera's recent past, so they are zeroed whenever that past is
gone: a new frame size, ``reset()`` (the pipeline calls it after a pause or a camera outage),
and a new segmenter for new settings.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import cv2
import numpy as np

from vbgcam.errors import ModelError
from vbgcam.segmenters.rvm_runtimes import (
    OnnxRuntimeMatting,
    RecurrentMatting,
    disagreement,
    onnxruntime_installed,
    open_rvm_runtime,
    usable_threads,
)
from vbgcam.shrink import WORKING_WIDTH, shrink

log = logging.getLogger(__name__)

# The network input's longer side; 256 (256x144 for 16:9) measured best for CPU per IoU.
DEFAULT_LONG_SIDE_PX = 256
# Runs each of the float and the 8-bit model are timed at load to pick the faster.
COMPARED_RUNS = 3
# Even sides (the graph takes any size; the encoder rounds its halvings up), so the aspect
# is kept within a pixel: a 4-px step made 160x90 160x88, 2 % wider.
SIZE_STEP = 2
MIN_SIDE_PX = 16


def input_size(frame_size: tuple[int, int], long_side_px: int) -> tuple[int, int]:
    """(width, height) the network sees for a frame of ``frame_size``: the longer side
    ``long_side_px``, the frame's aspect, both sides even."""
    frame_width, frame_height = frame_size
    scale = long_side_px / max(frame_width, frame_height)

    def side(pixels: int) -> int:
        return max(MIN_SIDE_PX, round(pixels * scale / SIZE_STEP) * SIZE_STEP)

    return side(frame_width), side(frame_height)


def sees_enough_of_a_half_frame(long_side_px: int) -> bool:
    """Whether the frame halved (which the compositor makes only from frames at least twice
    as wide as its 320 px working copy) has at least the network's pixels: then it is handed
    that, one full-size pass less; a larger input gets the full frame."""
    return long_side_px <= WORKING_WIDTH


def load_matting(threads: int = 1) -> RecurrentMatting:
    """The cached RVM model (converted on first use) in the first runtime that reproduces it;
    the 8-bit-decoder model instead where it is intact, reproduces it within rounding and
    runs faster here (it does on CPUs with fast 8-bit arithmetic; not on every CPU). Which
    of the two is faster is measured once per machine and remembered in the cache."""
    from vbgcam.models.rvm_onnx import ensure_converted, ensure_quantized

    path = ensure_converted(progress=log.info)
    threads = usable_threads(threads)
    quantized = ensure_quantized(progress=log.info) if onnxruntime_installed() else None
    remembered = _remembered_int8_faster(quantized, threads) if quantized else None
    if quantized is not None and remembered:
        try:
            candidate: RecurrentMatting | None = OnnxRuntimeMatting(quantized, threads)
        except ModelError:
            candidate = None
        if candidate is not None and disagreement(candidate, quantized=True) is None:
            candidate.description += ", 8-bit decoder (measured faster here before)"
            log.info("rvm model on %s", candidate.description)
            return candidate
    runtime = open_rvm_runtime(path, threads)
    if quantized is not None and remembered is not False:
        runtime = _faster(runtime, quantized, threads)
        _remember_int8_faster(quantized, threads, runtime.description.find("8-bit") >= 0)
    log.info("rvm model on %s", runtime.description)
    return runtime


CHOICE_FILE = "rvm-runtime.json"


def _machine_key(quantized: Path, threads: int) -> dict[str, object]:
    """What the float/8-bit speed comparison depends on: the CPU, the runtime, the models."""
    import platform

    import onnxruntime

    from vbgcam.models.rvm_onnx import INT8_RECORD_FILE

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if "model name" in line), cpu
            )
    except OSError:
        pass
    try:
        record = (quantized.parent / INT8_RECORD_FILE).read_text(encoding="utf-8")
    except OSError:
        record = ""
    return {"cpu": cpu, "onnxruntime": onnxruntime.__version__, "threads": threads, "int8": record}


def _remembered_int8_faster(quantized: Path, threads: int) -> bool | None:
    """Whether the 8-bit model was faster on this machine last time; None: not measured."""
    try:
        stored = json.loads((quantized.parent / CHOICE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("key") != _machine_key(quantized, threads):
        return None
    return bool(stored.get("int8_faster"))


def _remember_int8_faster(quantized: Path, threads: int, faster: bool) -> None:
    from vbgcam import models

    document = {"key": _machine_key(quantized, threads), "int8_faster": faster}
    try:
        with models._staged(quantized.parent / CHOICE_FILE) as handle:
            handle.write(json.dumps(document, indent=1).encode())
    except ModelError as exc:  # an unwritable cache: measure again next time
        log.debug("rvm: cannot remember the runtime choice: %s", exc)


def _faster(runtime: RecurrentMatting, quantized: Path, threads: int) -> RecurrentMatting:
    """``runtime`` or the 8-bit model, whichever reproduces the reference and costs less CPU
    a run at 256x144 here (least of a few runs each, taking turns)."""
    try:
        candidate = OnnxRuntimeMatting(quantized, threads)
        problem = disagreement(candidate, quantized=True)
    except ModelError as exc:
        problem = str(exc)
    if problem is not None:
        log.warning("rvm: not using the 8-bit model: %s", problem)
        return runtime
    rgb = np.random.default_rng(0).integers(0, 256, (144, 256, 3), dtype=np.uint8)
    costs: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(COMPARED_RUNS):
        for index, matting in enumerate((runtime, candidate)):
            started = time.process_time()
            matting.step(rgb)
            costs[index].append((time.process_time() - started) * 1e3)
    runtime.reset()
    candidate.reset()
    float_ms, int8_ms = min(costs[0]), min(costs[1])
    if int8_ms >= float_ms:
        log.info("rvm: the 8-bit model is no faster here (%.1f ms against %.1f)", int8_ms, float_ms)
        return runtime
    candidate.description += f", 8-bit decoder ({int8_ms:.0f} ms a run against {float_ms:.0f})"
    return candidate


class RvmSegmenter:
    """Soft alpha from RVM: uint8 0..255 at the network's input size, frame aspect."""

    # Its state follows the stream: the pipeline resets it after a pause or an outage.
    recurrent = True
    # Its alpha is already a matte: the matte stage only made it worse on the eval clips
    # (boundary F 0.678 -> 0.625, IoU 0.960 -> 0.958), and costs 1.2 ms a 720p frame.
    refined = True

    def __init__(
        self,
        long_side_px: int = DEFAULT_LONG_SIDE_PX,
        threads: int = 1,
        matting: RecurrentMatting | None = None,
    ) -> None:
        if long_side_px < MIN_SIDE_PX:
            raise ModelError(f"rvm input size {long_side_px} px is too small (at least 16)")
        self.long_side_px = long_side_px
        self.sees_half_frame = sees_enough_of_a_half_frame(long_side_px)
        self.matting = matting if matting is not None else load_matting(threads)
        self._frame_size: tuple[int, int] | None = None
        self._small = np.empty((0, 0, 3), np.uint8)
        self._rgb = np.empty_like(self._small)
        self._mask = np.empty((0, 0), np.uint8)

    @property
    def runtime(self) -> str:
        return self.matting.description

    def use_long_side(self, long_side_px: int) -> None:
        """Run at another input size from the next frame on (states start from zero)."""
        self.long_side_px = long_side_px
        self.sees_half_frame = sees_enough_of_a_half_frame(long_side_px)
        self._frame_size = None

    def _prepare(self, frame_size: tuple[int, int]) -> None:
        width, height = input_size(frame_size, self.long_side_px)
        self._small = np.empty((height, width, 3), np.uint8)
        self._rgb = np.empty_like(self._small)
        self._mask = np.empty((height, width), np.uint8)
        self.matting.reset()
        self._frame_size = frame_size

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        height, width = frame_bgr.shape[:2]
        if self._frame_size != (width, height):
            self._prepare((width, height))
        small_h, small_w = self._small.shape[:2]
        # The compositor's 320 px working copy when it has enough pixels (a small step is
        # cheap), else the frame (already halved by the compositor at 720p and up).
        source = frame_bgr
        if small_bgr is not None and small_bgr.shape[1] >= small_w:
            source = small_bgr
        shrink(source, (small_w, small_h), dst=self._small)
        cv2.cvtColor(self._small, cv2.COLOR_BGR2RGB, dst=self._rgb)
        alpha = self.matting.step(self._rgb)
        cv2.convertScaleAbs(alpha, dst=self._mask, alpha=255.0)
        return self._mask

    def reset(self) -> None:
        """Forget the past: the next frame starts from zero states."""
        self.matting.reset()
