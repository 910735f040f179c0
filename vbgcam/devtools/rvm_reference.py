"""Writes ``vbgcam/models/rvm_reference.npz``: Robust Video Matting's known answer from TensorFlow.

``vbgcam.models.tfjs_onnx`` rebuilds RVM's TFJS graph as ONNX without TensorFlow; this script
is how we know the rebuild computes what the original does. It runs the original graph in
TensorFlow (a separate, throw-away environment: vbgcam never depends on TensorFlow) on three
consecutive demo-scene frames, carrying the recurrent states from frame to frame from zeros,
at two sizes: 256x144 (a size the segmenter uses) and 200x120 (not a multiple of 16, to prove
that the converted model's height and width are dynamic and that it rounds like TensorFlow).

Usage, once, after a model or converter change that should change the answer::

    python3.11 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu numpy
    python -m vbgcam.devtools.rvm_reference --tf-python /tmp/tfenv/bin/python

The npz holds, per size ``WxH``: ``WxH_rgb`` uint8 [3, H, W, 3] (the frames) and
``WxH_pha`` uint8 [3, H, W] (TF's alpha rounded to 1/255). ONNX must meet
``PHA_TOLERANCE`` against it (max abs difference in 1/255 units, after rounding).
Measured (onnxruntime 1.32 vs TensorFlow 2.21, TF_ENABLE_ONEDNN_OPTS=0, unrounded floats,
worst of three frames): max |pha| difference 1.8e-5 at 256x144, 9.9e-6 at 200x120 (3.4e-6 at
384x216); max |state| difference 2.0e-5 over r1o..r4o. OpenCV 5.1's DNN: 1.4e-5 and 2.1e-5.
So after rounding to 1/255 no pixel moves by more than one step.

The TensorFlow half runs this same file as a plain script (``--tf-half``) under the TF
interpreter, so it imports nothing from vbgcam at module level.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

SIZES = ((256, 144), (200, 120))
FRAME_COUNT = 3
FIRST_FRAME_S = 1.0  # the figure waves, so the matte has soft edges as well as flat areas
FRAME_STEP_S = 1 / 15
PHA_TOLERANCE = 1  # in 1/255 steps; float differences are ~1e-5, rounding adds one step
REFERENCE_FILE = "rvm_reference.npz"


def reference_frames(size: tuple[int, int]) -> np.ndarray:
    """``FRAME_COUNT`` demo-scene frames at ``size`` (width, height): uint8 RGB [N, H, W, 3]."""
    import cv2

    from vbgcam.shrink import shrink
    from vbgcam.sources.demo_scene import DemoScene

    width, height = size
    scene = DemoScene(2 * width, 2 * height)
    frames = np.empty((FRAME_COUNT, height, width, 3), np.uint8)
    big = np.empty((2 * height, 2 * width, 3), np.uint8)
    for index in range(FRAME_COUNT):
        scene.render(FIRST_FRAME_S + index * FRAME_STEP_S, big)
        frames[index] = cv2.cvtColor(shrink(big, size), cv2.COLOR_BGR2RGB)
    return frames


FUSED_BASE_OPS = {"_FusedConv2D": "Conv2D", "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative"}
FUSED_KEEP_ATTRS = ("T", "strides", "padding", "data_format", "dilations", "explicit_paddings")


def unfuse(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """TFJS's fused convolutions as TF's plain conv, BiasAdd and activation nodes.

    ``FusedDepthwiseConv2dNative`` exists only in TFJS, and the JSON's ``_FusedConv2D`` lacks
    attrs TF needs; plain ops also keep TF's fused kernels out of the reference.
    """
    plain: list[dict[str, Any]] = []
    for node in nodes:
        if node["op"] not in FUSED_BASE_OPS:
            plain.append(node)
            continue
        attr = node["attr"]
        fused = [base64.b64decode(op).decode() for op in attr["fused_ops"]["list"]["s"]]
        if fused[0] != "BiasAdd" or len(fused) > 2 or int(attr["num_args"]["i"]) != 1:
            raise ValueError(f"{node['name']}: fused ops {fused} not handled")
        data_inputs = [name for name in node["input"] if not name.startswith("^")]
        controls = [name for name in node["input"] if name.startswith("^")]
        float_t = {"type": "DT_FLOAT"}
        conv_attr = {key: attr[key] for key in FUSED_KEEP_ATTRS if key in attr}
        conv_attr["T"] = float_t
        name = node["name"]
        steps = [(FUSED_BASE_OPS[node["op"]], data_inputs[:2] + controls, conv_attr)]
        steps.append(("BiasAdd", [data_inputs[2]], {"T": float_t}))
        steps += [(op, [], {"T": float_t}) for op in fused[1:]]
        previous = None
        for index, (op, inputs, step_attr) in enumerate(steps):
            step_name = name if index == len(steps) - 1 else f"{name}/unfused_{index}"
            step_inputs = inputs if previous is None else [previous, *inputs]
            plain.append({"name": step_name, "op": op, "input": step_inputs, "attr": step_attr})
            previous = step_name
    return plain


def tf_run(json_path: Path, bin_path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs the TFJS graph in TensorFlow on each ``WxH_rgb`` stack; returns pha and states.

    The GraphDef is the JSON's ``modelTopology``; its Const nodes get their values from the
    weights file, dequantised as TFJS does (``min + scale * q``).
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # oneDNN changes the rounding
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    from google.protobuf import json_format

    model = json.loads(json_path.read_bytes())
    blob = bin_path.read_bytes()
    values: dict[str, np.ndarray] = {}
    offset = 0
    for entry in model["weightsManifest"][0]["weights"]:
        count = int(np.prod(entry["shape"], dtype=np.int64))
        quant = entry.get("quantization")
        if quant:
            raw = np.frombuffer(blob, np.uint8, count, offset)
            value = (quant["min"] + quant["scale"] * raw.astype(np.float64)).astype(np.float32)
            offset += count
        else:
            dtype = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}[entry["dtype"]]
            value = np.frombuffer(blob, dtype, count, offset)
            offset += count * np.dtype(dtype).itemsize
        values[entry["name"]] = value.reshape(entry["shape"])
    topology = dict(model["modelTopology"], node=unfuse(model["modelTopology"]["node"]))
    graph_def = json_format.ParseDict(topology, tf.compat.v1.GraphDef())
    for node in graph_def.node:
        if node.op == "Const" and node.name in values:
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(values[node.name]))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    signature = model["signature"]["outputs"]
    fetch_names = ["pha", "r1o", "r2o", "r3o", "r4o"]
    fetches = [graph.get_tensor_by_name(signature[name]["name"]) for name in fetch_names]
    results: dict[str, np.ndarray] = {}
    with tf.compat.v1.Session(graph=graph) as session:
        for key, frames in inputs.items():
            prefix = key.removesuffix("_rgb")
            states = [np.zeros((), np.float32)] * 4
            for index, rgb in enumerate(frames):
                feed = {"src:0": rgb[None].astype(np.float32) / 255, "downsample_ratio:0": 1.0}
                feed.update({f"r{i + 1}i:0": state for i, state in enumerate(states)})
                pha, *states = session.run(fetches, feed)
                results[f"{prefix}_pha_{index}"] = pha[0, :, :, 0]
                for i, state in enumerate(states):
                    results[f"{prefix}_r{i + 1}o_{index}"] = state
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tf-python", help="a Python interpreter with tensorflow installed")
    parser.add_argument("--tf-half", nargs=4, metavar=("JSON", "BIN", "IN_NPZ", "OUT_NPZ"))
    args = parser.parse_args(argv)
    if args.tf_half:
        json_path, bin_path, in_path, out_path = map(Path, args.tf_half)
        with np.load(in_path) as stored:
            inputs = {key: stored[key] for key in stored.files}
        np.savez(out_path, **tf_run(json_path, bin_path, inputs))  # type: ignore[arg-type]
        return 0
    if not args.tf_python:
        parser.error("--tf-python is required")
    return write_reference(args.tf_python)


def write_reference(tf_python: str) -> int:
    """Renders the frames here, runs TF in ``tf_python``, stores frames and rounded alphas."""
    from vbgcam.models import cache_dir

    json_path, bin_path = cache_dir() / "rvm.json", cache_dir() / "rvm.bin"
    if not (json_path.exists() and bin_path.exists()):
        print("rvm is not cached: run 'vbgcam models pull rvm' first", file=sys.stderr)
        return 1
    inputs = {f"{w}x{h}_rgb": reference_frames((w, h)) for w, h in SIZES}
    with tempfile.TemporaryDirectory() as scratch:
        in_path, out_path = Path(scratch, "in.npz"), Path(scratch, "out.npz")
        np.savez(in_path, **inputs)  # type: ignore[arg-type]
        command = [tf_python, __file__, "--tf-half", str(json_path), str(bin_path)]
        subprocess.run([*command, str(in_path), str(out_path)], check=True)
        with np.load(out_path) as stored:
            outputs = {key: stored[key] for key in stored.files}
    arrays: dict[str, np.ndarray] = dict(inputs)
    for w, h in SIZES:
        phas = [outputs[f"{w}x{h}_pha_{i}"] for i in range(FRAME_COUNT)]
        arrays[f"{w}x{h}_pha"] = np.round(np.clip(phas, 0, 1) * 255).astype(np.uint8)
    target = Path(__file__).parent.parent / "models" / REFERENCE_FILE
    np.savez_compressed(target, allow_pickle=False, **arrays)
    print(f"wrote {target} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
