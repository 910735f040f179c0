"""No thread may spin: every native pool runs one thread, and every thread is accounted for.

OpenBLAS (bundled by numpy and by opencv-python) starts a worker per core when it loads,
and after a BLAS call those workers busy-wait: that took ``vbgcam run`` at 720p30 from a
quarter of a core to a whole one. What a user's system monitor sees is the whole process,
so these tests look at the whole process: the pools threadpoolctl finds, and every OS
thread in ``/proc/self/task`` against the threads vbgcam started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from threadpoolctl import ThreadpoolController

from vbgcam.config.settings import build_settings
from vbgcam.pipeline.build import compositor_for
from vbgcam.threadpools import native_pools

REPO = Path(__file__).resolve().parent.parent

# The stages of ``vbgcam run`` built and running in a fresh process, as the CLI does it
# (vbgcam is imported before numpy): reports the pools and the threads while frames flow.
RUNNING_PROCESS = textwrap.dedent(
    """
    import json, os, sys, threading, time
    from vbgcam.pipeline.build import compositor_for
    from vbgcam.outputs import VirtualCamera
    from vbgcam.pipeline.wiring import Pipeline
    from vbgcam.config.settings import build_settings
    from vbgcam.sources import open_source
    from vbgcam.threadpools import native_pools
    from tests import fakes

    fakes.register()
    clip = sys.argv[1]
    settings = build_settings({"camera.size": "640x480", "camera.source": clip})
    camera = VirtualCamera((640, 480), 30.0, device=None, backend="recording")
    source = open_source(clip, (640, 480), 30.0, "MJPG")
    pipeline = Pipeline(source, compositor_for(settings), [camera], (640, 480), 30.0)
    with pipeline.in_background("test-threads"):
        backend = fakes.RecordingBackend.last()
        backend.wait_for_frames(20, timeout_s=20)
        ours = {t.native_id: t.name for t in threading.enumerate()}
        everything = {
            int(tid): open(f"/proc/self/task/{tid}/comm").read().strip()
            for tid in os.listdir("/proc/self/task")
        }
        report = {
            "frames": len(backend.frames),
            "segmenter": type(pipeline.compositor.segmenter).__name__,
            "pools": [[p.library, p.api, p.threads] for p in native_pools()],
            "unaccounted": [
                f"thread {tid} ({comm})" for tid, comm in everything.items() if tid not in ours
            ],
        }
    print(json.dumps(report))
    """
)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_a_running_pipeline_has_one_thread_per_pool_and_no_thread_nobody_started(
    demo_clip: Path, with_models: Path
) -> None:
    environment = {
        k: v for k, v in os.environ.items() if not k.endswith(("_NUM_THREADS", "_THREADS"))
    }
    result = subprocess.run(
        [sys.executable, "-c", RUNNING_PROCESS, str(demo_clip)],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["frames"] >= 20
    assert report["segmenter"] != "DiffSegmenter", "the selfie network should run here"
    assert report["pools"], "threadpoolctl found no BLAS pool: numpy has one"
    wide = [pool for pool in report["pools"] if pool[2] != 1]
    assert wide == [], f"pools with more than one thread: {wide}"
    assert report["unaccounted"] == [], "threads vbgcam did not start (a native pool?)"


def test_pools_loaded_before_vbgcam_are_limited_once_the_stages_are_built() -> None:
    """numpy was imported first here (by pytest's plugins and conftest), so its pool took
    its size before vbgcam could say anything; building the stages must still limit it."""
    controller = ThreadpoolController()
    widened = controller.limit(limits=2)  # as a pool loaded on a 2-core machine starts
    try:
        assert any(p.threads == 2 for p in native_pools())
        compositor_for(build_settings({"segmenter.name": "diff", "camera.size": "320x240"}))
        assert [p for p in native_pools() if p.threads != 1] == []
    finally:
        widened.restore_original_limits()
        controller.limit(limits=1)
