"""One thread for every native math pool the process loads, so no worker spins between frames.

numpy and opencv-python each bundle an OpenBLAS, and OpenBLAS starts one worker per core when
it loads. After a BLAS call its workers busy-wait for the next one: with a single 4x16 by
16xN product per frame, ``vbgcam run`` at 720p30 took 91-113 % of a core instead of 23 %
(whole process, user+sys over wall). A camera frame is far too small to share out, so vbgcam
wants no parallel BLAS or OpenMP at all; the only worker threads it asks for are the network
runtime's and OpenCV's own (``[segmenter] threads``).

Two layers, because either alone can be defeated:

- ``limit_before_load`` sets the pools' environment variables before numpy or OpenCV loads
  (``vbgcam/__init__.py`` calls it), so OpenBLAS never starts its workers. A value the user
  set is kept: they asked for it.
- ``limit_loaded_pools`` tells every pool already loaded (numpy imported before vbgcam, or a
  variable set to more than one) to use one thread, through threadpoolctl; the stages call it
  when they are built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# Read once by each library when it loads.
POOL_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def limit_before_load() -> None:
    """One thread for every pool that loads after this call, unless the user chose otherwise."""
    for name in POOL_VARIABLES:
        os.environ.setdefault(name, "1")


@dataclass(frozen=True)
class NativePool:
    """A thread pool inside a native library: which one and how many threads it may use."""

    library: str  # the file, e.g. libscipy_openblas64_-....so
    api: str  # "blas" or "openmp"
    threads: int


def native_pools() -> list[NativePool]:
    """Every BLAS and OpenMP pool loaded in this process, as threadpoolctl finds them."""
    from threadpoolctl import threadpool_info

    return [
        NativePool(os.path.basename(info["filepath"]), info["user_api"], info["num_threads"])
        for info in threadpool_info()
    ]


def limit_loaded_pools() -> None:
    """One thread for every BLAS and OpenMP pool loaded now (process-wide, until changed)."""
    from threadpoolctl import ThreadpoolController

    ThreadpoolController().limit(limits=1)


def use_opencv_threads(threads: int) -> None:
    """``[segmenter] threads`` for OpenCV: 0 is one per core (OpenCV's own 0 would mean none)."""
    import cv2

    cv2.setNumThreads(threads if threads > 0 else -1)
