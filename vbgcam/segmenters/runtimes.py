"""Who runs the selfie network: LiteRT where its wheel exists, OpenCV's DNN module elsewhere.

LiteRT (``ai-edge-litert``, Google's runtime for these very files) runs the landscape model in
1.8 ms and the general one in 3.2 ms on one thread on the CI machine; OpenCV 5.1's DNN module
takes 3.7 and 6.7 ms for the same answers (within 1.5e-4). On a faster machine: 1.1-1.3 and
2.2 ms against 2.4-2.9 and 4.9. LiteRT has wheels for Linux x86_64
and aarch64, Windows x86_64 and macOS arm64 (``pyproject.toml`` installs it there); other
machines run OpenCV.

A runtime is only used after it reproduced the stored reference answer for the model
(``selfie_reference.npz``: a demo-scene picture at the model's input size and LiteRT's
probabilities for it, rounded to 1/255), so a runtime that computes something else (a
broken engine, NaN, a transposed layout) is logged in one line and the next one is tried.

The runtime owns its input buffer: ``probability`` takes the RGB picture as uint8 and writes
the network's own layout (NHWC for LiteRT, NCHW for OpenCV) scaled to 0..1 with no
allocation.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from vbgcam.errors import ModelError

log = logging.getLogger(__name__)

REFERENCE_FILE = "selfie_reference.npz"
# Largest difference from the stored reference, in 1/255 steps of probability. LiteRT and
# OpenCV differ by less than 0.05 of a step and the reference is rounded to half a step; a
# runtime that computes anything else is off by tens of steps somewhere.
REFERENCE_TOLERANCE = 4


class NetworkRuntime(Protocol):
    """Runs one model: ``probability(rgb)`` for an (h, w, 3) uint8 RGB picture at the model's
    input size gives the (h, w) float32 person probability, 0..1, in an array that the next
    call may reuse."""

    description: str  # for the log and ``vbgcam doctor``: "LiteRT 2.3.0, 1 thread"

    def probability(self, rgb: np.ndarray) -> np.ndarray: ...


def runtime_threads(threads: int) -> int:
    """``[segmenter] threads`` as a count: 0 means one per core."""
    return threads if threads > 0 else max(1, os.cpu_count() or 1)


@contextmanager
def _native_stderr_logged() -> Iterator[None]:
    """LiteRT writes "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." straight to
    file descriptor 2 when it builds an interpreter; a user's terminal should not get it.
    What it writes meanwhile goes to the log instead: INFO lines at debug level, the rest
    as warnings."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error at all (a daemon that closed it): nothing to hide
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if line.startswith("INFO: "):
                    log.debug("LiteRT: %s", line.removeprefix("INFO: "))
                elif line.strip():
                    log.warning("LiteRT: %s", line)


class LiteRtRuntime:
    """The model in LiteRT's interpreter (XNNPACK kernels)."""

    def __init__(self, path: Path, input_size: tuple[int, int], threads: int) -> None:
        from ai_edge_litert import __version__ as version
        from ai_edge_litert.interpreter import Interpreter

        width, height = input_size
        try:
            with _native_stderr_logged():
                self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"LiteRT cannot load {path}: {exc}") from exc
        (given,) = self._interpreter.get_input_details()
        (taken,) = self._interpreter.get_output_details()
        if tuple(given["shape"]) != (1, height, width, 3) or tuple(taken["shape"]) != (
            1,
            height,
            width,
            1,
        ):
            raise ModelError(
                f"{path.name} has input {given['shape']} and output {taken['shape']} in "
                f"LiteRT; expected (1, {height}, {width}, 3) and (1, {height}, {width}, 1)"
            )
        # Views into the interpreter's own buffers, fetched per call and dropped before the
        # next invoke (LiteRT refuses to run while one is held).
        self._input: Callable[[], np.ndarray] = self._interpreter.tensor(given["index"])
        self._output: Callable[[], np.ndarray] = self._interpreter.tensor(taken["index"])
        self._probability = np.empty((height, width), np.float32)
        self.description = f"LiteRT {version}, {threads} thread{'s' if threads > 1 else ''}"

    def probability(self, rgb: np.ndarray) -> np.ndarray:
        np.multiply(rgb, np.float32(1 / 255), out=self._input()[0])
        self._interpreter.invoke()
        np.copyto(self._probability, self._output()[0, :, :, 0])
        return self._probability


def opencv_engine(dnn: Any) -> int | None:
    """OpenCV's own DNN engine under the name this release gives it: ``ENGINE_OPENCV`` from
    5.1, ``ENGINE_CLASSIC`` in 5.0 (whose new engine, 5.4 ms for the landscape model against
    5.1, computes the same); None for OpenCV 4, which has only one engine."""
    for name in ("ENGINE_OPENCV", "ENGINE_CLASSIC"):
        engine = getattr(dnn, name, None)
        if engine is not None:
            return int(engine)
    return None


class OpenCvRuntime:
    """The model in OpenCV's DNN module, on the threads of ``cv2.setNumThreads``."""

    def __init__(self, path: Path, input_size: tuple[int, int], threads: int) -> None:
        engine = opencv_engine(cv2.dnn)
        try:
            if engine is None:
                self._net = cv2.dnn.readNetFromTFLite(str(path))
            else:
                self._net = cv2.dnn.readNetFromTFLite(str(path), engine=engine)
        except cv2.error as exc:
            raise ModelError(f"OpenCV cannot load {path}: {exc.msg}") from exc
        width, height = input_size
        self._blob = np.empty((1, 3, height, width), np.float32)
        self.description = f"OpenCV {cv2.__version__} DNN"

    def probability(self, rgb: np.ndarray) -> np.ndarray:
        np.multiply(rgb.transpose(2, 0, 1), np.float32(1 / 255), out=self._blob[0])
        self._net.setInput(self._blob)
        result: np.ndarray = self._net.forward()
        return result.reshape(result.shape[-2:])


RuntimeFactory = Callable[[Path, tuple[int, int], int], NetworkRuntime]
LITERT_PACKAGE = "ai-edge-litert"


def litert_installed() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def runtimes_in_order() -> list[tuple[str, RuntimeFactory | None]]:
    """Every runtime by name, fastest first; None where it is not installed."""
    return [("LiteRT", LiteRtRuntime if litert_installed() else None), ("OpenCV", OpenCvRuntime)]


@dataclass(frozen=True)
class Reference:
    """A model's known answer: ``rgb`` (h, w, 3) uint8 in, ``probability`` (h, w) uint8
    (0..255 for 0..1) out."""

    rgb: np.ndarray
    probability: np.ndarray


@cache
def reference_for(model: str) -> Reference:
    """The stored reference of ``model`` (``selfie-landscape`` or ``selfie-general``)."""
    key = model.replace("-", "_")
    with resources.files(__package__).joinpath(REFERENCE_FILE).open("rb") as handle:
        stored = np.load(handle)
        return Reference(stored[f"{key}_rgb"], stored[f"{key}_probability"])


def disagreement(runtime: NetworkRuntime, reference: Reference) -> str | None:
    """Why ``runtime`` does not reproduce ``reference``; None when it does."""
    found = runtime.probability(reference.rgb)
    if found.shape != reference.probability.shape:
        return f"its output is {found.shape[::-1]}, expected {reference.probability.shape[::-1]}"
    if not np.all(np.isfinite(found)):
        return "its output is not a number in places"
    error = float(np.max(np.abs(found * 255 - reference.probability)))
    if error > REFERENCE_TOLERANCE:
        return f"its output differs from the reference by up to {error:.0f}/255"
    return None


def open_runtime(
    model: str,
    path: Path,
    input_size: tuple[int, int],
    threads: int,
    candidates: list[tuple[str, RuntimeFactory | None]] | None = None,
) -> NetworkRuntime:
    """The fastest runtime that loads ``path`` and reproduces ``model``'s reference answer.

    One log line for each runtime passed over that should have worked; ``ModelError`` naming
    every reason when none does.
    """
    reasons = []
    for name, factory in candidates if candidates is not None else runtimes_in_order():
        if factory is None:
            reasons.append(f"{name} is not installed")
            continue
        try:
            runtime = factory(path, input_size, runtime_threads(threads))
            reason = disagreement(runtime, reference_for(model))
        except ModelError as exc:
            reason = str(exc)
        except (cv2.error, RuntimeError, ValueError) as exc:  # fails on its first picture
            reason = f"{type(exc).__name__}: {exc}"
        if reason is None:
            return runtime
        log.warning("%s model: not using %s: %s", model, name, reason)
        reasons.append(f"{name}: {reason}")
    raise ModelError(f"no runtime reproduces the {model} model ({'; '.join(reasons)})")
