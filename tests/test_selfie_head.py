"""The selfie models' last layer computed by us: it must give OpenCV's own answer.

The speed-up (OpenCV's Deconvolution is half of the network's time) is only worth having if
the mask is the one the whole network gives; these tests compare with OpenCV running the
whole model on real photographs, and with the textbook definition of the layer.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.test_selfie import Photo, portraits  # noqa: F401  (a fixture)
from vbgcam.models import MODELS, verified_path
from vbgcam.segmenters.selfie import SelfieSegmenter, _read_tflite
from vbgcam.segmenters.selfie_head import (
    SplitNetwork,
    TransposedConvHead,
    WholeNetwork,
    split_network,
)


def reference_head(features: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    """The transposed convolution by its definition, one output pixel at a time (float64):
    input pixel (y, x) spreads ``features[:, y, x] . weights[:, 0, i, j]`` to output pixel
    (2y + i, 2x + j); then the sigmoid."""
    _, channels, height, width = features.shape
    out = np.zeros((2 * height, 2 * width))
    for i in range(2):
        for j in range(2):
            for c in range(channels):
                out[i::2, j::2] += features[0, c].astype(np.float64) * weights[c, 0, i, j]
    return 1 / (1 + np.exp(-(out + bias)))


def test_the_head_is_a_stride_2_transposed_convolution_and_sigmoid() -> None:
    rng = np.random.default_rng(7)
    features = rng.normal(0, 3, (1, 16, 9, 12)).astype(np.float32)
    weights = rng.normal(0, 1, (16, 1, 2, 2)).astype(np.float32)
    found = TransposedConvHead(weights, 0.27)(features)
    assert found.shape == (18, 24)
    assert np.abs(found - reference_head(features, weights, 0.27)).max() < 1e-5


def test_logits_far_beyond_the_clip_limit_give_exactly_0_and_1() -> None:
    """The models' logits reach +-800; the answer there must be 0 and 1 in the 8-bit mask."""
    features = np.zeros((1, 1, 1, 2), np.float32)
    features[0, 0, 0] = (-800.0, 800.0)
    probability = TransposedConvHead(np.ones((1, 1, 2, 2), np.float32), 0.0)(features)
    assert np.all(probability[:, :2] < 1e-6) and np.all(probability[:, 2:] > 1 - 1e-6)
    assert np.all(np.isfinite(probability))


def _whole_probability(name: str, blob: np.ndarray) -> np.ndarray:
    path = verified_path(name)
    assert path is not None
    net = _read_tflite(path)
    net.setInput(blob)
    result: np.ndarray = net.forward()[0, 0]
    return result


def _blob(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], np.float32) / np.float32(255)


@pytest.mark.parametrize("name", ["selfie-landscape", "selfie-general"])
def test_both_models_are_split_and_give_opencvs_answer_on_real_photos(
    with_models: Path,
    portraits: list[Photo],  # noqa: F811
    name: str,
) -> None:
    path = verified_path(name)
    assert path is not None
    width, height = MODELS[name].input_size
    network = split_network(_read_tflite(path), (height, width))
    assert isinstance(network, SplitNetwork), "the known head was not recognised"
    for photo in portraits:
        blob = _blob(photo.image, (width, height))
        whole = _whole_probability(name, blob)
        split = network.probability(blob)
        assert split.shape == whole.shape == (height, width)
        assert np.abs(split - whole).max() < 1e-4, photo.name
        # and the 8-bit masks the segmenter hands on are the same to one level
        difference = np.abs(np.rint(split * 255) - np.rint(whole * 255))
        assert difference.max() <= 1, photo.name


def test_a_head_that_does_not_reproduce_opencv_is_not_used(
    with_models: Path,
    portraits: list[Photo],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check at load time is what keeps a model with another ending (or a bug here)
    from changing masks: the segmenter then runs the whole network and gives its answer."""
    honest = SelfieSegmenter().segment(portraits[0].image).copy()
    real_logits = TransposedConvHead.logits

    def mirrored(self: TransposedConvHead, features: np.ndarray) -> np.ndarray:
        logits = real_logits(self, features)
        logits[:] = logits[:, ::-1].copy()
        return logits

    monkeypatch.setattr(TransposedConvHead, "logits", mirrored)
    path = verified_path("selfie-landscape")
    assert path is not None
    assert isinstance(split_network(_read_tflite(path), (144, 256)), WholeNetwork)
    checked = SelfieSegmenter().segment(portraits[0].image)
    assert np.abs(checked.astype(int) - honest).max() <= 1
