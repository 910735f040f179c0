"""End-to-end benchmark: the whole live path, per stage, flat out and paced at 30 fps.

For each input and each size, in one process. Inputs: "clip", a webcam-like MJPG clip built
from ../shared/data when present (a person enters, sways widely, keeps still, leaves);
"calm", one built the same way of a person who sways gently (at most 1.3 px a frame at 720p,
as someone talking on a call), where ``skip_calm`` runs the network on every other frame;
and the generated demo scene. Measured:

- per stage, median and p99 ms: capture decode, segmentation, refinement, background,
  blend, and the output conversion to I420 that the virtual camera needs;
- flat out: frames per second when every stage runs back to back on one thread with no
  pacing, and through the real threaded pipeline (capture and decode on their own thread,
  overlapping the compositor) fed by a camera that delivers as fast as it can;
- paced at 30 fps through the real threaded pipeline: added latency (capture timestamp to
  hand-over to the output) median and p99, and CPU per output frame of the whole process
  (``devtools/cpu.py``: every thread, native pools included, as a system monitor counts).

``collect`` returns the rows ``--json`` prints, for ``bench_all``. Run with ``make bench`` or
``python -m vbgcam.devtools.bench_pipeline --help``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vbgcam import EXAMPLES_DIR
from vbgcam.config.settings import SegmenterSettings, Settings, build_settings
from vbgcam.devtools import report
from vbgcam.devtools.bench import p99
from vbgcam.devtools.cpu import measure
from vbgcam.errors import ModelError
from vbgcam.pipeline.build import compositor_for
from vbgcam.pipeline.wiring import Pipeline
from vbgcam.sources import DemoSource, Source, VideoFileSource
from vbgcam.sources.demo_scene import make_beach


@dataclass(frozen=True)
class PipelineRow:
    input: str
    size: str
    segmenter: str
    stage_ms: dict[str, tuple[float, float]]  # stage -> (median, p99)
    flat_out_fps: float
    threaded_fps: float  # frames composed per second by the real pipeline, camera unpaced
    latency_ms: tuple[float, float]  # median, p99, paced at 30 fps
    cpu_ms_per_frame: float  # whole-process CPU per output frame, paced at 30 fps


def _settings(size: tuple[int, int], segmenter: str, beach: Path, threads: int) -> Settings:
    return build_settings(
        {
            "camera.size": f"{size[0]}x{size[1]}",
            "segmenter.name": segmenter,
            "segmenter.threads": threads,
            "background.path": str(beach),
        }
    )


def _open(input_name: str, clips: dict[str, Path], size: tuple[int, int]) -> Source:
    if input_name == "demo":
        return DemoSource(size, 30.0)
    return VideoFileSource(clips[input_name], loop=True)


class _ConvertingSink:
    """Converts each frame to I420 as the v4l2loopback backend does, and counts it."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.i420 = np.empty((size[1] * 3 // 2, size[0]), np.uint8)
        self.frames = 0

    def send(self, frame_bgr: np.ndarray) -> None:
        cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420, dst=self.i420)
        self.frames += 1

    def close(self) -> None:
        pass


def _threaded_flat_out(
    input_name: str,
    clips: dict[str, Path],
    size: tuple[int, int],
    settings: Settings,
    seconds: float,
) -> float:
    """Frames per second the real pipeline composes when the camera is not the limit: the
    source's rate is raised so the capture thread never waits, and the compositor takes
    the newest frame each time, as it does live."""
    source = _open(input_name, clips, size)
    source.fps = 10_000.0
    pipeline = Pipeline(source, compositor_for(settings), [_ConvertingSink(size)], size, 30.0)
    with pipeline.in_background("bench-pipeline"):
        time.sleep(1.0)
        composed, start = pipeline.composed, time.perf_counter()
        time.sleep(seconds)
        return (pipeline.composed - composed) / (time.perf_counter() - start)


def bench_one(
    input_name: str,
    clips: dict[str, Path],
    size: tuple[int, int],
    segmenter: str,
    beach: Path,
    frames: int,
    paced_s: float,
    threads: int,
) -> PipelineRow:
    settings = _settings(size, segmenter, beach, threads)
    # Flat out: each stage back to back on one thread, timed separately.
    source = _open(input_name, clips, size)
    compositor = compositor_for(settings)
    frame = np.empty((size[1], size[0], 3), np.uint8)
    out = np.empty_like(frame)
    i420 = np.empty((size[1] * 3 // 2, size[0]), np.uint8)
    stages: dict[str, list[float]] = {
        k: [] for k in ("decode", "segment", "refine", "background", "blend", "convert", "total")
    }
    try:
        # The first frame loads the model (30 ms here): that is start-up, not a frame's cost.
        source.read_into(frame)
        compositor.compose(frame, 0.0, out)
        for index in range(1, frames + 1):
            start = time.perf_counter()
            source.read_into(frame)
            decoded = time.perf_counter()
            compositor.compose(frame, index / 30, out)
            composed = time.perf_counter()
            cv2.cvtColor(out, cv2.COLOR_BGR2YUV_I420, dst=i420)
            done = time.perf_counter()
            times = compositor.times
            stages["decode"].append((decoded - start) * 1e3)
            stages["segment"].append(times.segment_ms)
            stages["refine"].append(times.refine_ms)
            stages["background"].append(times.background_ms)
            stages["blend"].append(times.blend_ms)
            stages["convert"].append((done - composed) * 1e3)
            stages["total"].append((done - start) * 1e3)
    finally:
        source.close()
    flat_out_fps = 1e3 / statistics.median(stages["total"])
    threaded_fps = _threaded_flat_out(input_name, clips, size, settings, paced_s)

    # Paced: the real threaded pipeline at 30 fps, measured after a second of warm-up.
    sink = _ConvertingSink(size)
    pipeline = Pipeline(
        _open(input_name, clips, size), compositor_for(settings), [sink], size, 30.0
    )
    with pipeline.in_background("bench-pipeline"):
        time.sleep(1.0)
        pipeline.sender.latencies_ms.clear()
        sent = sink.frames
        with measure() as window:
            time.sleep(paced_s)
        window.frames = sink.frames - sent
        cpu_ms = window.ms_per_frame
        latencies = list(pipeline.sender.latencies_ms)
    return PipelineRow(
        input=input_name,
        size=f"{size[0]}x{size[1]}",
        segmenter=segmenter,
        stage_ms={k: (statistics.median(v), p99(v)) for k, v in stages.items()},
        flat_out_fps=flat_out_fps,
        threaded_fps=threaded_fps,
        latency_ms=(statistics.median(latencies), p99(latencies)) if latencies else (0, 0),
        cpu_ms_per_frame=cpu_ms,
    )


def _clips() -> dict[str, Path]:
    """The webcam-like clips (built once from ../shared/data and cached), if the data is here."""
    from vbgcam.evaluation.clips import ClipConfig, default_clips_dir, ensure_clips
    from vbgcam.evaluation.runner import default_data_dir

    human_seg = default_data_dir() / "human-seg"
    if not human_seg.is_dir():
        return {}
    # "calm": a person who sways 1 % of the width over 2 s with a slight tilt, for 8 s:
    # always in view, moving at most 1.3 px a frame at 720p.
    calm = ClipConfig(script=(("sway", 8.0),), sway_share=0.01, sway_deg=0.5)
    found: dict[str, Path] = {}
    for name, directory, config in (
        ("clip", default_clips_dir(), ClipConfig()),
        ("calm", default_clips_dir() / "calm", calm),
    ):
        clips = ensure_clips(human_seg, directory, count=1, config=config)
        if clips:
            found[name] = clips[0].video_path
    return found


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="640x360,1280x720,1920x1080")
    parser.add_argument("--segmenters", default="selfie,diff")
    parser.add_argument("--frames", type=int, default=90, help="frames timed flat out")
    parser.add_argument("--paced-seconds", type=float, default=4.0)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--threads",
        type=int,
        default=SegmenterSettings().threads,
        help="OpenCV threads, as [segmenter] threads (0: one per core; default: %(default)s)",
    )
    return parser.parse_args(argv)


def _beach_path() -> Path:
    """The background picture, written out once where an installed copy lacks the examples."""
    beach_path = EXAMPLES_DIR / "beach.jpg"
    if not beach_path.is_file():
        beach_path = Path(sys.prefix) / "vbgcam-beach.jpg"
        cv2.imwrite(str(beach_path), make_beach(1920, 1080))
    return beach_path


def collect(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Measure as ``args`` ask and return what ``--json`` prints: one ``PipelineRow`` as a dict
    per size, segmenter and input; a segmenter whose model is missing is left out."""
    clips = _clips()
    inputs = [*clips, "demo"]
    if not clips:
        print("no ../shared/data: timing the demo scene only", file=sys.stderr)
    beach_path = _beach_path()
    rows: list[PipelineRow] = []
    for text in args.sizes.split(","):
        width, height = (int(v) for v in text.lower().split("x"))
        for segmenter in args.segmenters.split(","):
            for input_name in inputs:
                try:
                    rows.append(
                        bench_one(
                            input_name,
                            clips,
                            (width, height),
                            segmenter,
                            beach_path,
                            args.frames,
                            args.paced_seconds,
                            args.threads,
                        )
                    )
                except ModelError as exc:
                    print(f"skipped {segmenter}: {exc}", file=sys.stderr)
    return [asdict(r) for r in rows]


def print_table(data: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """The human-readable form of ``collect``'s rows."""
    stages = ("decode", "segment", "refine", "background", "blend", "convert")
    print(
        "end to end, image background; ms per frame as median / p99; "
        "latency and CPU paced at 30 fps through the threaded pipeline"
    )
    print(
        "| input | size | segmenter | "
        + " | ".join(stages)
        + " | flat-out fps (one thread / pipeline) | latency ms | CPU ms/frame |"
    )
    print("|---|---|---|" + "---:|" * (len(stages) + 3))
    for row in data:
        stage_ms, latency_ms = row["stage_ms"], row["latency_ms"]
        cells = " | ".join(f"{stage_ms[s][0]:.2f} / {stage_ms[s][1]:.2f}" for s in stages)
        print(
            f"| {row['input']} | {row['size']} | {row['segmenter']} | {cells} | "
            f"{row['flat_out_fps']:.0f} / {row['threaded_fps']:.0f} | "
            f"{latency_ms[0]:.1f} / {latency_ms[1]:.1f} | {row['cpu_ms_per_frame']:.1f} |"
        )


def main(argv: list[str] | None = None) -> int:
    return report.run(parse_args, collect, print_table, argv)


if __name__ == "__main__":
    raise SystemExit(main())
