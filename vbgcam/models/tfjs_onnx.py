"""Turns a TFJS graph model (Robust Video Matting's) into one ONNX model, without TensorFlow.

RVM is published for the browser as a TFJS graph model: a TensorFlow GraphDef written as JSON
plus a weights file, partly uint8-quantised. vbgcam runs models with onnxruntime (or OpenCV's
DNN module), and installing TensorFlow to convert one file is out of proportion, so this module
rebuilds the graph with numpy and the ``onnx`` package only.

What it promises:

- ``convert(graph_json, weights)`` returns a serialized ONNX model (opset 13) whose inputs are
  ``src`` [1, 3, H, W] float32 RGB in 0..1 and the recurrent states ``r1i``..``r4i``, NCHW
  float32 [1, 16, ⌈H/2⌉, ⌈W/2⌉], [1, 20, ⌈H/4⌉, ⌈W/4⌉], [1, 40, ⌈H/8⌉, ⌈W/8⌉],
  [1, 64, ⌈H/16⌉, ⌈W/16⌉] (zeros for the first frame), and whose outputs are ``pha``
  [1, 1, H, W] and ``r1o``..``r4o`` (the next frame's states). H and W stay dynamic: the
  graph's own shape arithmetic is kept, so one conversion serves every input size.
- ``downsample_ratio`` is fixed at conversion time; the graph's Switch/Merge conditionals on
  it are resolved then, and only the branch taken is kept. ``fgr`` is dropped.
- Fused convolutions are split back into Conv, bias and activation; TF's atrous
  ``SpaceToBatchND → depthwise → BatchToSpaceND`` chains become one dilated Conv.
- Anything not understood (an op, attribute value, dtype, quantisation, a short weights
  file, malformed JSON) raises ``ConversionError`` with one line naming it; nothing is
  guessed.

Layout: TF computes in NHWC; every Conv, AvgPool and Resize is wrapped in the two Transposes
to and from NCHW, and adjacent pairs are cancelled here. onnxruntime's transpose optimizer
pushes the remaining ones through the elementwise ops between convolutions.

Speed: onnxruntime (one thread, AVX-512) runs convolutions fastest in its NCHWc layout, blocks
of 16 channels, and falls back to a much slower plain kernel for a conv whose input channels
are neither below 16 nor a multiple of 16. So, with outputs equal up to float rounding:

- a conv on a channel Concat of such a count is split in two, a conv on the block-aligned
  parts plus a conv on a last part of under 16 channels, summed (RVM's final decoder block);
  failing that, the Concat's last part gets zero channels, and the conv zero weights, up to
  the next multiple of 16 (the other decoder blocks, which append the 3-channel image);
- hard-swish, spelled out by TF as Add, Relu6 and two Muls, becomes ``x * HardSigmoid(x)``,
  which onnxruntime fuses into the conv before it;
- ``BroadcastTo`` of a recurrent-state input is dropped: its target is the input's own
  declared shape, and the Expand only blocked the transpose optimizer;
- a Resize to twice the input's own size gets constant scales, not run-time sizes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vbgcam.errors import ModelError
from vbgcam.models.converter_version import CONVERTER_VERSION as CONVERTER_VERSION

OPSET = 13
IR_VERSION = 8  # opset 13's IR; readable by onnxruntime and OpenCV alike
NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)
STATE_CHANNELS = {"r1i": 16, "r2i": 20, "r3i": 40, "r4i": 64}
STATE_STRIDES = {"r1i": 2, "r2i": 4, "r3i": 8, "r4i": 16}
OUTPUTS = ("pha", "r1o", "r2o", "r3o", "r4o")
WEIGHT_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
QUANT_DTYPES = {"uint8": np.uint8, "uint16": np.uint16}
TF_DTYPES = {"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_BOOL": np.bool_}
INT64_MAX = np.iinfo(np.int64).max


class ConversionError(ModelError):
    """A TFJS model this converter cannot rebuild faithfully; the message names what."""


@dataclass(frozen=True)
class Dynamic:
    """A tensor known only at run time: the ONNX value ``name``; integers are int64 there."""

    name: str


@dataclass(frozen=True)
class Dead:
    """The output of a Switch branch not taken, and of every op fed by one."""


@dataclass(frozen=True)
class SpaceToBatch:
    """``SpaceToBatchND`` of ``value``: only valid as the input of a following convolution."""

    value: Dynamic
    block: tuple[int, int]
    paddings: np.ndarray | None  # None when computed at run time from the input's shape


@dataclass(frozen=True)
class Batched:
    """The dilated convolution standing for a conv on a ``SpaceToBatch``, awaiting its
    ``BatchToSpaceND``."""

    value: Dynamic
    block: tuple[int, int]
    paddings: np.ndarray | None


Value = np.ndarray | Dynamic | Dead | SpaceToBatch | Batched
DEAD = Dead()


@dataclass
class Node:
    """One GraphDef node: its op, data inputs as (node, port), and raw JSON attrs."""

    name: str
    op: str
    inputs: list[tuple[str, int]]
    attr: dict[str, Any]

    def attr_value(self, key: str, kind: str, default: Any = None) -> Any:
        entry = self.attr.get(key)
        if entry is None or kind not in entry:
            if default is None:
                raise ConversionError(f"node {self.name!r} ({self.op}) lacks attribute {key!r}")
            return default
        return entry[kind]

    def int_attr(self, key: str, default: int | None = None) -> int:
        return int(self.attr_value(key, "i", default))

    def bool_attr(self, key: str, default: bool | None = None) -> bool:
        return bool(self.attr_value(key, "b", default))

    def str_attr(self, key: str, default: str | None = None) -> str:
        raw = self.attr_value(key, "s", None if default is None else "")
        return base64.b64decode(raw).decode() if raw else (default or "")

    def ints_attr(self, key: str) -> list[int]:
        return [int(i) for i in self.attr_value(key, "list", {}).get("i", [])]

    def strs_attr(self, key: str) -> list[str]:
        items = self.attr_value(key, "list", {}).get("s", [])
        return [base64.b64decode(s).decode() for s in items]

    def fail(self, problem: str) -> ConversionError:
        return ConversionError(f"node {self.name!r} ({self.op}): {problem}")


class Builder:
    """Collects ONNX nodes and initializers; turns constants into initializers on demand."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.count = 0
        # NHWC value name -> the NCHW value it is a Transpose of, to cancel pairs.
        self.nchw_of: dict[str, str] = {}
        self.nhwc_of: dict[str, str] = {}
        # NHWC value name -> the parts of the channel Concat that made it
        self.channel_concats: dict[str, list[str]] = {}
        self.states: set[str] = set()  # the NHWC names of the r1i..r4i inputs
        self.channels: dict[str, int] = {}  # NHWC value name -> channel count, where known
        self.made_by: dict[str, onnx.NodeProto] = {}
        self.spatial_names: dict[str, tuple[str, str]] = {}  # NHWC name -> symbolic H, W
        self.value_info: list[onnx.ValueInfoProto] = []
        # The TF node being converted: every ONNX node made for it is named after it, so
        # later steps (quantization) can tell the encoder from the decoder.
        self.source = ""

    def fresh(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def emit(self, op: str, inputs: Sequence[str], outputs: int = 1, **attrs: Any) -> list[str]:
        names = [self.fresh(op.lower()) for _ in range(outputs)]
        label = f"{self.source}:{names[0]}" if self.source else names[0]
        made = helper.make_node(op, list(inputs), names, name=label, **attrs)
        self.nodes.append(made)
        self.made_by.update((name, made) for name in names)
        return names

    def one(self, op: str, inputs: Sequence[str], **attrs: Any) -> str:
        return self.emit(op, inputs, 1, **attrs)[0]

    def const(self, array: np.ndarray | float | int | Sequence[int]) -> str:
        value = np.asarray(array)
        if value.dtype.kind in "iu":
            value = value.astype(np.int64)
        elif value.dtype.kind == "f":
            value = value.astype(np.float32)
        name = self.fresh("const")
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def name(self, value: Value, node: Node) -> str:
        """The ONNX name of ``value``, making an initializer of a constant."""
        if isinstance(value, np.ndarray):
            return self.const(value)
        if isinstance(value, Dynamic):
            return value.name
        raise node.fail(f"cannot use a {type(value).__name__} value here")

    def to_nchw(self, nhwc: str) -> str:
        if nhwc in self.nchw_of:
            return self.nchw_of[nhwc]
        nchw = self.one("Transpose", [nhwc], perm=NHWC_TO_NCHW)
        self.nchw_of[nhwc], self.nhwc_of[nchw] = nchw, nhwc
        return nchw

    def to_nhwc(self, nchw: str) -> str:
        if nchw in self.nhwc_of:
            return self.nhwc_of[nchw]
        nhwc = self.one("Transpose", [nchw], perm=NCHW_TO_NHWC)
        self.nchw_of[nhwc], self.nhwc_of[nchw] = nchw, nhwc
        return nhwc


Handler = Callable[[Builder, Node, list[Value]], list[Value]]
HANDLERS: dict[str, Handler] = {}


def handles(*ops: str) -> Callable[[Handler], Handler]:
    """Registers a handler for the TF ops ``ops``."""

    def register(handler: Handler) -> Handler:
        for op in ops:
            HANDLERS[op] = handler
        return handler

    return register


def const_input(node: Node, value: Value, what: str) -> np.ndarray:
    """``value`` when it is known at conversion time; shapes, axes and sizes must be."""
    if not isinstance(value, np.ndarray):
        raise node.fail(f"{what} must be a constant")
    return value


# ---- elementwise -------------------------------------------------------------------------

BINARY: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    "Add": ("Add", np.add),
    "AddV2": ("Add", np.add),
    "Sub": ("Sub", np.subtract),
    "Mul": ("Mul", np.multiply),
    "RealDiv": ("Div", np.divide),
    "Minimum": ("Min", np.minimum),
    "Maximum": ("Max", np.maximum),
    "Equal": ("Equal", np.equal),
    "FloorMod": ("Mod", np.mod),
}


@handles(*BINARY)
def binary(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    onnx_op, numpy_op = BINARY[node.op]
    left, right = inputs
    if isinstance(left, np.ndarray) and isinstance(right, np.ndarray):
        return [np.asarray(numpy_op(left, right)).astype(np.result_type(left, right))]
    if node.op == "FloorMod" and TF_DTYPES.get(node.attr_value("T", "type")) is not np.int32:
        raise node.fail("FloorMod is only converted for int32")  # ONNX float Mod is C fmod
    return [Dynamic(builder.one(onnx_op, [builder.name(left, node), builder.name(right, node)]))]


UNARY: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "Sigmoid": ("Sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    "Tanh": ("Tanh", np.tanh),
    "Relu": ("Relu", lambda x: np.maximum(x, 0)),
    "Square": ("Square", np.square),
    "Relu6": ("Relu6", lambda x: np.clip(x, 0, 6)),
}


@handles(*UNARY)
def unary(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    onnx_op, numpy_op = UNARY[node.op]
    (value,) = inputs
    if isinstance(value, np.ndarray):
        return [numpy_op(value).astype(value.dtype)]
    return [Dynamic(activation(builder, onnx_op, builder.name(value, node)))]


def activation(builder: Builder, op: str, name: str) -> str:
    """``op`` applied to ``name``; Relu6 and Square have no ONNX op of their own."""
    if op == "Relu6":
        return builder.one("Clip", [name, builder.const(0.0), builder.const(6.0)])
    if op == "Square":
        return builder.one("Mul", [name, name])
    return builder.one(op, [name])


@handles("Cast")
def cast(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    dst = str(node.attr_value("DstT", "type"))
    if dst not in TF_DTYPES:
        raise node.fail(f"cast to {dst} is not converted")
    (value,) = inputs
    if isinstance(value, np.ndarray):
        return [value.astype(TF_DTYPES[dst])]
    onnx_type = {"DT_FLOAT": TensorProto.FLOAT, "DT_INT32": TensorProto.INT64}.get(dst)
    if onnx_type is None:
        raise node.fail(f"cast to {dst} at run time is not converted")
    return [Dynamic(builder.one("Cast", [builder.name(value, node)], to=onnx_type))]


@handles("Identity")
def identity(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    return [inputs[0]]


# ---- control flow ------------------------------------------------------------------------


@handles("Switch")
def switch(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    """Port 0 carries the data when the predicate is false, port 1 when it is true."""
    data, predicate = inputs
    taken = bool(const_input(node, predicate, "the predicate (fix downsample_ratio)").all())
    return [DEAD, data] if taken else [data, DEAD]


@handles("Merge")
def merge(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    live = [(i, value) for i, value in enumerate(inputs) if not isinstance(value, Dead)]
    if len(live) != 1:
        raise node.fail(f"{len(live)} live inputs; expected exactly one")
    index, value = live[0]
    return [value, np.array(index, np.int32)]


# ---- shapes ------------------------------------------------------------------------------


@handles("Shape")
def shape(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    (value,) = inputs
    if isinstance(value, np.ndarray):
        return [np.array(value.shape, np.int32)]
    return [Dynamic(builder.one("Shape", [builder.name(value, node)]))]


@handles("StridedSlice")
def strided_slice(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    for mask in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask"):
        if node.int_attr(mask, 0):
            raise node.fail(f"{mask} is not converted")
    value, *bounds = inputs
    begin, end, strides = (
        const_input(node, b, "begin/end/strides").astype(np.int64) for b in bounds
    )
    shrink = node.int_attr("shrink_axis_mask", 0)
    shrunk = [axis for axis in range(len(begin)) if shrink >> axis & 1]
    end = np.array(
        [b + 1 if axis in shrunk else e for axis, (b, e) in enumerate(zip(begin, end, strict=True))]
    )
    end = np.where((end == 0) & (begin < 0), INT64_MAX, end)  # x[-1:0] means "to the end"
    if isinstance(value, np.ndarray):
        index = tuple(
            slice(b, None if e == INT64_MAX else e, s)
            for b, e, s in zip(begin, end, strides, strict=True)
        )
        return [value[index].squeeze(tuple(shrunk)) if shrunk else value[index]]
    axes = np.arange(len(begin))
    parts = [builder.name(value, node), *(builder.const(a) for a in (begin, end, axes, strides))]
    sliced = builder.one("Slice", parts)
    if shrunk:
        sliced = builder.one("Squeeze", [sliced, builder.const(shrunk)])
    return [Dynamic(sliced)]


@handles("Pack")
def pack(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    axis = node.int_attr("axis", 0)
    if all(isinstance(value, np.ndarray) for value in inputs):
        return [np.stack([np.asarray(value) for value in inputs], axis)]
    if axis < 0:
        raise node.fail("a negative Pack axis on run-time values is not converted")
    axes = builder.const([axis])
    parts = [builder.one("Unsqueeze", [builder.name(value, node), axes]) for value in inputs]
    return [Dynamic(builder.one("Concat", parts, axis=axis))]


@handles("ConcatV2")
def concat(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    *values, axis_value = inputs
    axis = int(const_input(node, axis_value, "the axis"))
    if all(isinstance(value, np.ndarray) for value in values):
        return [np.concatenate([np.asarray(value) for value in values], axis)]
    parts = [builder.name(v, node) for v in values]
    joined = builder.one("Concat", parts, axis=axis)
    if axis in (3, -1):
        builder.channel_concats[joined] = parts
    return [Dynamic(joined)]


@handles("Squeeze")
def squeeze(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    (value,) = inputs
    dims = node.ints_attr("squeeze_dims")
    if isinstance(value, np.ndarray):
        return [value.squeeze(tuple(dims)) if dims else value.squeeze()]
    if not dims:
        raise node.fail("squeezing every unit axis of a run-time value is not converted")
    return [Dynamic(builder.one("Squeeze", [builder.name(value, node), builder.const(dims)]))]


@handles("BroadcastTo")
def broadcast_to(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    value, target = inputs
    if isinstance(value, Dynamic) and value.name in builder.states:
        return [value]  # the inputs' declared shape is the target: an Expand would only copy
    return [Dynamic(builder.one("Expand", [builder.name(value, node), builder.name(target, node)]))]


@handles("Slice")
def slice_(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    """TF's size -1 means "to the end"; ONNX wants end positions."""
    value, begin, size = (builder.name(v, node) for v in inputs)
    ends = builder.one("Add", [begin, size])
    to_end = builder.one("Equal", [size, builder.const(-1)])
    ends = builder.one("Where", [to_end, builder.const(INT64_MAX), ends])
    return [Dynamic(builder.one("Slice", [value, begin, ends]))]


@handles("Split")
def split(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    axis_value, value = inputs
    axis = int(const_input(node, axis_value, "the split axis"))
    count = node.int_attr("num_split")
    return [
        Dynamic(n) for n in builder.emit("Split", [builder.name(value, node)], count, axis=axis)
    ]


@handles("SplitV")
def split_v(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    value, sizes_value, axis_value = inputs
    sizes = const_input(node, sizes_value, "the split sizes")
    axis = int(const_input(node, axis_value, "the split axis"))
    if (sizes < 0).any():
        raise node.fail("a -1 split size is not converted")
    parts = [builder.name(value, node), builder.const(sizes)]
    return [Dynamic(n) for n in builder.emit("Split", parts, len(sizes), axis=axis)]


@handles("Pad")
def pad(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    value, paddings_value = inputs
    paddings = const_input(node, paddings_value, "the paddings")
    pads = np.concatenate([paddings[:, 0], paddings[:, 1]])
    return [Dynamic(builder.one("Pad", [builder.name(value, node), builder.const(pads)]))]


@handles("Mean")
def mean(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    value, axes_value = inputs
    axes = [int(a) for a in np.atleast_1d(const_input(node, axes_value, "the axes"))]
    keep = int(node.bool_attr("keep_dims", False))
    reduced = builder.one("ReduceMean", [builder.name(value, node)], axes=axes, keepdims=keep)
    return [Dynamic(reduced)]


# ---- images: convolution, pooling, resizing ----------------------------------------------


def check_nhwc(node: Node) -> None:
    if node.str_attr("data_format", "NHWC") != "NHWC":
        raise node.fail(f"data_format {node.str_attr('data_format')} is not converted")


def spatial(node: Node, key: str) -> tuple[int, int]:
    """The H and W entries of an NHWC list attribute (strides, dilations, ksize)."""
    values = node.ints_attr(key) or [1, 1, 1, 1]
    if len(values) != 4 or values[0] != 1 or values[3] != 1:
        raise node.fail(f"{key} {values} is not converted")
    return values[1], values[2]


def same_pads(node: Node, kernel: Sequence[int], dilations: Sequence[int]) -> list[int]:
    """TF's SAME padding at stride 1: the extra pixel, if any, goes at the end."""
    totals = [d * (k - 1) for k, d in zip(kernel, dilations, strict=True)]
    return [t // 2 for t in totals] + [t - t // 2 for t in totals]


FUSED_ACTIVATIONS = {(): None, ("Relu",): "Relu", ("Relu6",): "Relu6", ("Elu",): "Elu"}


@handles("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative")
def conv(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    """Conv (plain, depthwise, fused with BiasAdd and an activation, or atrous) in NCHW."""
    check_nhwc(node)
    value, filter_value, *args = inputs
    filters = const_input(node, filter_value, "the filter").astype(np.float32)
    depthwise = "Depthwise" in node.op
    fused = node.strs_attr("fused_ops") if node.op.startswith(("_Fused", "Fused")) else []
    if (fused and fused[0] != "BiasAdd") or tuple(fused[1:]) not in FUSED_ACTIVATIONS:
        raise node.fail(f"fused ops {fused} are not converted")
    if len(args) != (1 if fused else 0) or node.int_attr("num_host_args", 0):
        raise node.fail(f"{len(args)} extra arguments; expected {1 if fused else 0}")
    strides, dilations = spatial(node, "strides"), spatial(node, "dilations")
    padding = node.str_attr("padding")
    batched = value if isinstance(value, SpaceToBatch) else None
    if batched is not None:
        if padding != "VALID" or strides != (1, 1) or dilations != (1, 1):
            raise node.fail("atrous conv needs VALID padding, stride 1 and no dilation")
        value, dilations = batched.value, batched.block
    kh, kw, cin, cout = filters.shape
    if depthwise:
        weights = filters.reshape(kh, kw, cin * cout, 1).transpose(2, 3, 0, 1)
        group = cin
    else:
        weights, group = filters.transpose(3, 2, 0, 1), 1
    if padding == "VALID":
        pads = [0, 0, 0, 0]
    elif padding == "SAME" and strides == (1, 1):
        pads = same_pads(node, (kh, kw), dilations)
    else:
        raise node.fail(f"padding {padding} with strides {strides} is not converted")
    source = builder.name(value, node)
    conv_attrs: dict[str, Any] = {
        "strides": strides, "dilations": dilations, "pads": pads, "group": group,
        "kernel_shape": [kh, kw],
    }  # fmt: skip
    split = None if depthwise else split_small_part(builder, source, weights)
    side = None
    if split is not None:  # the small conv first, so onnxruntime can make it the Sum input
        source, weights, small, small_weights = split
        small_parts = [builder.to_nchw(small), builder.const(small_weights)]
        side = builder.one("Conv", small_parts, **conv_attrs)
    elif not depthwise:
        source, weights = pad_channels(builder, source, weights)
    parts = [builder.to_nchw(source), builder.const(weights)]
    if fused:
        parts.append(builder.const(const_input(node, args[0], "the bias").astype(np.float32)))
    out = builder.one("Conv", parts, **conv_attrs)
    if split is not None and side is not None:
        # A Concat's parts share H and W; saying so lets onnxruntime prove the two convs'
        # outputs alike in shape and fuse the sum (and the activation) into the big conv.
        spatial_dims = builder.spatial_names.get(split[2])
        if spatial_dims is not None:
            dims: list[str | int | None] = [1, int(weights.shape[0]), *spatial_dims]
            for name in (out, side):
                info = helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)
                builder.value_info.append(info)
        out = builder.one("Add", [side, out])
    act = FUSED_ACTIVATIONS[tuple(fused[1:])] if fused else None
    if act is not None:
        out = activation(builder, act, out)
    result = Dynamic(builder.to_nhwc(out))
    if batched is not None:
        return [Batched(result, batched.block, batched.paddings)]
    return [result]


NCHWC_BLOCK = 16  # onnxruntime's NCHWc block with AVX-512 (8 with AVX2 divides it)


def pad_channels(builder: Builder, source: str, weights: np.ndarray) -> tuple[str, np.ndarray]:
    """A conv on a channel Concat of more than ``NCHWC_BLOCK`` channels, not a multiple of it,
    gets zero channels appended (to its smallest part) and zero weights for them: onnxruntime
    runs such convs in its NCHWc layout, several times faster than its plain NCHW kernel."""
    cin = weights.shape[1]
    extra = -cin % NCHWC_BLOCK
    parts = builder.channel_concats.get(source)
    if parts is None or cin < NCHWC_BLOCK or not extra:
        return source, weights
    last = builder.one("Pad", [parts[-1], builder.const([0, 0, 0, 0, 0, 0, 0, extra])])
    padded = builder.one("Concat", [*parts[:-1], last], axis=3)
    return padded, np.pad(weights, ((0, 0), (0, extra), (0, 0), (0, 0)))


def split_small_part(
    builder: Builder, source: str, weights: np.ndarray
) -> tuple[str, np.ndarray, str, np.ndarray] | None:
    """A conv on a channel Concat whose last part has fewer than ``NCHWC_BLOCK`` channels and
    whose other parts fill whole blocks, as two convs summed: onnxruntime runs both in NCHWc
    (the small one reading NCHW directly) and fuses the sum, with no padded channels."""
    cin = weights.shape[1]
    parts = builder.channel_concats.get(source)
    if parts is None or not cin % NCHWC_BLOCK:
        return None
    small = builder.channels.get(parts[-1])
    if small is None or small >= NCHWC_BLOCK or (cin - small) % NCHWC_BLOCK:
        return None
    big = parts[0] if len(parts) == 2 else builder.one("Concat", parts[:-1], axis=3)
    return big, weights[:, : cin - small], parts[-1], weights[:, cin - small :]


@handles("SpaceToBatchND")
def space_to_batch(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    """Marks the start of an atrous conv. TF's ``with_space_to_batch`` pads only at the end, to
    round sizes up to the block, and the BatchToSpaceND crops the same amount again, so the
    dilated conv needs neither; constant paddings and crops are checked to be of that form."""
    value, block_value, paddings = inputs
    block = const_input(node, block_value, "the block shape")
    if block.shape != (2,) or not isinstance(value, Dynamic):
        raise node.fail(f"block shape {block.tolist()} on a 4-D run-time value is expected")
    known = paddings if isinstance(paddings, np.ndarray) else None
    if known is not None and known[:, 0].any():
        raise node.fail(f"paddings {known.tolist()} pad at the start; not converted")
    return [SpaceToBatch(value, (int(block[0]), int(block[1])), known)]


@handles("BatchToSpaceND")
def batch_to_space(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    value, block_value, crops = inputs
    block = const_input(node, block_value, "the block shape")
    if not isinstance(value, Batched) or tuple(block.tolist()) != value.block:
        raise node.fail("only SpaceToBatchND → conv → BatchToSpaceND chains are converted")
    if value.paddings is not None or isinstance(crops, np.ndarray):
        known = const_input(node, crops, "the crops (as the paddings are constant)")
        if value.paddings is None or known[:, 0].any() or (known != value.paddings).any():
            raise node.fail(f"crops {known.tolist()} do not undo the paddings")
    return [value.value]


@handles("AvgPool")
def avg_pool(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    """TF's SAME average ignores the padding, hence ``count_include_pad=0``."""
    check_nhwc(node)
    kernel, strides = spatial(node, "ksize"), spatial(node, "strides")
    padding = node.str_attr("padding")
    if padding not in ("SAME", "VALID"):
        raise node.fail(f"padding {padding} is not converted")
    auto_pad = "SAME_UPPER" if padding == "SAME" else "VALID"
    nchw = builder.to_nchw(builder.name(inputs[0], node))
    pooled = builder.one(
        "AveragePool", [nchw], kernel_shape=kernel, strides=strides, auto_pad=auto_pad,
        count_include_pad=0,
    )  # fmt: skip
    out = builder.to_nhwc(pooled)
    if nchw in builder.nhwc_of and builder.nhwc_of[nchw] in builder.channels:
        builder.channels[out] = builder.channels[builder.nhwc_of[nchw]]
    return [Dynamic(out)]


@handles("ResizeBilinear")
def resize_bilinear(builder: Builder, node: Node, inputs: list[Value]) -> list[Value]:
    """TF's three sampling grids map onto ONNX coordinate transformation modes."""
    value, size = inputs
    if node.bool_attr("align_corners", False):
        if node.bool_attr("half_pixel_centers", False):
            raise node.fail("align_corners with half_pixel_centers is invalid in TF")
        mode = "align_corners"
    else:
        mode = "half_pixel" if node.bool_attr("half_pixel_centers", False) else "asymmetric"
    nchw = builder.to_nchw(builder.name(value, node))
    factor = integer_scale(builder, builder.name(value, node), builder.name(size, node))
    if factor is not None:
        scales = builder.const(np.array([1, 1, factor, factor], np.float32))
        resized = builder.one(
            "Resize", [nchw, "", scales], mode="linear", coordinate_transformation_mode=mode
        )
        return [Dynamic(builder.to_nhwc(resized))]
    batch_channels = builder.one(
        "Slice", [builder.one("Shape", [nchw]), builder.const([0]), builder.const([2])]
    )
    sizes = builder.one("Concat", [batch_channels, builder.name(size, node)], axis=0)
    resized = builder.one(
        "Resize", [nchw, "", "", sizes], mode="linear", coordinate_transformation_mode=mode
    )
    return [Dynamic(builder.to_nhwc(resized))]


def integer_scale(builder: Builder, value: str, size: str) -> int | None:
    """k when ``size`` is Mul(Slice(Shape(value), [1], [3]), [k, k]): the H and W of the
    NHWC ``value`` times a whole number; then Resize can take scales, not run-time sizes."""
    mul = builder.made_by.get(size)
    if mul is None or mul.op_type != "Mul":
        return None
    constants = {t.name: t for t in builder.initializers}
    for sliced, factor in (mul.input, mul.input[::-1]):
        if factor not in constants:
            continue
        k = numpy_helper.to_array(constants[factor])
        cut = builder.made_by.get(sliced)
        if k.shape != (2,) or k[0] != k[1] or k[0] < 1 or cut is None or cut.op_type != "Slice":
            continue
        shape = builder.made_by.get(cut.input[0])
        bounds = [
            numpy_helper.to_array(constants[n]).tolist() for n in cut.input[1:] if n in constants
        ]
        if shape is None or shape.op_type != "Shape" or shape.input[0] != value:
            continue
        if bounds[:2] == [[1], [3]] and (len(bounds) < 4 or bounds[3] == [1]):
            return int(k[0])
    return None


# ---- reading the files -------------------------------------------------------------------


def parse_graph(graph_json: bytes) -> tuple[dict[str, Node], list[dict[str, Any]], dict[str, str]]:
    """Nodes by name, the weight manifest entries, and the signature's output tensor names."""
    try:
        model = json.loads(graph_json)
        raw_nodes = model["modelTopology"]["node"]
        manifest = [entry for group in model["weightsManifest"] for entry in group["weights"]]
        outputs = {name: spec["name"] for name, spec in model["signature"]["outputs"].items()}
        nodes: dict[str, Node] = {}
        for raw in raw_nodes:
            inputs = [split_input(i) for i in raw.get("input", []) if not i.startswith("^")]
            nodes[raw["name"]] = Node(raw["name"], raw["op"], inputs, raw.get("attr", {}))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConversionError(f"model JSON is malformed: {type(exc).__name__}: {exc}") from exc
    missing = [name for name in OUTPUTS if name not in outputs]
    if missing:
        raise ConversionError(f"model signature lacks outputs {', '.join(missing)}")
    return nodes, manifest, outputs


def split_input(reference: str) -> tuple[str, int]:
    """``name:1`` → (name, 1); ``name`` → (name, 0)."""
    name, _, port = reference.rpartition(":")
    if name and port.isdigit():
        return name, int(port)
    return reference, 0


def read_weights(manifest: list[dict[str, Any]], weights: bytes) -> dict[str, np.ndarray]:
    """Each manifest entry's array, read in order from ``weights`` and dequantised."""
    values: dict[str, np.ndarray] = {}
    offset = 0
    for entry in manifest:
        try:
            name, shape, dtype = entry["name"], [int(d) for d in entry["shape"]], entry["dtype"]
            quant = entry.get("quantization")
        except (KeyError, TypeError, ValueError) as exc:
            raise ConversionError(f"weights manifest entry is malformed: {entry!r:.80}") from exc
        if dtype not in WEIGHT_DTYPES:
            raise ConversionError(f"weight {name!r} has unsupported dtype {dtype!r}")
        stored = WEIGHT_DTYPES[dtype]
        if quant:
            if quant.get("dtype") not in QUANT_DTYPES or "min" not in quant or "scale" not in quant:
                raise ConversionError(f"weight {name!r} has unsupported quantization {quant!r}")
            stored = QUANT_DTYPES[quant["dtype"]]
        count = int(np.prod(shape, dtype=np.int64))
        size = count * np.dtype(stored).itemsize
        if offset + size > len(weights):
            raise ConversionError(
                f"weights file is {len(weights)} bytes, too short for {name!r} at {offset}"
            )
        array: np.ndarray = np.frombuffer(weights, stored, count, offset).reshape(shape)
        offset += size
        if quant:
            array = np.asarray(quant["min"] + quant["scale"] * array.astype(np.float64), np.float32)
        values[name] = array
    if offset != len(weights):
        raise ConversionError(f"weights file is {len(weights)} bytes; the manifest needs {offset}")
    return values


# ---- the graph walk ----------------------------------------------------------------------


def needed_order(nodes: dict[str, Node], roots: Sequence[str]) -> list[str]:
    """The nodes ``roots`` depend on, inputs first (iterative: the graph is ~400 deep)."""
    order: list[str] = []
    state: dict[str, bool] = {}  # False while on the stack, True when done
    stack: list[tuple[str, bool]] = [(root, False) for root in roots]
    while stack:
        name, expanded = stack.pop()
        if expanded:
            state[name] = True
            order.append(name)
            continue
        if name in state:
            continue
        if name not in nodes:
            raise ConversionError(f"graph refers to a node {name!r} that does not exist")
        state[name] = False
        stack.append((name, True))
        stack.extend((source, False) for source, _ in nodes[name].inputs if source not in state)
    return order


def model_inputs(builder: Builder) -> tuple[list[onnx.ValueInfoProto], dict[str, Value]]:
    """The ONNX inputs (NCHW) and the NHWC values the graph's placeholders stand for."""
    src_dims: list[str | int | None] = [1, 3, "height", "width"]
    infos = [helper.make_tensor_value_info("src", TensorProto.FLOAT, src_dims)]
    for name, channels in STATE_CHANNELS.items():
        stride = STATE_STRIDES[name]
        dims: list[str | int | None] = [1, channels, f"height_{stride}", f"width_{stride}"]
        infos.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))
    values: dict[str, Value] = {info.name: Dynamic(builder.to_nhwc(info.name)) for info in infos}
    builder.states.update(builder.to_nhwc(name) for name in STATE_CHANNELS)
    builder.channels[builder.to_nhwc("src")] = 3
    builder.spatial_names[builder.to_nhwc("src")] = ("height", "width")
    return infos, values


def model_outputs(inputs: list[onnx.ValueInfoProto]) -> list[onnx.ValueInfoProto]:
    """``pha`` at the input's size, and each state output shaped as its input."""
    src_dims: list[str | int | None] = [1, 1, "height", "width"]
    infos = [helper.make_tensor_value_info("pha", TensorProto.FLOAT, src_dims)]
    for info in inputs[1:]:
        output = onnx.ValueInfoProto()
        output.CopyFrom(info)
        output.name = info.name[:-1] + "o"
        infos.append(output)
    return infos


def convert(graph_json: bytes, weights: bytes, *, downsample_ratio: float = 1.0) -> bytes:
    """Serialized ONNX model (``onnx.ModelProto.SerializeToString()``); see the module doc."""
    nodes, manifest, signature = parse_graph(graph_json)
    constants = read_weights(manifest, weights)
    builder = Builder()
    inputs, placeholders = model_inputs(builder)
    placeholders["downsample_ratio"] = np.array(downsample_ratio, np.float32)
    wanted = {name: split_input(signature[name]) for name in OUTPUTS}
    results: dict[str, list[Value] | Dead] = {}
    for name in needed_order(nodes, [source for source, _ in wanted.values()]):
        results[name] = evaluate(builder, nodes[name], results, constants, placeholders)
    for out_name, (source, port) in wanted.items():
        value = lookup(results, nodes[source], source, port)
        if not isinstance(value, Dynamic):
            raise ConversionError(f"output {out_name} is not a run-time tensor")
        builder.nodes.append(
            helper.make_node("Transpose", [value.name], [out_name], perm=NHWC_TO_NCHW)
        )
    fuse_hard_activations(builder)
    kept = prune(builder.nodes, OUTPUTS)
    used = {name for node in kept for name in node.input}
    graph = helper.make_graph(
        kept,
        "rvm",
        inputs,
        model_outputs(inputs),
        [tensor for tensor in builder.initializers if tensor.name in used],
        value_info=[info for info in builder.value_info if info.name in used],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vbgcam.tfjs_onnx"
    )
    model.ir_version = IR_VERSION
    serialized: bytes = model.SerializeToString()
    return serialized


def lookup(results: dict[str, list[Value] | Dead], node: Node, source: str, port: int) -> Value:
    produced = results[source]
    if isinstance(produced, Dead):
        return DEAD
    if port >= len(produced):
        raise node.fail(f"input {source}:{port} does not exist")
    return produced[port]


def evaluate(
    builder: Builder,
    node: Node,
    results: dict[str, list[Value] | Dead],
    constants: dict[str, np.ndarray],
    placeholders: dict[str, Value],
) -> list[Value] | Dead:
    """The outputs of ``node``: constants folded here, everything else emitted as ONNX."""
    if node.op == "Const":
        if node.name not in constants:
            raise node.fail("no weights manifest entry holds its value")
        return [constants[node.name]]
    if node.op == "Placeholder":
        if node.name not in placeholders:
            raise node.fail("unknown model input")
        return [placeholders[node.name]]
    inputs = [lookup(results, node, source, port) for source, port in node.inputs]
    if node.op != "Merge" and any(isinstance(value, Dead) for value in inputs):
        return DEAD
    handler = HANDLERS.get(node.op)
    if handler is None:
        raise node.fail("unsupported op")
    builder.source = node.name
    # numpy folds 0-d arrays into scalars; keep every constant an ndarray
    return [
        np.asarray(v) if isinstance(v, np.generic) else v for v in handler(builder, node, inputs)
    ]


def scalar_constants(builder: Builder) -> dict[str, float]:
    """The float initializers holding a single value, by name."""
    return {
        t.name: float(numpy_helper.to_array(t).reshape(()))
        for t in builder.initializers
        if t.data_type == TensorProto.FLOAT and list(t.dims) in ([], [1])
    }


def fuse_hard_activations(builder: Builder) -> None:
    """MobileNetV3's hard-swish ``x / 6 * relu6(x + 3)``, as TF spells it (Add, Relu6 as Clip,
    Mul and Mul), becomes ``x * HardSigmoid(x)``, which onnxruntime fuses into the conv before
    it as one HardSwish activation, instead of four passes outside its NCHWc layout. (The
    squeeze-excite gates' hard-sigmoid ``relu6(x + 3) / 6`` stays spelled out: as HardSigmoid on
    the pooled [1, 1, 1, C] tensor OpenCV 5.1's DNN miscomputes a later Concat's shape, and
    onnxruntime gains nothing measurable.) The replaced nodes are left for ``prune``."""
    consts = scalar_constants(builder)
    producer = {out: n for n in builder.nodes for out in n.output}

    def other(node: onnx.NodeProto, value: float) -> str | None:
        """The input of binary ``node`` that is not the constant ``value``, if one is."""
        for this, that in (node.input, node.input[::-1]):
            if that in consts and abs(consts[that] - value) <= 1e-7 * abs(value):
                return str(this)
        return None

    def relu6_plus_3(name: str) -> str | None:
        """``x`` when ``name`` is Clip(Add(x, 3), 0, 6)."""
        clip = producer.get(name)
        if clip is None or clip.op_type != "Clip" or len(clip.input) != 3:
            return None
        if consts.get(clip.input[1]) != 0.0 or consts.get(clip.input[2]) != 6.0:
            return None
        add = producer.get(clip.input[0])
        return other(add, 3.0) if add is not None and add.op_type == "Add" else None

    rewritten: list[onnx.NodeProto] = []
    for node in builder.nodes:
        rewritten.append(node)
        if node.op_type != "Mul":
            continue
        for left, right in (node.input, node.input[::-1]):
            sixth, x = producer.get(left), relu6_plus_3(right)
            is_mul = sixth is not None and sixth.op_type == "Mul"
            sixth_of = other(sixth, 1 / 6) if sixth is not None and is_mul else None
            if x is not None and sixth_of == x:  # (x * 1/6) * relu6(x + 3)
                gate = builder.fresh("hardsigmoid")
                rewritten[-1] = helper.make_node("HardSigmoid", [x], [gate], alpha=1 / 6, beta=0.5)
                rewritten.append(helper.make_node("Mul", [x, gate], list(node.output)))
                break
    builder.nodes = rewritten


def prune(nodes: list[onnx.NodeProto], outputs: Sequence[str]) -> list[onnx.NodeProto]:
    """Only the nodes the outputs depend on (shape arithmetic of the dropped ``fgr``, and
    the transposes that cancelled, fall away)."""
    needed = set(outputs)
    kept: list[onnx.NodeProto] = []
    for node in reversed(nodes):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(node.input)
    return kept[::-1]
