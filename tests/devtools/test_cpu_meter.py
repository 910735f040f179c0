"""The benchmarks' CPU meter counts what a system monitor shows: every thread of the process,
whoever started it, and the processes it started, while they still run."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from vbgcam.devtools.cpu import measure, process_cpu_s

BURN_S = 0.4


def burn(cpu_s: float) -> None:
    """Spin until this thread has used ``cpu_s`` of CPU."""
    start = time.thread_time()
    while time.thread_time() - start < cpu_s:
        pass


def test_a_thread_nobody_named_counts_as_much_as_the_caller() -> None:
    with measure() as window:
        worker = threading.Thread(target=burn, args=(BURN_S,))
        worker.start()
        worker.join()
    assert window.cpu_s >= BURN_S * 0.9


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_child_still_running_counts_before_it_ends() -> None:
    """A gst-launch producer runs for the whole call: its CPU must show while it runs, not
    only once it has ended and been waited for."""
    before = process_cpu_s()
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "start = time.process_time()\n"
            f"while time.process_time() - start < {BURN_S}: pass\n"
            "print('done', flush=True)\n"
            "time.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "done"
        assert process_cpu_s() - before >= BURN_S * 0.9
        assert process_cpu_s(child.pid) >= BURN_S * 0.9
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_the_window_gives_cpu_per_frame_and_share_of_a_core() -> None:
    with measure() as window:
        burn(0.2)
    window.frames = 10
    assert window.ms_per_frame == pytest.approx(1000 * window.cpu_s / 10)
    assert 0 < window.percent_of_core <= 100 * window.cpu_s / window.wall_s + 1e-9
