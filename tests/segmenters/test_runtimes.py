"""Who runs the selfie network: the fastest runtime that gives the model's known answer.

LiteRT and OpenCV must give the same masks, on the stored reference and on real photos; a
runtime that computes something else is passed over with one log line, and the next one
runs; OpenCV's engine is found under the name each release gives it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from tests.segmenters.test_selfie import Photo, portraits  # noqa: F401  (a fixture)
from vbgcam.errors import ModelError
from vbgcam.models import MODELS, verified_path
from vbgcam.segmenters import runtimes
from vbgcam.segmenters.runtimes import (
    LiteRtRuntime,
    NetworkRuntime,
    OpenCvRuntime,
    disagreement,
    open_runtime,
    opencv_engine,
    reference_for,
)
from vbgcam.segmenters.selfie import SelfieSegmenter

MODEL_NAMES = ["selfie-landscape", "selfie-general"]
needs_litert = pytest.mark.skipif(
    not runtimes.litert_installed(), reason="no LiteRT wheel for this platform"
)


def model_path(name: str) -> Path:
    path = verified_path(name)
    assert path is not None
    return path


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize(
    "factory", [pytest.param(LiteRtRuntime, marks=needs_litert), OpenCvRuntime]
)
def test_each_runtime_reproduces_the_stored_reference(
    with_models: Path, name: str, factory: type[NetworkRuntime]
) -> None:
    runtime = factory(model_path(name), MODELS[name].input_size, 1)  # type: ignore[call-arg]
    assert disagreement(runtime, reference_for(name)) is None
    # and the reference is a real test: a person (near 1), a background (near 0), soft edges
    reference = reference_for(name).probability
    assert (reference > 240).mean() > 0.1
    assert (reference < 15).mean() > 0.5
    assert ((reference > 30) & (reference < 225)).any()


@needs_litert
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_litert_and_opencv_give_the_same_masks_on_real_photos(
    with_models: Path,
    portraits: list[Photo],  # noqa: F811
    name: str,
) -> None:
    size = MODELS[name].input_size
    litert = LiteRtRuntime(model_path(name), size, 1)
    opencv = OpenCvRuntime(model_path(name), size, 1)
    for photo in portraits:
        rgb = cv2.cvtColor(
            cv2.resize(photo.image, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB
        )
        ours, theirs = litert.probability(rgb).copy(), opencv.probability(rgb)
        assert np.abs(ours - theirs).max() < 1e-3, photo.name
        assert np.abs(np.rint(ours * 255) - np.rint(theirs * 255)).max() <= 1, photo.name


@needs_litert
def test_litert_runs_the_network_where_it_is_installed_with_the_threads_asked_for(
    with_models: Path,
) -> None:
    segmenter = SelfieSegmenter(threads=2)
    segmenter.segment(np.full((720, 1280, 3), 128, np.uint8))
    assert segmenter.runtime.startswith("LiteRT ")
    assert segmenter.runtime.endswith(", 2 threads")


class Mirrored:
    """A runtime with a layout bug: the right numbers, mirrored left to right."""

    def __init__(self, path: Path, input_size: tuple[int, int], threads: int) -> None:
        self.inner = OpenCvRuntime(path, input_size, threads)
        self.description = "mirrored"

    def probability(self, rgb: np.ndarray) -> np.ndarray:
        return self.inner.probability(rgb)[:, ::-1]


class NotANumber(Mirrored):
    def probability(self, rgb: np.ndarray) -> np.ndarray:
        result = self.inner.probability(rgb).copy()
        result[0, 0] = np.nan
        return result


class Crashing(Mirrored):
    def probability(self, rgb: np.ndarray) -> np.ndarray:
        raise RuntimeError("tensor arena too small")


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        pytest.param(Mirrored, "differs from the reference by up to", id="wrong-answer"),
        pytest.param(NotANumber, "not a number", id="nan"),
        pytest.param(Crashing, "tensor arena too small", id="raises"),
    ],
)
def test_a_runtime_that_computes_something_else_is_passed_over_with_one_log_line(
    with_models: Path, caplog: pytest.LogCaptureFixture, broken: type, reason: str
) -> None:
    name = "selfie-landscape"
    with caplog.at_level(logging.WARNING):
        runtime = open_runtime(
            name,
            model_path(name),
            MODELS[name].input_size,
            1,
            [("Broken", broken), ("OpenCV", OpenCvRuntime)],
        )
    assert isinstance(runtime, OpenCvRuntime)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "not using Broken" in warnings[0] and reason in warnings[0]


def test_when_no_runtime_reproduces_the_model_the_error_names_each_reason(
    with_models: Path,
) -> None:
    name = "selfie-general"
    with pytest.raises(ModelError) as caught:
        open_runtime(
            name,
            model_path(name),
            MODELS[name].input_size,
            1,
            [("LiteRT", None), ("Broken", Mirrored)],
        )
    message = str(caught.value)
    assert "no runtime reproduces the selfie-general model" in message
    assert "LiteRT is not installed" in message
    assert "Broken: its output differs" in message


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        pytest.param({"ENGINE_AUTO": 0, "ENGINE_OPENCV": 1, "ENGINE_ORT": 2}, 1, id="5.1"),
        pytest.param({"ENGINE_AUTO": 0, "ENGINE_CLASSIC": 1, "ENGINE_NEW": 2}, 1, id="5.0"),
        pytest.param({}, None, id="4.x"),
    ],
)
def test_opencvs_own_engine_is_found_under_each_releases_name(
    release: dict[str, int], expected: int | None
) -> None:
    assert opencv_engine(SimpleNamespace(**release)) == expected


def test_this_opencv_names_an_engine_it_accepts_for_the_models(with_models: Path) -> None:
    engine = opencv_engine(cv2.dnn)
    assert engine is not None, f"OpenCV {cv2.__version__} has neither engine name"
    cv2.dnn.readNetFromTFLite(str(model_path("selfie-landscape")), engine=engine)


def test_a_model_file_no_runtime_can_read_is_a_model_error(tmp_path: Path) -> None:
    garbage = tmp_path / "selfie.tflite"
    garbage.write_bytes(b"not a model" * 100)
    with pytest.raises(ModelError, match="no runtime reproduces"):
        open_runtime("selfie-landscape", garbage, (256, 144), 1)


@needs_litert
def test_litert_says_nothing_on_the_terminal_when_it_loads(with_models: Path) -> None:
    """LiteRT writes "INFO: Created TensorFlow Lite XNNPACK delegate" straight to file
    descriptor 2; a user starting ``vbgcam run`` should see vbgcam's lines only."""
    import subprocess
    import sys

    script = (
        "from vbgcam.models import MODELS, verified_path\n"
        "from vbgcam.segmenters.runtimes import LiteRtRuntime\n"
        "name = 'selfie-general'\n"
        "LiteRtRuntime(verified_path(name), MODELS[name].input_size, 1)\n"
        "print('loaded')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "loaded"
    assert "XNNPACK" not in result.stderr
