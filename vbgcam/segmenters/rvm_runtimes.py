"""Who runs the RVM network: onnxruntime where installed, OpenCV's DNN module (5.1+) otherwise.

RVM is recurrent: each run takes the picture and four state tensors and returns the alpha and
the next four states. A runtime here owns those states, so a segmenter just says ``step``
and ``reset``. Buffers are allocated once per input size; onnxruntime writes its outputs
straight into them (I/O binding), with two sets of state buffers swapped after every run,
so nothing is allocated per frame.

At load, ``open_rvm_runtime`` runs the stored reference frames (``models/rvm_reference.npz``,
TensorFlow's answer for the original TFJS graph) through each runtime in turn and keeps the
first that reproduces them: a runtime that disagrees (OpenCV 5.0 returns NaN states on this
graph) is passed over with one warning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from vbgcam.errors import ModelError

log = logging.getLogger(__name__)

REFERENCE_FILE = Path(__file__).parent.parent / "models" / "rvm_reference.npz"
# Channels of the four recurrent states and how far each is scaled down from the input.
STATE_CHANNELS = (16, 20, 40, 64)
STATE_STRIDES = (2, 4, 8, 16)
# The stored answer is TensorFlow's alpha rounded to 0..255; the converted graph computes the
# same float32 arithmetic in another order (within 2e-5 here), so it may round one level
# the other way. A wrong graph is off by far more.
REFERENCE_TOLERANCE_LEVELS = 1.5
REFERENCE_SIZE = "256x144"
# The 8-bit decoder (models/rvm_int8.py) rounds: measured 0.21 levels off on average, and
# 0.23 % of pixels more than 16 levels off (isolated edge pixels). A wrong model is off by
# tens of levels on average.
QUANTIZED_MEAN_LEVELS = 1.0
QUANTIZED_FAR_SHARE = 0.01
QUANTIZED_FAR_LEVELS = 16.0


def state_shape(index: int, height: int, width: int) -> tuple[int, int, int, int]:
    stride = STATE_STRIDES[index]
    return (1, STATE_CHANNELS[index], -(-height // stride), -(-width // stride))


class RecurrentMatting(Protocol):
    """One RVM network with its recurrent state."""

    description: str

    def step(self, rgb: np.ndarray) -> np.ndarray:
        """Alpha (float32 HxW, 0..1) for ``rgb`` (uint8 HxWx3), carrying the state on; the
        runtime's own buffer, valid until the next call. A new size starts from zeros."""
        ...

    def reset(self) -> None:
        """Zero the states: the next picture is seen as the first."""
        ...


class _Buffers:
    """Input, output and two sets of state buffers for one input size."""

    def __init__(self, height: int, width: int) -> None:
        self.size = (height, width)
        self.src = np.zeros((1, 3, height, width), np.float32)
        self.pha = np.zeros((1, 1, height, width), np.float32)
        self.states = [
            [np.zeros(state_shape(i, height, width), np.float32) for i in range(4)]
            for _ in range(2)
        ]
        self.current = 0  # which set holds the state to read next

    def load(self, rgb: np.ndarray) -> None:
        for channel in range(3):
            np.multiply(rgb[:, :, channel], np.float32(1 / 255), out=self.src[0, channel])

    def reset(self) -> None:
        for states in self.states:
            for state in states:
                state.fill(0)
        self.current = 0


def _ort_options(threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle pool workers would otherwise spin between frames (issue 13: no thread may spin).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


class OnnxRuntimeMatting:
    """RVM on onnxruntime's CPU provider, outputs bound to preallocated buffers."""

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        try:
            self.session = ort.InferenceSession(
                str(model_path), _ort_options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelError(f"onnxruntime cannot load {model_path}: {exc}") from exc
        self.description = f"onnxruntime {ort.__version__}, {threads} thread(s)"
        self._buffers: _Buffers | None = None
        self._bindings: list[Any] = []

    def _prepare(self, height: int, width: int) -> _Buffers:
        buffers = _Buffers(height, width)
        self._bindings = []
        for source in (0, 1):
            binding = self.session.io_binding()
            binding.bind_cpu_input("src", buffers.src)
            _bind_output(binding, "pha", buffers.pha)
            for i in range(4):
                binding.bind_cpu_input(f"r{i + 1}i", buffers.states[source][i])
                _bind_output(binding, f"r{i + 1}o", buffers.states[1 - source][i])
            self._bindings.append(binding)
        self._buffers = buffers
        return buffers

    def step(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        buffers = self._buffers
        if buffers is None or buffers.size != (height, width):
            buffers = self._prepare(height, width)
        buffers.load(rgb)
        self.session.run_with_iobinding(self._bindings[buffers.current])
        buffers.current = 1 - buffers.current
        alpha: np.ndarray = buffers.pha[0, 0]
        return alpha

    def reset(self) -> None:
        if self._buffers is not None:
            self._buffers.reset()


def _bind_output(binding: Any, name: str, array: np.ndarray) -> None:
    binding.bind_output(name, "cpu", 0, np.float32, list(array.shape), array.ctypes.data)


class OpenCvMatting:
    """RVM on OpenCV's DNN module: the fallback where onnxruntime is not installed."""

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        try:
            self.net = cv2.dnn.readNetFromONNX(str(model_path))
        except cv2.error as exc:
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
            raise ModelError(f"OpenCV cannot load {model_path}: {first}") from exc
        self.description = f"OpenCV {cv2.__version__} DNN"
        self._buffers: _Buffers | None = None
        self._outputs = ["pha", "r1o", "r2o", "r3o", "r4o"]

    def step(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        buffers = self._buffers
        if buffers is None or buffers.size != (height, width):
            buffers = self._buffers = _Buffers(height, width)
        buffers.load(rgb)
        self.net.setInput(buffers.src, "src")
        for i, state in enumerate(buffers.states[buffers.current]):
            self.net.setInput(state, f"r{i + 1}i")
        pha, *next_states = self.net.forward(self._outputs)
        buffers.current = 1 - buffers.current
        for target, found in zip(buffers.states[buffers.current], next_states, strict=True):
            np.copyto(target, found.reshape(target.shape))
        np.copyto(buffers.pha, pha.reshape(buffers.pha.shape))
        alpha: np.ndarray = buffers.pha[0, 0]
        return alpha

    def reset(self) -> None:
        if self._buffers is not None:
            self._buffers.reset()


MattingFactory = Callable[[Path, int], RecurrentMatting]


def onnxruntime_installed() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def runtimes_in_order() -> list[tuple[str, MattingFactory | None]]:
    """Each runtime's name, and its constructor where it can run here."""
    opencv_ok = tuple(int(part) for part in cv2.__version__.split(".")[:2]) >= (5, 1)
    return [
        ("onnxruntime", OnnxRuntimeMatting if onnxruntime_installed() else None),
        ("OpenCV", OpenCvMatting if opencv_ok else None),
    ]


@cache
def reference() -> dict[str, np.ndarray]:
    """TensorFlow's answer for the original graph on a few frames (see devtools.rvm_reference)."""
    with np.load(REFERENCE_FILE) as stored:
        return {key: stored[key] for key in stored.files}


def disagreement(runtime: RecurrentMatting, quantized: bool = False) -> str | None:
    """Why ``runtime`` is not the model TensorFlow ran, or None when it reproduces it
    (within rounding for the 8-bit decoder, ``quantized``)."""
    stored = reference()
    runtime.reset()
    errors = []
    frames, answers = stored[f"{REFERENCE_SIZE}_rgb"], stored[f"{REFERENCE_SIZE}_pha"]
    for rgb, expected in zip(frames, answers, strict=True):
        alpha = runtime.step(rgb)
        if not np.all(np.isfinite(alpha)):
            runtime.reset()
            return "its alpha has NaN or infinite values"
        errors.append(np.abs(alpha * 255 - expected.astype(np.float32)))
    runtime.reset()
    error = np.stack(errors)
    if quantized:
        mean = float(error.mean())
        far = float(np.mean(error > QUANTIZED_FAR_LEVELS))
        if mean > QUANTIZED_MEAN_LEVELS or far > QUANTIZED_FAR_SHARE:
            return (
                f"its alpha differs from the reference by {mean:.2f} levels on average, "
                f"{far:.2%} of pixels by over {QUANTIZED_FAR_LEVELS:g}"
            )
        return None
    worst = float(error.max())
    if worst > REFERENCE_TOLERANCE_LEVELS:
        return f"its alpha differs from the reference by up to {worst:.1f} of 255 levels"
    return None


def open_rvm_runtime(model_path: Path, threads: int = 1) -> RecurrentMatting:
    """The first runtime that loads ``model_path`` and reproduces the reference."""
    reasons: list[str] = []
    for name, factory in runtimes_in_order():
        if factory is None:
            reasons.append(f"{name}: not available here")
            continue
        try:
            runtime = factory(model_path, threads)
            problem = disagreement(runtime)
        except ModelError as exc:
            problem = str(exc)
        except cv2.error as exc:
            problem = str(exc).strip().splitlines()[-1]
        except Exception as exc:  # onnxruntime's own failures while running the reference
            lines = str(exc).strip().splitlines()
            problem = f"{type(exc).__name__}: {lines[-1] if lines else 'failed'}"
        if problem is None:
            return runtime
        log.warning("rvm: not using %s: %s", name, problem)
        reasons.append(f"{name}: {problem}")
    raise ModelError("no runtime here runs the rvm model correctly (" + "; ".join(reasons) + ")")


def usable_threads(threads: int) -> int:
    """``threads`` with 0 meaning one per core."""
    return threads if threads > 0 else max(1, os.cpu_count() or 1)
