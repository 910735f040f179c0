"""RVM with its decoder in 8-bit integers: the same masks for two thirds of the CPU.

The converted model spends most of its time in the recurrent decoder's convolutions at the
higher resolutions. Those quantize almost losslessly (onnxruntime's static quantization,
8-bit activations and per-channel weights); the MobileNetV3 encoder does not (its depthwise
convolutions lost 0.016 IoU on the eval clips), so it stays in float, as does the final
projection. Measured here: 18.7 against 28.2 ms a run at 256x144, 11.1 against 16.7 at
192x108, mean IoU on the eval clips 0.9576 against 0.9581 (float).

Calibration needs pictures that look like a webcam's and are on every machine: the demo
scene (vbgcam's drawing of a person) over its own room and generated ones, with gain,
sensor noise and JPEG, fed in sequences with the recurrent states carried by the float
model. Never the evaluation data. About 10 s, once, after the conversion.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

# Convolutions quantized: the recurrent decoder's and the LR-ASPP attention gate's (node
# names carry their TF node's, see tfjs_onnx).
QUANTIZED_PARTS = ("/recurrent_decoder/", "/lraspp/sequential")
CALIBRATION_SIZES = ((256, 144), (192, 108))
FRAMES_PER_SEQUENCE = 16
SEQUENCES_PER_SIZE = 3
STATE_NAMES = ("r1i", "r2i", "r3i", "r4i")


def _generated_room(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A made-up room: a smooth colour field with furniture-like blocks and some texture."""
    field = rng.integers(0, 256, (3, 5, 3)).astype(np.uint8)
    room = cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(3, 9))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1 = x0 + int(rng.integers(width // 20, width // 2))
        y1 = y0 + int(rng.integers(height // 20, height // 2))
        colour = [int(c) for c in rng.integers(0, 256, 3)]
        cv2.rectangle(room, (x0, y0), (x1, y1), colour, -1)
    texture = cv2.GaussianBlur(rng.normal(0, 12, (height, width)).astype(np.float32), (0, 0), 2)
    scene: np.ndarray = np.clip(room + texture[:, :, None], 0, 255).astype(np.uint8)
    return scene


def calibration_sequences(seed: int = 0) -> Iterator[list[np.ndarray]]:
    """Sequences of RGB network inputs, each a few seconds of a webcam-like stream."""
    from vbgcam.sources.demo_scene import DemoScene

    rng = np.random.default_rng(seed)
    width, height = 1280, 720
    scene = DemoScene(width, height)
    own_room = scene.room.copy()
    frame = np.empty((height, width, 3), np.uint8)
    for size in CALIBRATION_SIZES:
        for index in range(SEQUENCES_PER_SIZE):
            scene.room = own_room if index == 0 else _generated_room(rng, width, height)
            start_s, gain = float(rng.uniform(0, 20)), float(rng.uniform(0.6, 1.3))
            sequence = []
            for step in range(FRAMES_PER_SEQUENCE):
                scene.render(start_s + step / 15, frame)
                noisy = frame * gain + rng.normal(0, 4, frame.shape)
                camera = np.clip(noisy, 0, 255).astype(np.uint8)
                _, jpeg = cv2.imencode(".jpg", camera, [cv2.IMWRITE_JPEG_QUALITY, 80])
                decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
                assert decoded is not None  # our own JPEG
                small = cv2.resize(decoded, size, interpolation=cv2.INTER_AREA)
                sequence.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
            yield sequence
    scene.room = own_room


def _feeds(float_model: Path) -> list[dict[str, Any]]:
    """The float model's inputs over the calibration sequences, states carried."""
    import onnxruntime as ort

    from vbgcam.segmenters.rvm_runtimes import state_shape

    session = ort.InferenceSession(str(float_model), providers=["CPUExecutionProvider"])
    feeds = []
    for sequence in calibration_sequences():
        height, width = sequence[0].shape[:2]
        states = [np.zeros(state_shape(i, height, width), np.float32) for i in range(4)]
        for rgb in sequence:
            source = (rgb.astype(np.float32) / 255).transpose(2, 0, 1)[None].copy()
            feed = {"src": source, **dict(zip(STATE_NAMES, states, strict=True))}
            feeds.append(feed)
            states = session.run(["r1o", "r2o", "r3o", "r4o"], feed)
    return feeds


def quantize(float_model: Path) -> bytes:
    """The 8-bit-decoder model made from the converted float model (a serialized ONNX)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    model = onnx.load(str(float_model))
    excluded = [
        node.name
        for node in model.graph.node
        if node.op_type == "Conv" and not any(part in node.name for part in QUANTIZED_PARTS)
    ]
    feeds = _feeds(float_model)

    class Reader(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime has no types
        def __init__(self) -> None:
            self._next = iter(feeds)

        def get_next(self) -> dict[str, Any] | None:
            return next(self._next, None)

    with tempfile.TemporaryDirectory(prefix="vbgcam-int8-") as folder:
        target = Path(folder) / "rvm-int8.onnx"
        quantize_static(
            str(float_model),
            str(target),
            Reader(),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv"],
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded,
            calibrate_method=CalibrationMethod.MinMax,
        )
        return target.read_bytes()
