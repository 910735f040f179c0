"""The selfie models' last layer, computed here instead of by OpenCV's DNN module.

Both selfie models end in a 2x2, stride-2 transposed convolution from 16 channels to one,
followed by a sigmoid. That layer is 0.6 million multiply-adds for the landscape model, yet
OpenCV's ``Deconvolution`` spends 4.3 ms of the network's 7.9 ms on it (OpenCV 5.0, either
engine, one or two threads). With stride equal to kernel size the output pixels do not
overlap, so the layer is one (4 x 16) by (16 x pixels) matrix product whose four rows are
interleaved into the 2x upscaled picture: 0.1 ms. OpenCV still runs everything before it.

The head is only used after it reproduced OpenCV's own answer for the whole network on a
test input (``split_network``); a model that ends differently keeps running whole.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

log = logging.getLogger(__name__)

# The head's answer must match OpenCV's to this much (probabilities 0..1); float32 rounding
# differences are about 1e-6.
MATCH_TOLERANCE = 1e-4
LOGIT_LIMIT = 16.0


class TransposedConvHead:
    """Sigmoid of a 2x2, stride-2 transposed convolution from C channels to one."""

    def __init__(self, weights: np.ndarray, bias: float) -> None:
        channels = weights.shape[0]
        # Row 2*i + j holds the weights of the output pixel (2y + i, 2x + j).
        self._taps = np.ascontiguousarray(weights.reshape(channels, 4).T, np.float32)
        self._bias = np.float32(bias)
        self._shape: tuple[int, int, int] | None = None

    def _allocate(self, channels: int, height: int, width: int) -> None:
        self._shape = (channels, height, width)
        self._products = np.empty((4, height * width), np.float32)
        self._probability = np.empty((2 * height, 2 * width), np.float32)

    def logits(self, features: np.ndarray) -> np.ndarray:
        """The layer before its sigmoid, at twice the features' (1, C, h, w) size; the
        returned array is reused by the next call."""
        _, channels, height, width = features.shape
        if self._shape != (channels, height, width):
            self._allocate(channels, height, width)
        np.matmul(self._taps, features.reshape(channels, height * width), out=self._products)
        # Output pixel (2y + i, 2x + j) is product row 2i + j at (y, x).
        interleaved = self._probability.reshape(height, 2, width, 2)
        np.copyto(interleaved, self._products.reshape(2, 2, height, width).transpose(2, 0, 3, 1))
        self._probability += self._bias
        return self._probability

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Probabilities 0..1 at twice the features' size (the array ``logits`` returns)."""
        logits = self.logits(features)
        # sigmoid(z) = 1 / (1 + exp(-z)). The models' logits reach +-800, where exp takes a
        # slow path (0.67 ms instead of 0.05 for 256x256); beyond +-LOGIT_LIMIT the answer is
        # 0 or 1 to within 1e-7 anyway.
        np.negative(logits, out=logits)
        np.clip(logits, -LOGIT_LIMIT, LOGIT_LIMIT, out=logits)
        cv2.exp(logits, dst=logits)
        logits += 1
        np.reciprocal(logits, out=logits)
        return logits


def _head_of(net: cv2.dnn.Net) -> tuple[str, str, TransposedConvHead] | None:
    """The names of the layer feeding the final transposed convolution and of that layer,
    and the layer as a head; None when the network does not end in Deconvolution then
    Sigmoid."""
    names = list(net.getLayerNames())
    if len(names) < 3:
        return None
    layers = [net.getLayer(net.getLayerId(name)) for name in names[-2:]]
    deconvolution, sigmoid = layers
    if deconvolution.type != "Deconvolution" or sigmoid.type != "Sigmoid":
        return None
    blobs = deconvolution.blobs
    if len(blobs) != 2 or blobs[0].ndim != 4 or blobs[0].shape[1:] != (1, 2, 2):
        return None
    if blobs[1].size != 1:
        return None
    return names[-3], names[-2], TransposedConvHead(blobs[0], float(blobs[1].ravel()[0]))


class SplitNetwork:
    """OpenCV runs the network up to its last layer; the head computes that one."""

    def __init__(self, net: cv2.dnn.Net, feature_layer: str, head: TransposedConvHead) -> None:
        self.net = net
        self.feature_layer = feature_layer
        self.head = head

    def probability(self, blob: np.ndarray) -> np.ndarray:
        self.net.setInput(blob)
        return self.head(self.net.forward(self.feature_layer))


class WholeNetwork:
    """The network as OpenCV runs it, for models whose last layer is not the known head."""

    def __init__(self, net: cv2.dnn.Net) -> None:
        self.net = net

    def probability(self, blob: np.ndarray) -> np.ndarray:
        self.net.setInput(blob)
        result: np.ndarray = self.net.forward()[0, 0]
        return result


def _same(ours: np.ndarray, theirs: np.ndarray) -> bool:
    theirs = theirs.reshape(theirs.shape[-2:]) if theirs.size == ours.size else theirs
    if ours.shape != theirs.shape:
        return False
    return bool(np.all(np.abs(ours - theirs) <= MATCH_TOLERANCE * np.maximum(1, np.abs(theirs))))


def split_network(net: cv2.dnn.Net, input_shape: tuple[int, int]) -> SplitNetwork | WholeNetwork:
    """The network with its head computed here, when that gives OpenCV's answer.

    Compared twice on a test picture: the layer's own output before the sigmoid (varied
    even where the probability is a flat 0, so a head that puts pixels in the wrong place
    shows), and the network's final answer.
    """
    found = _head_of(net)
    if found is None:
        return WholeNetwork(net)
    feature_layer, head_layer, head = found
    height, width = input_shape
    test = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
    test = np.ascontiguousarray(cv2.GaussianBlur(test, (0, 0), 4).transpose(2, 0, 1)[None])
    split = SplitNetwork(net, feature_layer, head)
    try:
        whole = WholeNetwork(net).probability(test).copy()
        net.setInput(test)
        their_logits = net.forward(head_layer)
        net.setInput(test)
        our_logits = head.logits(net.forward(feature_layer)).copy()
        ours = split.probability(test)
    except cv2.error as exc:  # an OpenCV that cannot stop at an inner layer
        log.debug("running the whole network: %s", exc)
        return WholeNetwork(net)
    if not (_same(our_logits, their_logits) and _same(ours, whole)):
        log.debug("running the whole network: its last layer is not the expected head")
        return WholeNetwork(net)
    return split
