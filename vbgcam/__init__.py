"""vbgcam: a webcam turned into a virtual camera with the background replaced."""

import os
from pathlib import Path

from vbgcam.threadpools import limit_before_load

__version__ = "0.1.0"

# The example backgrounds, shipped inside the package so a wheel install has them too (the
# top-level examples/ of a checkout is a link to this folder).
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"

# OpenCV reads this once, when it loads: a picture claiming more pixels is refused before its
# memory is allocated, so a small crafted PNG cannot make vbgcam allocate gigabytes. Matches
# vbgcam.backgrounds.MAX_IMAGE_PIXELS.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(50_000_000))
# Before numpy or OpenCV loads: their OpenBLAS pools would start a spinning worker per core.
limit_before_load()
