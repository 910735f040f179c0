"""What the PipeWire camera costs and how fast frames reach a consumer (part of ``make bench``).

One process, on a private PipeWire (``pipewire_sandbox``), the same pipeline each time
(counting camera, rectangle segmenter, image background, 1280x720 at 30 fps), runs taking turns:
- ``null``: one output, a pyvirtualcam backend that only counts frames, the baseline;
- ``pipewire``: one output, our backend with a GStreamer consumer attached, reading every frame;
- ``null+pipewire``: both outputs at once, as ``vbgcam run`` publishes on Linux (the counting
  backend stands in for v4l2loopback, which cannot load here);
- ``pipewire/gstreamer``: one output fed by the gst-launch fallback instead of the native
  producer, for comparison.
Reported: the consumer's frames per second and the latency from capture to the consumer
(median, p95), and CPU milliseconds per output frame: this process plus the ``gst-launch``
producer (the consumer's own CPU is the application's, not ours), each run's median.
``collect`` returns what ``--json`` prints (``{"skipped": why}`` on a machine without
PipeWire), for ``bench_all``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyvirtualcam

from vbgcam.backgrounds import ImageBackground
from vbgcam.compose import Compositor
from vbgcam.devtools import report
from vbgcam.devtools.pipewire_sandbox import (
    FPS,
    SIZE,
    CountingCamera,
    GstConsumer,
    PrivatePipeWire,
    RectangleSegmenter,
    missing_parts,
)
from vbgcam.outputs import VirtualCamera
from vbgcam.outputs.cameras import open_outputs
from vbgcam.outputs.pipewire.camera import PipeWireCamera
from vbgcam.outputs.pipewire.producer import PRODUCER_ENV
from vbgcam.pipeline.wiring import Pipeline

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


class CountingBackend:
    """A pyvirtualcam backend that takes frames and does nothing else: the baseline."""

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, **_: Any) -> None:
        self.frames = 0

    def send(self, frame: np.ndarray) -> None:
        self.frames += 1

    def close(self) -> None:
        """Nothing held."""

    def device(self) -> str:
        return "null"

    def native_fourcc(self) -> int | None:
        return None


def _process_cpu_s(pid: int, thread: int | None = None) -> float:
    """User plus system CPU seconds of a process (or one of its threads) so far."""
    path = Path(f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat")
    try:
        fields = path.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def _background(folder: Path) -> Path:
    width, height = SIZE
    picture = np.empty((height, width, 3), np.uint8)
    picture[:, :, 0] = np.linspace(200, 40, width, dtype=np.float32)[None, :]
    picture[:, :, 1] = np.linspace(60, 220, height, dtype=np.float32)[:, None]
    picture[:, :, 2] = 120
    path = folder / "bench-background.png"
    cv2.imwrite(str(path), picture)
    return path


def run_once(run: str, seconds: float, background: Path, env: dict[str, str]) -> dict[str, Any]:
    """One run; ``run`` names the outputs, joined by '+', each a ``CameraOutput`` as in
    ``vbgcam run``, and after a '/' the PipeWire producer (default: as ``vbgcam run``)."""
    backend, _, producer = run.partition("/")
    saved = os.environ.get(PRODUCER_ENV)
    if producer:
        os.environ[PRODUCER_ENV] = producer
    try:
        outputs = open_outputs(SIZE, FPS, None, backend.split("+"))
    finally:
        if saved is None:
            os.environ.pop(PRODUCER_ENV, None)
        else:
            os.environ[PRODUCER_ENV] = saved
    source = CountingCamera()
    compositor = Compositor(RectangleSegmenter(), ImageBackground(background, SIZE))
    pipeline = Pipeline(source, compositor, outputs, SIZE, FPS)
    thread = threading.Thread(target=pipeline.run, name="bench-pipeline", daemon=True)
    with_pipewire = "pipewire" in backend.split("+")
    consumer = GstConsumer(env) if with_pipewire else None
    thread.start()
    time.sleep(1.5)  # start-up and the consumer's link
    sent_before = pipeline.sender.sent
    cpu_before = time.process_time()
    pipewire = next(
        (o.camera.camera._backend for o in outputs if o.backend == "pipewire" and o.camera),
        None,
    )
    producer_before = (
        _process_cpu_s(pipewire._producer.process.pid)
        if isinstance(pipewire, PipeWireCamera)
        else 0.0
    )
    received_before = len(consumer.frames) if consumer else 0
    # The consumer's reading thread lives in this process, but its work is the application's.
    reader = consumer.reader_thread_id if consumer else None
    reader_before = _process_cpu_s(os.getpid(), reader) if reader else 0.0
    time.sleep(seconds)
    sent = pipeline.sender.sent - sent_before
    cpu_s = time.process_time() - cpu_before
    if reader:
        cpu_s -= _process_cpu_s(os.getpid(), reader) - reader_before
    producer_s = 0.0
    if isinstance(pipewire, PipeWireCamera):
        producer_s = _process_cpu_s(pipewire._producer.process.pid) - producer_before
    result: dict[str, Any] = {
        "backend": run,
        "frames_sent": sent,
        "cpu_ms_per_frame": 1000 * (cpu_s + producer_s) / max(sent, 1),
        "producer_cpu_ms_per_frame": 1000 * producer_s / max(sent, 1),
    }
    if consumer is not None:
        received = consumer.frames[received_before:]
        consumer.kill()
        if len(received) > 1:
            span = received[-1].received_at - received[0].received_at
            latencies = [
                1000 * (r.received_at - source.captured_at[r.index])
                for r in received
                if r.index in source.captured_at
            ]
            result.update(
                consumer_fps=(len(received) - 1) / span,
                latency_ms_median=statistics.median(latencies),
                latency_ms_p95=float(np.percentile(latencies, 95)),
            )
        if isinstance(pipewire, PipeWireCamera):
            result["rebuilds"] = len(pipewire.rebuilds)
    pipeline.request_stop()
    thread.join(10)
    return result


def _wait_ready(backend: PipeWireCamera, timeout_s: float = 5.0) -> None:
    time.sleep(0.3)
    deadline = time.monotonic() + timeout_s
    while not backend.ready and time.monotonic() < deadline:
        time.sleep(0.02)


def run_faults(background: Path, env: dict[str, str]) -> dict[str, Any]:
    """The fault tests' sequence on one camera, with each producer: what each fault cost."""
    results: dict[str, Any] = {}
    saved = os.environ.get(PRODUCER_ENV)
    try:
        for producer in ("native", "gstreamer"):
            os.environ[PRODUCER_ENV] = producer
            results[producer] = _faults_with(background, env)
    finally:
        if saved is None:
            os.environ.pop(PRODUCER_ENV, None)
        else:
            os.environ[PRODUCER_ENV] = saved
    return results


def _faults_with(background: Path, env: dict[str, str]) -> dict[str, Any]:
    camera = VirtualCamera(SIZE, FPS, device=None, backend="pipewire")
    backend = camera.camera._backend
    assert isinstance(backend, PipeWireCamera)
    compositor = Compositor(RectangleSegmenter(), ImageBackground(background, SIZE))
    pipeline = Pipeline(CountingCamera(), compositor, [camera], SIZE, FPS)
    thread = threading.Thread(target=pipeline.run, name="bench-pipeline", daemon=True)
    thread.start()
    faults: dict[str, Any] = {}

    def fault(name: str, consumer_frames: int, stall: bool = False) -> None:
        before = len(backend.rebuilds)
        consumer = GstConsumer(env, stall=stall)
        if stall:
            time.sleep(3)
        else:
            consumer.wait_for(consumer_frames, 10)
        consumer.kill()
        _wait_ready(backend)
        check = GstConsumer(env)
        got = check.wait_for(10, 10)
        check.kill()
        _wait_ready(backend)
        new = backend.rebuilds[before:]
        faults[name] = {
            "next_consumer_got_frames": got,
            "rebuilds": len(new),
            "rebuild_s": [round(r.took_s, 3) for r in new],
            "reasons": sorted({r.reason.split(" (")[0] for r in new}),
        }

    try:
        fault("consumer killed mid-stream", 10)
        fault("stalled consumer, then killed", 0, stall=True)
        before = len(backend.rebuilds)
        for _ in range(10):
            consumer = GstConsumer(env)
            consumer.wait_for(3, 10)
            consumer.kill()
            _wait_ready(backend)
        new = backend.rebuilds[before:]
        faults["10 connect/disconnect cycles"] = {
            "rebuilds": len(new),
            "rebuild_s": [round(r.took_s, 3) for r in new],
        }
    finally:
        pipeline.request_stop()
        thread.join(10)
    return faults


RUNS = ("null", "pipewire", "null+pipewire", "pipewire/gstreamer")


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    summary: dict[str, dict[str, float]] = {}
    for backend in RUNS:
        mine = [r for r in runs if r["backend"] == backend]
        keys = [k for k in mine[0] if k != "backend"]
        summary[backend] = {k: statistics.median(r[k] for r in mine) for k in keys}
    for backend in RUNS[1:]:
        summary[backend]["cpu_ms_added_per_frame"] = (
            summary[backend]["cpu_ms_per_frame"] - summary["null"]["cpu_ms_per_frame"]
        )
    return summary


def table(summary: dict[str, dict[str, float]], rounds: int, seconds: float) -> str:
    lines = [
        f"PipeWire camera, {SIZE[0]}x{SIZE[1]} @ {FPS:g} fps, {rounds} rounds of {seconds:g} s "
        "per run, medians; CPU of the whole process plus the producer child:",
        "| outputs | CPU per frame | added over the counting output alone | of which the "
        "producer | consumer fps | latency median / p95 | rebuilds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in RUNS:
        row = summary[run]
        if run == "null":
            lines.append(f"| {run} | {row['cpu_ms_per_frame']:.2f} ms | - | - | - | - | - |")
            continue
        ms = row["cpu_ms_added_per_frame"]
        lines.append(
            f"| {run} | {row['cpu_ms_per_frame']:.2f} ms | {ms:.2f} ms "
            f"({ms * FPS / 10:.1f} % of a core) | {row['producer_cpu_ms_per_frame']:.2f} ms | "
            f"{row['consumer_fps']:.1f} | {row['latency_ms_median']:.1f} / "
            f"{row['latency_ms_p95']:.1f} ms | {row['rebuilds']:.0f} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured time per run")
    parser.add_argument("--rounds", type=int, default=2, help="runs per backend, taking turns")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser.parse_args(argv)


def collect(args: argparse.Namespace) -> dict[str, Any]:
    """Measure as ``args`` ask and return what ``--json`` prints: ``{"summary", "runs",
    "faults"}``, or ``{"skipped": why}`` where PipeWire or its tools are missing or its
    daemons do not come up."""
    missing = missing_parts()
    if missing:
        return {"skipped": f"PipeWire benchmark skipped: this machine lacks {', '.join(missing)}"}
    pyvirtualcam.register_backend("null", CountingBackend)
    try:
        session = PrivatePipeWire().start()
    except RuntimeError as exc:  # its daemons did not come up: say which, in one line
        return {"skipped": f"PipeWire benchmark skipped: {str(exc).splitlines()[0][:300]}"}
    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "PIPEWIRE_RUNTIME_DIR")}
    try:
        for key in saved:
            os.environ[key] = session.env[key]
        background = _background(session.runtime_dir)
        runs = [
            run_once(backend, args.seconds, background, session.env)
            for _ in range(args.rounds)
            for backend in RUNS
        ]
        faults = run_faults(background, session.env)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        session.stop()
    return {"summary": summarize(runs), "runs": runs, "faults": faults}


def print_table(data: dict[str, Any], args: argparse.Namespace) -> None:
    """The human-readable form of ``collect``'s data: the summary table, then the faults."""
    if "skipped" in data:
        print(data["skipped"])
        return
    print(table(data["summary"], args.rounds, args.seconds))
    print("\nFaults (watchdog rebuilds, each with how long it took):")
    for producer, results in data["faults"].items():
        for name, result in results.items():
            print(f"- {producer}, {name}: {json.dumps(result)}")


def main(argv: Sequence[str] | None = None) -> int:
    return report.run(parse_args, collect, print_table, argv)


if __name__ == "__main__":
    raise SystemExit(main())
