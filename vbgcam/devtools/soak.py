"""Soak test: the live pipeline for minutes on end, watching memory, rate and the log.

A call lasts an hour; a leak of a few kilobytes a frame, a rate that sags, or a warning that
repeats only shows after minutes. This runs the real pipeline (demo camera, the segmenter
and matte the daemon would use, a beach picture as background) into an in-process virtual
camera registered with pyvirtualcam, which converts each frame to I420 as the v4l2loopback
backend does and counts it (``--device none``: no output at all; ``--device /dev/videoN``:
a real loopback device). After a warm-up it reports:

- RSS (``VmRSS`` from ``/proc/self/status``) after the warm-up and at the end, and the growth;
- the output rate, from frames the virtual camera received, and the whole process's CPU per
  frame sent (every thread, native pools included, as a system monitor counts);
- dropped frames: ticks where the sender repeated the last frame (no new one was ready) or
  skipped a tick (it fell behind), and camera frames the compositor never saw;
- WARNING and ERROR records logged while the pipeline ran.

It exits 1 when RSS grew by ``RSS_GROWTH_LIMIT_MIB`` or more, or anything was logged at
WARNING or above. Run with ``make soak`` (10 minutes; not part of CI) or
``python -m vbgcam.devtools.soak --help``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyvirtualcam
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from vbgcam import EXAMPLES_DIR
from vbgcam.config.settings import Settings, build_settings
from vbgcam.devtools.cpu import process_cpu_s
from vbgcam.errors import ConfigError, VbgcamError
from vbgcam.outputs import FrameSink, VirtualCamera
from vbgcam.pipeline.build import compositor_for
from vbgcam.pipeline.wiring import Pipeline
from vbgcam.sources import DemoSource
from vbgcam.sources.demo_scene import make_beach

log = logging.getLogger(__name__)

RSS_GROWTH_LIMIT_MIB = 5.0
WARMUP_S = 10.0
BACKEND_NAME = "vbgcam-soak"
# How often the progress bar and the RSS peak are updated.
SAMPLE_PERIOD_S = 1.0


class CountingBackend:
    """A pyvirtualcam backend that does what v4l2loopback's does to a frame (BGR to I420,
    into one preallocated buffer) and counts it instead of writing it to a device."""

    def __init__(
        self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: Any
    ) -> None:
        self.width, self.height = width, height
        self.i420 = np.empty((height * 3 // 2, width), np.uint8)
        self.frames = 0
        self._device = device or "in-process"

    def send(self, frame: np.ndarray) -> None:
        bgr = frame.reshape(self.height, self.width, 3)
        cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420, dst=self.i420)
        self.frames += 1

    def close(self) -> None:
        pass

    def device(self) -> str:
        return self._device

    def native_fourcc(self) -> int | None:
        return None


class _LogCounter(logging.Handler):
    """Counts WARNING and ERROR records and keeps the first few, for the report."""

    KEEP = 5

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.first) < self.KEEP:
            self.first.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@dataclass
class SoakReport:
    size: str
    fps: float
    segmenter: str
    output: str
    measured_s: float
    rss_start_mib: float
    rss_end_mib: float
    rss_peak_mib: float
    output_fps: float
    cpu_ms_per_frame: float  # whole process, per frame sent
    cpu_percent: float  # of one core
    frames_sent: int
    repeated: int
    skipped: int
    camera_frames_dropped: int
    warnings_and_errors: int
    first_warnings: list[str] = field(default_factory=list)
    stopped_early: str = ""

    @property
    def rss_growth_mib(self) -> float:
        return self.rss_end_mib - self.rss_start_mib

    @property
    def dropped(self) -> int:
        return self.repeated + self.skipped

    def failures(self) -> list[str]:
        """Why the soak failed; empty when it passed."""
        reasons = []
        if self.stopped_early:
            reasons.append(self.stopped_early)
        if self.rss_growth_mib >= RSS_GROWTH_LIMIT_MIB:
            reasons.append(
                f"RSS grew by {self.rss_growth_mib:.1f} MiB (limit {RSS_GROWTH_LIMIT_MIB:g})"
            )
        if self.warnings_and_errors:
            reasons.append(f"{self.warnings_and_errors} warnings or errors logged")
        return reasons

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "rss_growth_mib": round(self.rss_growth_mib, 2),
            "dropped": self.dropped,
            "passed": not self.failures(),
            "failures": self.failures(),
        }


def rss_mib() -> float:
    """This process's resident set size now, in MiB (``VmRSS`` is in KiB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def _background_path() -> Path:
    path = EXAMPLES_DIR / "beach.jpg"
    if not path.is_file():  # an installed copy without the examples folder
        path = Path(sys.prefix) / "vbgcam-beach.jpg"
        if not path.is_file():
            cv2.imwrite(str(path), make_beach(1920, 1080))
    return path


def _settings(size: str, fps: float, segmenter: str) -> Settings:
    return build_settings(
        {
            "camera.size": size,
            "camera.fps": fps,
            "segmenter.name": segmenter,
            "background.path": str(_background_path()),
        }
    )


def _sinks(device: str, size: tuple[int, int], fps: float) -> list[FrameSink]:
    if device == "none":
        return []
    if device:
        return [VirtualCamera(size, fps, device, None)]
    return [VirtualCamera(size, fps, None, BACKEND_NAME)]


@dataclass(frozen=True)
class _Mark:
    """The counters at one moment; a report is the difference of two marks."""

    at: float
    rss_mib: float
    cpu_s: float  # whole process, as devtools/cpu.py counts it
    sent: int
    received: int
    repeated: int
    dropped: int


def _mark(pipeline: Pipeline, received: Callable[[], int]) -> _Mark:
    return _Mark(
        at=time.monotonic(),
        rss_mib=rss_mib(),
        cpu_s=process_cpu_s(),
        sent=pipeline.sender.sent,
        received=received(),
        repeated=pipeline.sender.repeated,
        dropped=pipeline.dropped,
    )


def _received_counter(pipeline: Pipeline, sinks: list[FrameSink]) -> Callable[[], int]:
    """How many frames the output has received so far (sent, without an output)."""
    camera = next((s.camera for s in sinks if isinstance(s, VirtualCamera)), None)
    if camera is None:
        return lambda: pipeline.sender.sent
    return lambda: int(camera.frames_sent)


def soak(
    minutes: float,
    size: str,
    fps: float,
    segmenter: str,
    device: str,
    warmup_s: float,
    console: Console,
) -> SoakReport:
    """Run the pipeline for ``minutes`` (the warm-up included) and measure it."""
    total_s = minutes * 60
    if total_s <= warmup_s:
        raise ConfigError(f"--minutes must be longer than the {warmup_s:g} s warm-up")
    settings = _settings(size, fps, segmenter)
    cam = settings.camera
    compositor = compositor_for(settings)
    sinks = _sinks(device, cam.size, cam.fps)
    pipeline = Pipeline(
        DemoSource(cam.size, cam.fps),
        compositor,
        sinks,
        cam.size,
        cam.fps,
        reopen=lambda: DemoSource(cam.size, cam.fps),
    )
    received = _received_counter(pipeline, sinks)
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            pipeline.run()
        except BaseException as exc:  # reported with the numbers so far
            outcome["error"] = exc

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    counter = _LogCounter()
    logging.getLogger().addHandler(counter)
    runner = threading.Thread(target=run, name="soak-pipeline")
    first: _Mark | None = None
    rss_peak = 0.0
    stopped_early = ""
    started = time.monotonic()
    runner.start()
    try:
        with progress:
            task = progress.add_task("warming up", total=total_s, status="")
            previous = _mark(pipeline, received)
            while (elapsed := time.monotonic() - started) < total_s:
                if not runner.is_alive():
                    stopped_early = f"the pipeline stopped: {outcome.get('error')!r}"
                    break
                time.sleep(min(SAMPLE_PERIOD_S, total_s - elapsed))
                now = _mark(pipeline, received)
                if first is None and now.at - started >= warmup_s:
                    first = now
                    progress.update(task, description="soaking")
                if first is not None:
                    rss_peak = max(rss_peak, now.rss_mib)
                recent_fps = (now.received - previous.received) / (now.at - previous.at)
                previous = now
                progress.update(
                    task,
                    completed=now.at - started,
                    status=f"{recent_fps:5.1f} fps  RSS {now.rss_mib:.1f} MiB  "
                    f"{counter.count} warnings",
                )
    except KeyboardInterrupt:
        stopped_early = "interrupted"
    finally:
        last = _mark(pipeline, received)
        pipeline.request_stop()
        runner.join(10)
        logging.getLogger().removeHandler(counter)
    if first is None:  # stopped during the warm-up: nothing measured
        first = last
    measured_s = last.at - first.at
    sent = last.sent - first.sent
    return SoakReport(
        size=f"{cam.size[0]}x{cam.size[1]}",
        fps=cam.fps,
        segmenter=f"{segmenter} ({type(compositor.segmenter).__name__})",
        output={"": "in-process virtual camera", "none": "none"}.get(device, device),
        measured_s=round(measured_s, 2),
        rss_start_mib=round(first.rss_mib, 2),
        rss_end_mib=round(last.rss_mib, 2),
        rss_peak_mib=round(max(rss_peak, first.rss_mib, last.rss_mib), 2),
        output_fps=round((last.received - first.received) / measured_s, 2) if measured_s else 0,
        cpu_ms_per_frame=round(1000 * (last.cpu_s - first.cpu_s) / sent, 2) if sent else 0,
        cpu_percent=round(100 * (last.cpu_s - first.cpu_s) / measured_s, 1) if measured_s else 0,
        frames_sent=sent,
        repeated=last.repeated - first.repeated,
        # Ticks the sender skipped because it fell behind: frames due that were never sent.
        skipped=max(0, int(measured_s * cam.fps) - sent),
        camera_frames_dropped=last.dropped - first.dropped,
        warnings_and_errors=counter.count,
        first_warnings=counter.first,
        stopped_early=stopped_early,
    )


def _print_report(report: SoakReport) -> None:
    failures = report.failures()
    lines = [
        f"soak: {report.measured_s / 60:.1f} min measured after a warm-up, {report.size} @ "
        f"{report.fps:g} fps, demo camera, {report.segmenter}, output: {report.output}",
        f"RSS      {report.rss_start_mib:.1f} MiB after warm-up, {report.rss_end_mib:.1f} MiB "
        f"at the end (peak {report.rss_peak_mib:.1f}): {report.rss_growth_mib:+.2f} MiB "
        f"(limit {RSS_GROWTH_LIMIT_MIB:g})",
        f"output   {report.output_fps:.2f} fps ({report.frames_sent} frames sent)",
        f"CPU      {report.cpu_ms_per_frame:.2f} ms a frame, {report.cpu_percent:.1f} % of one "
        "core (whole process)",
        f"dropped  {report.dropped} frames: {report.repeated} repeated, {report.skipped} "
        f"ticks skipped; {report.camera_frames_dropped} camera frames never composited",
        f"log      {report.warnings_and_errors} warnings or errors",
        *(f"         {line}" for line in report.first_warnings),
        "PASSED" if not failures else "FAILED: " + "; ".join(failures),
    ]
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="run time, warm-up included")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--segmenter", default="auto", help="as in vbgcam run (default: auto)")
    parser.add_argument(
        "--device",
        default="",
        help="none: no output; /dev/videoN: a real virtual camera "
        "(default: an in-process one, no v4l2loopback needed)",
    )
    parser.add_argument("--warmup-seconds", type=float, default=WARMUP_S)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    console = Console(stderr=True)
    display = RichHandler(console=console, show_path=False) if console.is_terminal else None
    logging.basicConfig(
        level=logging.WARNING,
        format="%(message)s" if display else "%(levelname)s %(name)s: %(message)s",
        handlers=[display] if display else None,
    )
    if not args.device:
        pyvirtualcam.register_backend(BACKEND_NAME, CountingBackend)
    try:
        report = soak(
            args.minutes,
            args.size,
            args.fps,
            args.segmenter,
            args.device,
            args.warmup_seconds,
            console,
        )
    except VbgcamError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    finally:
        pyvirtualcam.camera.BACKENDS.pop(BACKEND_NAME, None)
    if args.json:
        json.dump(report.as_dict(), sys.stdout, indent=2)
        print()
    else:
        _print_report(report)
    return 1 if report.failures() else 0


if __name__ == "__main__":
    raise SystemExit(main())
