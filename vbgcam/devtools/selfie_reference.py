"""Writes ``vbgcam/segmenters/selfie_reference.npz``: each selfie model's known answer.

The input is the demo scene (vbgcam's own drawing of a person in a room) shrunk to the
model's input size; the answer is LiteRT's, Google's runtime for these files, rounded to
1/255. Run it again only when a model in the registry changes:
``python -m vbgcam.devtools.selfie_reference``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from vbgcam.models import MODELS, verified_path
from vbgcam.segmenters import runtimes
from vbgcam.shrink import shrink
from vbgcam.sources.demo_scene import DemoScene

MODEL_NAMES = ("selfie-landscape", "selfie-general")
SCENE_TIME_S = 1.0  # the figure waves, so the answer has soft edges as well as flat areas


def reference_picture(input_size: tuple[int, int]) -> np.ndarray:
    """The demo scene at twice ``input_size``, shrunk to it, as RGB."""
    width, height = input_size
    frame = np.empty((2 * height, 2 * width, 3), np.uint8)
    DemoScene(2 * width, 2 * height).render(SCENE_TIME_S, frame)
    small = shrink(frame, input_size)
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)


def main() -> int:
    arrays: dict[str, np.ndarray] = {}
    for name in MODEL_NAMES:
        path = verified_path(name)
        if path is None:
            print(f"{name} is not cached: run 'vbgcam models pull' first", file=sys.stderr)
            return 1
        size = MODELS[name].input_size
        rgb = reference_picture(size)
        probability = runtimes.LiteRtRuntime(path, size, 1).probability(rgb)
        key = name.replace("-", "_")
        arrays[f"{key}_rgb"] = rgb
        arrays[f"{key}_probability"] = np.round(probability * 255).astype(np.uint8)
    target = Path(runtimes.__file__).with_name(runtimes.REFERENCE_FILE)
    np.savez_compressed(target, allow_pickle=False, **arrays)
    print(f"wrote {target} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
