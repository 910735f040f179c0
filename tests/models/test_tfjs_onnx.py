"""The TFJS → ONNX converter: each op family against numpy, refusals, and RVM against TF.

Small TFJS graphs are written here (JSON nodes plus weight bytes, some uint8-quantised), so
every op's meaning is checked against a numpy statement of TF's definition, not against the
converter's own idea of it. The whole RVM model is checked against TensorFlow's answer stored
in ``vbgcam/models/rvm_reference.npz`` when the model files are cached.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from vbgcam.devtools import rvm_reference
from vbgcam.errors import ModelError
from vbgcam.models import cache_dir
from vbgcam.models.tfjs_onnx import CONVERTER_VERSION, convert

STATES = {"r1i": (16, 2), "r2i": (20, 4), "r3i": (40, 8), "r4i": (64, 16)}
RNG = np.random.default_rng(7)


def attr_value(value: Any) -> dict[str, Any]:
    """A Python value as a GraphDef JSON attr."""
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": str(value)}
    if isinstance(value, float):
        return {"f": value}
    if isinstance(value, str):
        return {"s": base64.b64encode(value.encode()).decode()}
    if isinstance(value, list) and value and isinstance(value[0], str):
        return {"list": {"s": [base64.b64encode(v.encode()).decode() for v in value]}}
    if isinstance(value, list):
        return {"list": {"i": [str(v) for v in value]}}
    return {"type": value["type"]}


def node(name: str, op: str, *inputs: str, **attrs: Any) -> dict[str, Any]:
    attr = {key: attr_value(value) for key, value in attrs.items()}
    attr.setdefault("T", {"type": "DT_FLOAT"})
    return {"name": name, "op": op, "input": list(inputs), "attr": attr}


def quantize(array: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """uint8 codes and the TFJS quantization record; ``dequantize`` gives what TF computes."""
    low, high = float(array.min()), float(array.max())
    scale = (high - low) / 255 or 1.0
    codes = np.round((array - low) / scale).astype(np.uint8)
    return codes, {"dtype": "uint8", "min": low, "scale": scale}


def dequantize(codes: np.ndarray, quant: dict[str, Any]) -> np.ndarray:
    return (quant["min"] + quant["scale"] * codes.astype(np.float64)).astype(np.float32)


class Graph:
    """A TFJS graph model being written: src, r1i..r4i, downsample_ratio in; pha out."""

    def __init__(self) -> None:
        self.nodes = [node(name, "Placeholder") for name in ("src", *STATES, "downsample_ratio")]
        self.nodes += [node(f"r{i}o", "Identity", f"r{i}i") for i in range(1, 5)]
        self.manifest: list[dict[str, Any]] = []
        self.blobs: list[bytes] = []
        self.values: dict[str, np.ndarray] = {}

    def const(self, name: str, value: Any, *, quantized: bool = False) -> np.ndarray:
        """Adds a Const; returns the value TF would see (dequantised when ``quantized``)."""
        array = np.asarray(value)
        array = array.astype(np.int32 if array.dtype.kind in "iu" else array.dtype)
        array = array.astype(np.float32) if array.dtype.kind == "f" else array
        entry: dict[str, Any] = {"name": name, "shape": list(array.shape)}
        entry["dtype"] = {"f": "float32", "i": "int32", "b": "bool"}[array.dtype.kind]
        if quantized:
            codes, entry["quantization"] = quantize(array)
            array = dequantize(codes, entry["quantization"])
            self.blobs.append(codes.tobytes())
        else:
            self.blobs.append(array.tobytes())
        self.manifest.append(entry)
        self.nodes.append(node(name, "Const"))
        self.values[name] = array
        return array

    def add(self, name: str, op: str, *inputs: str, **attrs: Any) -> None:
        self.nodes.append(node(name, op, *inputs, **attrs))

    def files(self, output: str) -> tuple[bytes, bytes]:
        outputs = {"pha": {"name": output}}
        outputs.update({f"r{i}o": {"name": f"r{i}o:0"} for i in range(1, 5)})
        model = {
            "format": "graph-model",
            "modelTopology": {"node": self.nodes},
            "weightsManifest": [{"paths": ["x.bin"], "weights": self.manifest}],
            "signature": {"outputs": outputs},
        }
        return json.dumps(model).encode(), b"".join(self.blobs)

    def run(self, output: str, src: np.ndarray, *, downsample_ratio: float = 1.0) -> np.ndarray:
        """``output`` (NHWC) for ``src`` (NHWC), through convert() and onnxruntime."""
        model = convert(*self.files(output), downsample_ratio=downsample_ratio)
        return run_onnx(model, src)[0].transpose(0, 2, 3, 1)


def run_onnx(model: bytes, src: np.ndarray, states: list[np.ndarray] | None = None) -> list[Any]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    _, height, width, _ = src.shape
    if states is None:
        states = [zero_state(height, width, name) for name in STATES]
    feed = {"src": src.transpose(0, 3, 1, 2).astype(np.float32)}
    feed.update(zip(STATES, states, strict=True))
    return session.run(None, feed)


def zero_state(height: int, width: int, name: str) -> np.ndarray:
    channels, stride = STATES[name]
    return np.zeros((1, channels, -(-height // stride), -(-width // stride)), np.float32)


def source(height: int = 9, width: int = 11) -> np.ndarray:
    return RNG.random((1, height, width, 3), dtype=np.float32)


# ---- numpy statements of TF's ops ---------------------------------------------------------


def np_conv(x: np.ndarray, w: np.ndarray, stride: int = 1, dilation: int = 1) -> np.ndarray:
    """VALID NHWC convolution with HWIO filters."""
    kh, kw, _, cout = w.shape
    _, h, wd, _ = x.shape
    oh = (h - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((1, oh, ow, cout), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i * dilation :: stride, j * dilation :: stride][:, :oh, :ow]
            out += patch @ w[i, j]
    return out


def np_depthwise(x: np.ndarray, w: np.ndarray, stride: int = 1, dilation: int = 1) -> np.ndarray:
    kh, kw, channels, multiplier = w.shape
    _, h, wd, _ = x.shape
    oh = (h - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((1, oh, ow, channels, multiplier), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i * dilation :: stride, j * dilation :: stride][:, :oh, :ow]
            out += patch[..., None] * w[i, j]
    return out.reshape(1, oh, ow, channels * multiplier)


def np_resize(x: np.ndarray, size: tuple[int, int], align: bool, half: bool) -> np.ndarray:
    """TF's ResizeBilinear (legacy kernel): compute_interpolation_weights, then lerp."""

    def weights(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scale = (in_size - 1) / (out_size - 1) if align and out_size > 1 else in_size / out_size
        pos = np.arange(out_size, dtype=np.float64)
        where = (pos + 0.5) * scale - 0.5 if half else pos * scale
        floor = np.floor(where)
        lower = np.maximum(floor, 0).astype(int)
        upper = np.minimum(np.ceil(where), in_size - 1).astype(int)
        return lower, upper, where - floor

    (ylo, yhi, dy), (xlo, xhi, dx) = weights(x.shape[1], size[0]), weights(x.shape[2], size[1])
    top = x[:, ylo][:, :, xlo] * (1 - dx[:, None]) + x[:, ylo][:, :, xhi] * dx[:, None]
    bottom = x[:, yhi][:, :, xlo] * (1 - dx[:, None]) + x[:, yhi][:, :, xhi] * dx[:, None]
    return top * (1 - dy[:, None, None]) + bottom * dy[:, None, None]


def np_avg_pool_same(x: np.ndarray, k: int) -> np.ndarray:
    """TF's SAME AvgPool with stride = kernel: padded cells are not counted."""
    _, h, w, c = x.shape
    oh, ow = -(-h // k), -(-w // k)
    out = np.zeros((1, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            out[0, i, j] = x[0, i * k : i * k + k, j * k : j * k + k].mean((0, 1))
    return out


# ---- convolutions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fused_ops", "padding", "stride", "activation"),
    [
        pytest.param(["BiasAdd"], "VALID", 1, lambda y: y, id="bias-valid"),
        pytest.param(["BiasAdd", "Relu"], "VALID", 2, lambda y: np.maximum(y, 0), id="relu-s2"),
        pytest.param(["BiasAdd", "Relu6"], "SAME", 1, lambda y: np.clip(y, 0, 6), id="relu6-same"),
    ],
)
def test_fused_conv_is_conv_then_bias_then_activation(
    fused_ops: list[str], padding: str, stride: int, activation: Any
) -> None:
    graph = Graph()
    w = graph.const("w", RNG.normal(0, 2, (2, 3, 3, 5)), quantized=True)  # even height
    b = graph.const("b", RNG.normal(0, 1, 5))
    graph.add(
        "conv", "_FusedConv2D", "src", "w", "b", fused_ops=fused_ops, padding=padding,
        strides=[1, stride, stride, 1], num_args=1, data_format="NHWC",
    )  # fmt: skip
    x = source()
    # TF's SAME puts the odd padding row at the end
    padded = np.pad(x, ((0, 0), (0, 1), (1, 1), (0, 0))) if padding == "SAME" else x
    expected = activation(np_conv(padded, w, stride) + b)
    np.testing.assert_allclose(graph.run("conv", x), expected, atol=1e-4)


def test_fused_depthwise_conv_with_multiplier_matches_numpy() -> None:
    graph = Graph()
    w = graph.const("w", RNG.normal(0, 1, (3, 3, 3, 2)), quantized=True)
    b = graph.const("b", RNG.normal(0, 1, 6), quantized=True)
    graph.add(
        "dw", "FusedDepthwiseConv2dNative", "src", "w", "b", fused_ops=["BiasAdd", "Relu"],
        padding="VALID", strides=[1, 2, 2, 1], num_args=1,
    )  # fmt: skip
    x = source()
    expected = np.maximum(np_depthwise(x, w, 2) + b, 0)
    np.testing.assert_allclose(graph.run("dw", x), expected, atol=1e-4)


def test_space_to_batch_depthwise_batch_to_space_is_a_dilated_conv() -> None:
    graph = Graph()
    w = graph.const("w", RNG.normal(0, 1, (3, 3, 3, 1)))
    graph.const("block", [2, 2])
    graph.const("paddings", [[0, 1], [0, 1]])  # 9x11 rounded up to 10x12
    graph.add("s2b", "SpaceToBatchND", "src", "block", "paddings")
    graph.add("dw", "DepthwiseConv2dNative", "s2b", "w", padding="VALID", strides=[1, 1, 1, 1])
    graph.add("b2s", "BatchToSpaceND", "dw", "block", "paddings")
    x = source()
    np.testing.assert_allclose(graph.run("b2s", x), np_depthwise(x, w, 1, 2), atol=1e-4)


def test_space_to_batch_whose_crops_do_not_undo_the_paddings_is_refused() -> None:
    graph = Graph()
    graph.const("w", RNG.normal(0, 1, (3, 3, 3, 1)))
    graph.const("block", [2, 2])
    graph.const("paddings", [[0, 1], [0, 1]])
    graph.const("crops", [[0, 0], [0, 1]])
    graph.add("s2b", "SpaceToBatchND", "src", "block", "paddings")
    graph.add("dw", "DepthwiseConv2dNative", "s2b", "w", padding="VALID", strides=[1, 1, 1, 1])
    graph.add("b2s", "BatchToSpaceND", "dw", "block", "crops")
    with pytest.raises(ModelError, match="crops"):
        convert(*graph.files("b2s"))


# ---- control flow and shape arithmetic -----------------------------------------------------


@pytest.mark.parametrize(("ratio", "factor"), [(1.0, 1.0), (0.5, 2.0)])
def test_switch_merge_keeps_only_the_branch_the_fixed_ratio_takes(
    ratio: float, factor: float
) -> None:
    graph = Graph()
    graph.const("one", 1.0)
    graph.const("two", 2.0)
    graph.add("is_one", "Equal", "downsample_ratio", "one")
    graph.add("switch", "Switch", "src", "is_one")
    graph.add("then", "Identity", "switch:1")
    graph.add("else", "Mul", "switch", "two")
    graph.add("merge", "Merge", "then", "else", N=2)
    x = source()
    np.testing.assert_allclose(graph.run("merge", x, downsample_ratio=ratio), x * factor)


@pytest.mark.parametrize(
    ("align", "half"),
    [
        pytest.param(False, True, id="half-pixel-centers"),
        pytest.param(True, False, id="align-corners"),
        pytest.param(False, False, id="asymmetric"),
    ],
)
def test_resize_to_a_size_computed_from_the_input_shape_follows_tf(align: bool, half: bool) -> None:
    """Shape → StridedSlice → Cast → Mul → Cast → Pack: size = 1.5 × input, at run time."""
    graph = Graph()
    for name, value in {"b": [1], "e": [2], "b2": [2], "e2": [3], "s": [1], "k": 1.5}.items():
        graph.const(name, value)
    graph.add("shape", "Shape", "src", out_type={"type": "DT_INT32"})
    graph.add("h", "StridedSlice", "shape", "b", "e", "s", shrink_axis_mask=1)
    graph.add("w", "StridedSlice", "shape", "b2", "e2", "s", shrink_axis_mask=1)
    for dim in ("h", "w"):
        graph.add(f"{dim}f", "Cast", dim, DstT={"type": "DT_FLOAT"})
        graph.add(f"{dim}s", "Mul", f"{dim}f", "k")
        graph.add(f"{dim}i", "Cast", f"{dim}s", DstT={"type": "DT_INT32"})
    graph.add("size", "Pack", "hi", "wi", N=2, axis=0)
    graph.add("up", "ResizeBilinear", "src", "size", align_corners=align, half_pixel_centers=half)
    model = convert(*graph.files("up"))
    for height, width in ((6, 10), (9, 7)):  # one model, two sizes: H and W are dynamic
        x = source(height, width)
        got = run_onnx(model, x)[0].transpose(0, 2, 3, 1)
        expected = np_resize(x, (int(height * 1.5), int(width * 1.5)), align, half)
        np.testing.assert_allclose(got, expected, atol=1e-5)


# ---- the remaining ops, one line each ------------------------------------------------------


def op_table() -> list[Any]:
    """(graph builder, numpy expectation) rows over a 9x11x3 source."""

    def mean(g: Graph) -> None:
        g.const("axes", [1, 2])
        g.add("out", "Mean", "src", "axes", keep_dims=True)

    def avg_pool(g: Graph) -> None:
        g.add("out", "AvgPool", "src", ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")

    def pad(g: Graph) -> None:
        g.const("p", [[0, 0], [1, 2], [0, 1], [0, 0]])
        g.add("out", "Pad", "src", "p")

    def concat_split(g: Graph) -> None:
        g.const("axis", 3)
        g.add("twice", "Square", "src")
        g.add("cat", "ConcatV2", "src", "twice", "axis", N=2)  # 6 channels
        g.add("out", "Split", "axis", "cat", num_split=3)

    def split_v(g: Graph) -> None:
        g.const("sizes", [1, 2])
        g.const("axis", -1)
        g.add("out", "SplitV", "src", "sizes", "axis", num_split=2)

    def slice_to_end(g: Graph) -> None:
        g.const("begin", [0, 2, 1, 1])
        g.const("size", [-1, 3, -1, 1])
        g.add("out", "Slice", "src", "begin", "size")

    def arithmetic(g: Graph) -> None:
        g.const("c", [0.25, 0.5, 2.0])
        g.const("lo", 0.2)
        g.const("hi", 0.7)
        g.add("sig", "Sigmoid", "src")
        g.add("tanh", "Tanh", "src")
        g.add("sub", "Sub", "sig", "tanh")
        g.add("div", "RealDiv", "sub", "c")
        g.add("plus", "AddV2", "div", "src")
        g.add("clip", "Minimum", "plus", "hi")
        g.add("out", "Maximum", "clip", "lo")

    def broadcast(g: Graph) -> None:
        g.const("row", [[[[1.0, 2.0, 3.0]]]])
        g.add("shape", "Shape", "src", out_type={"type": "DT_INT32"})
        g.add("wide", "BroadcastTo", "row", "shape")
        g.const("six", 6.0)
        g.add("big", "Mul", "wide", "src")
        g.add("out", "Relu6", "big")

    def last_dim(g: Graph) -> None:
        g.const("b", [-1])
        g.const("e", [0])
        g.const("s", [1])
        g.add("shape", "Shape", "src", out_type={"type": "DT_INT32"})
        g.add("channels", "StridedSlice", "shape", "b", "e", "s", shrink_axis_mask=1)
        g.add("factor", "Cast", "channels", DstT={"type": "DT_FLOAT"})
        g.add("out", "Mul", "src", "factor")

    def sigmoid(x: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-x))

    c = np.array([0.25, 0.5, 2.0])
    return [
        pytest.param(mean, "out", lambda x: x.mean((1, 2), keepdims=True), id="Mean"),
        pytest.param(avg_pool, "out", lambda x: np_avg_pool_same(x, 2), id="AvgPool-SAME"),
        pytest.param(pad, "out", lambda x: np.pad(x, ((0, 0), (1, 2), (0, 1), (0, 0))), id="Pad"),
        pytest.param(
            concat_split,
            "out:1",
            lambda x: np.concatenate([x, x * x], 3)[..., 2:4],
            id="ConcatV2-Split",
        ),
        pytest.param(split_v, "out:1", lambda x: x[..., 1:], id="SplitV"),
        pytest.param(slice_to_end, "out", lambda x: x[:, 2:5, 1:, 1:2], id="Slice"),
        pytest.param(
            arithmetic,
            "out",
            lambda x: np.clip((sigmoid(x) - np.tanh(x)) / c + x, 0.2, 0.7),
            id="elementwise",
        ),
        pytest.param(last_dim, "out", lambda x: x * 3, id="StridedSlice-last"),
        pytest.param(broadcast, "out", lambda x: np.clip(x * [1, 2, 3], 0, 6), id="BroadcastTo"),
    ]


@pytest.mark.parametrize(("build", "output", "expected"), op_table())
def test_op_matches_its_numpy_definition(build: Any, output: str, expected: Any) -> None:
    graph = Graph()
    build(graph)
    x = source() * 4 - 2
    np.testing.assert_allclose(graph.run(output, x), expected(x), atol=1e-5)


# ---- rewrites for onnxruntime's speed, each against numpy -----------------------------------


def initializer_shapes(model: bytes) -> list[list[int]]:
    return [list(t.dims) for t in onnx.load_from_string(model).graph.initializer]


def op_types(model: bytes) -> list[str]:
    return [n.op_type for n in onnx.load_from_string(model).graph.node]


def test_hard_swish_becomes_x_times_hard_sigmoid() -> None:
    """TF's x / 6 * relu6(x + 3); inputs reach both ends of the clip."""
    graph = Graph()
    graph.const("sixth", 1 / 6)
    graph.const("three", 3.0)
    graph.add("scaled", "Mul", "sixth", "src")
    graph.add("shifted", "AddV2", "src", "three")
    graph.add("clipped", "Relu6", "shifted")
    graph.add("out", "Mul", "scaled", "clipped")
    model = convert(*graph.files("out"))
    assert "HardSigmoid" in op_types(model) and "Clip" not in op_types(model)
    x = source() * 10 - 5
    got = run_onnx(model, x)[0].transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got, x * np.clip(x + 3, 0, 6) / 6, atol=1e-6)


def concat_conv_graph(extra_channels: int) -> tuple[Graph, Any]:
    """1x1 conv src → 16 + extra channels, Concat with src, then a fused 3x3 SAME conv + Relu."""
    graph = Graph()
    first = 16 + extra_channels
    w1 = graph.const("w1", RNG.normal(0, 1, (1, 1, 3, first)))
    w2 = graph.const("w2", RNG.normal(0, 1, (3, 3, first + 3, 5)), quantized=True)
    b = graph.const("b", RNG.normal(0, 1, 5))
    graph.const("axis", 3)
    graph.add("a", "Conv2D", "src", "w1", padding="VALID", strides=[1, 1, 1, 1])
    graph.add("cat", "ConcatV2", "a", "src", "axis", N=2)
    graph.add(
        "conv", "_FusedConv2D", "cat", "w2", "b", fused_ops=["BiasAdd", "Relu"], padding="SAME",
        strides=[1, 1, 1, 1], num_args=1,
    )  # fmt: skip

    def expected(x: np.ndarray) -> np.ndarray:
        cat = np.concatenate([np_conv(x, w1), x], 3)
        return np.maximum(np_conv(np.pad(cat, ((0, 0), (1, 1), (1, 1), (0, 0))), w2) + b, 0)

    return graph, expected


def test_conv_on_concat_with_a_small_last_part_is_two_convs_summed() -> None:
    """16 + 3 channels: a conv on the 16, a conv on the 3, added; any size still works."""
    graph, expected = concat_conv_graph(0)
    model = convert(*graph.files("conv"))
    weights = [shape for shape in initializer_shapes(model) if len(shape) == 4]
    assert [5, 16, 3, 3] in weights and [5, 3, 3, 3] in weights
    for height, width in ((9, 11), (6, 10)):
        x = source(height, width)
        got = run_onnx(model, x)[0].transpose(0, 2, 3, 1)
        np.testing.assert_allclose(got, expected(x), atol=1e-4)


def test_conv_on_concat_of_unaligned_parts_gets_zero_channels_up_to_a_block() -> None:
    """20 + 3 channels: neither split nor aligned, so padded to 32 with zero weights."""
    graph, expected = concat_conv_graph(4)
    model = convert(*graph.files("conv"))
    assert [5, 32, 3, 3] in initializer_shapes(model)
    x = source()
    np.testing.assert_allclose(graph.run("conv", x), expected(x), atol=1e-4)


def test_broadcast_of_a_state_to_its_own_shape_is_dropped() -> None:
    graph = Graph()
    graph.const("two", 2.0)
    graph.add("shape", "Shape", "r2i", out_type={"type": "DT_INT32"})
    graph.add("wide", "BroadcastTo", "r2i", "shape")
    graph.add("out", "Mul", "wide", "two")
    model = convert(*graph.files("out"))
    assert "Expand" not in op_types(model)
    x = source(16, 24)
    states = [RNG.random(zero_state(16, 24, name).shape, dtype=np.float32) for name in STATES]
    np.testing.assert_allclose(run_onnx(model, x, states)[0], states[1] * 2)


def test_resize_to_twice_the_input_size_uses_constant_scales() -> None:
    """size = Shape(x)[1:3] * 2, as RVM's decoder upsamples: a Resize with scales, no Shape."""
    graph = Graph()
    for name, value in {"b": [1], "e": [3], "s": [1], "k": [2, 2]}.items():
        graph.const(name, value)
    graph.add("shape", "Shape", "src", out_type={"type": "DT_INT32"})
    graph.add("hw", "StridedSlice", "shape", "b", "e", "s")
    graph.add("size", "Mul", "hw", "k")
    graph.add("up", "ResizeBilinear", "src", "size", half_pixel_centers=True)
    model = convert(*graph.files("up"))
    resizes = [n for n in onnx.load_from_string(model).graph.node if n.op_type == "Resize"]
    assert len(resizes) == 1 and len(resizes[0].input) == 3 and "Shape" not in op_types(model)
    for height, width in ((9, 11), (6, 10)):
        x = source(height, width)
        got = run_onnx(model, x)[0].transpose(0, 2, 3, 1)
        expected = np_resize(x, (2 * height, 2 * width), align=False, half=True)
        np.testing.assert_allclose(got, expected, atol=1e-5)


# ---- refusals ------------------------------------------------------------------------------


def conv_graph() -> Graph:
    graph = Graph()
    graph.const("w", RNG.normal(0, 1, (1, 1, 3, 2)), quantized=True)
    graph.add("conv", "Conv2D", "src", "w", padding="VALID", strides=[1, 1, 1, 1])
    return graph


def refusal_table() -> list[Any]:
    def unknown_op() -> tuple[bytes, bytes]:
        graph = conv_graph()
        graph.add("erf", "Erf", "conv")
        return graph.files("erf")

    def bad_quantization() -> tuple[bytes, bytes]:
        graph_json, weights = conv_graph().files("conv")
        model = json.loads(graph_json)
        model["weightsManifest"][0]["weights"][0]["quantization"]["dtype"] = "int4"
        return json.dumps(model).encode(), weights

    def unknown_fusion() -> tuple[bytes, bytes]:
        graph = Graph()
        graph.const("w", np.ones((1, 1, 3, 2)))
        graph.const("b", np.ones(2))
        graph.add(
            "conv", "_FusedConv2D", "src", "w", "b", fused_ops=["BiasAdd", "Sigmoid"],
            padding="VALID", strides=[1, 1, 1, 1], num_args=1,
        )  # fmt: skip
        return graph.files("conv")

    def missing_entry() -> tuple[bytes, bytes]:
        graph = conv_graph()
        graph.add("orphan", "Const")
        graph.add("sum", "AddV2", "conv", "orphan")
        return graph.files("sum")

    graph_json, weights = conv_graph().files("conv")
    return [
        pytest.param(unknown_op, "'erf' (Erf): unsupported op", id="unknown-op"),
        pytest.param(bad_quantization, "unsupported quantization", id="bad-quantization"),
        pytest.param(unknown_fusion, "'BiasAdd', 'Sigmoid'", id="unknown-fusion"),
        pytest.param(missing_entry, "'orphan' (Const): no weights manifest", id="no-entry"),
        pytest.param(lambda: (graph_json, weights[:-1]), "too short for 'w'", id="truncated"),
        pytest.param(lambda: (graph_json, weights + b"\0"), "the manifest needs 6", id="long"),
        pytest.param(lambda: (graph_json[:-9], weights), "JSON is malformed", id="bad-json"),
        pytest.param(lambda: (b'{"format": 1}', weights), "KeyError", id="no-topology"),
    ]


@pytest.mark.parametrize(("files", "named"), refusal_table())
def test_bad_model_is_refused_with_one_line_naming_the_problem(files: Any, named: str) -> None:
    with pytest.raises(ModelError) as raised:
        convert(*files())
    message = str(raised.value)
    assert named in message
    assert "\n" not in message


# ---- the real model against TensorFlow -----------------------------------------------------


@pytest.fixture(scope="session")
def rvm_model() -> bytes:
    json_path, bin_path = cache_dir() / "rvm.json", cache_dir() / "rvm.bin"
    if not (json_path.exists() and bin_path.exists()):
        pytest.skip("RVM is not cached; get it with: vbgcam models pull rvm")
    return convert(json_path.read_bytes(), bin_path.read_bytes())


@pytest.mark.parametrize("size", [f"{w}x{h}" for w, h in rvm_reference.SIZES])
def test_rvm_matches_tensorflow_over_consecutive_frames(rvm_model: bytes, size: str) -> None:
    """States carried from zeros over three frames; 200x120 is not a multiple of 16."""
    reference = np.load(Path(rvm_reference.__file__).parent.parent / "models" / "rvm_reference.npz")
    frames, expected = reference[f"{size}_rgb"], reference[f"{size}_pha"]
    _, height, width, _ = frames.shape
    states = [zero_state(height, width, name) for name in STATES]
    for rgb, pha_255 in zip(frames, expected, strict=True):
        pha, *states = run_onnx(rvm_model, rgb[None].astype(np.float32) / 255, states)
        assert pha.shape == (1, 1, height, width)
        got = np.round(np.clip(pha[0, 0], 0, 1) * 255).astype(np.int16)
        assert np.abs(got - pha_255).max() <= rvm_reference.PHA_TOLERANCE
        assert 0.05 < pha.mean() < 0.95  # a person and a background, not a blank matte
    for state, name in zip(states, STATES, strict=True):
        assert state.shape == zero_state(height, width, name).shape


def test_rvm_model_is_valid_onnx_with_symbolic_height_and_width(rvm_model: bytes) -> None:
    model = onnx.load_from_string(rvm_model)
    onnx.checker.check_model(model, full_check=True)
    dims = {
        value.name: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        for value in [*model.graph.input, *model.graph.output]
    }
    assert dims["src"] == [1, 3, "height", "width"]
    assert dims["r4i"] == dims["r4o"] == [1, 64, "height_16", "width_16"]
    assert dims["pha"] == [1, 1, "height", "width"]
    assert "fgr" not in dims and "downsample_ratio" not in dims


def test_converter_version_is_a_positive_int() -> None:
    assert isinstance(CONVERTER_VERSION, int) and CONVERTER_VERSION >= 1
