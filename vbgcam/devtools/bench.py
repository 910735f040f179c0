"""Compositor benchmark: vbgcam against the original tutorial loop, on the same frames, and
what the compositor costs a user's CPU at the camera rate.

Speed: every method runs in one process, interleaved, so machine noise hits them alike; the
table reports medians and the ratio of medians. CPU: the compositor paced at 30 fps on
absolute deadlines, as live, and the whole process's CPU (``devtools/cpu.py``: every thread,
native pools included) divided by the frames composed; configurations take turns, each
measured in two halves, and the table gives the median of the halves. ``--idle``: the live
pipeline with an app watching and with none. ``collect`` returns what ``--json`` prints, so
``bench_all`` takes the data without reading it back from stdout. Run with ``make bench`` or
``python -m vbgcam.devtools.bench --help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from vbgcam.backgrounds import BlurBackground, ImageBackground
from vbgcam.compose import Compositor
from vbgcam.config.settings import (
    CameraSettings,
    MatteSettings,
    SegmenterSettings,
    Settings,
    build_settings,
)
from vbgcam.devtools import report
from vbgcam.devtools.cpu import measure
from vbgcam.errors import ModelError
from vbgcam.pipeline.build import compositor_for
from vbgcam.sources.demo_scene import DemoScene, make_beach
from vbgcam.threadpools import limit_loaded_pools, use_opencv_threads

TUTORIAL_THRESHOLD = 3


def tutorial_step(
    frame: np.ndarray, previous: np.ndarray, background_image: np.ndarray
) -> np.ndarray:
    """The original tutorial's loop body, written the straightforward NumPy way.

    As a direct port writes it: the background is resized every frame, the difference is
    taken in NumPy's default integer type and turned grey in float64 (the BT.601 weights
    OpenCV's BGR2GRAY uses), and pixels are copied through a boolean mask.
    """
    height, width = frame.shape[:2]
    background = cv2.resize(background_image, (width, height))
    difference = np.abs(frame.astype(int) - previous.astype(int))
    grey = 0.114 * difference[:, :, 0] + 0.587 * difference[:, :, 1] + 0.299 * difference[:, :, 2]
    person = grey > TUTORIAL_THRESHOLD
    output = background.copy()
    output[person] = frame[person]
    return output


_ORIGINAL_DIFF = SegmenterSettings(name="diff", threshold=TUTORIAL_THRESHOLD, hold_s=0, clean=False)

# (label, segmenter settings, matte refinement on, background kind)
CONFIGURATIONS = (
    ("diff original + image", _ORIGINAL_DIFF, False, "image"),
    ("diff original + blur", _ORIGINAL_DIFF, False, "blur"),
    ("diff + refine + image", SegmenterSettings(name="diff"), True, "image"),
    ("selfie + refine + image", SegmenterSettings(name="selfie"), True, "image"),
    ("selfie + refine + blur", SegmenterSettings(name="selfie"), True, "blur"),
)


def _compose_step(
    compositor: Compositor, frames: list[np.ndarray], out: np.ndarray, index: int
) -> object:
    return compositor.compose(frames[index], index / 30, out)


@dataclass(frozen=True)
class Row:
    size: str
    frames: str
    method: str
    median_ms: float
    p99_ms: float
    speedup_vs_tutorial: float


# A webcam in room light has a noise of a few grey levels; the demo scene has none.
SENSOR_NOISE_SIGMA = 2.5


def _demo_frames(size: tuple[int, int], count: int, noisy: bool) -> list[np.ndarray]:
    scene = DemoScene(*size)
    rng = np.random.default_rng(0)
    frames = []
    for index in range(count):
        frame = np.empty((size[1], size[0], 3), np.uint8)
        scene.render(index / 30, frame)
        if noisy:
            noise = rng.normal(0.0, SENSOR_NOISE_SIGMA, frame.shape)
            frame = np.clip(frame + noise, 0, 255).astype(np.uint8)
        frames.append(frame)
    return frames


def p99(values: list[float]) -> float:
    """The 99th percentile; the inclusive method, so that on fewer than 99 samples it stays
    within what was measured instead of extrapolating past the slowest frame."""
    if len(values) < 2:  # quantiles needs two points
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def bench_size(
    size: tuple[int, int], frame_count: int, rounds: int, noisy: bool, threads: int = 1
) -> list[Row]:
    """Time each method on the same frames; methods take turns, a pass over the clip each,
    ``rounds`` times, so machine noise hits them alike without one evicting the other's
    buffers from the cache on every frame."""
    frames = _demo_frames(size, frame_count, noisy)
    beach = make_beach(1920, 1080)
    beach_background = ImageBackground.from_image(beach, size)
    methods: dict[str, Callable[[int], object]] = {}
    previous = {"value": frames[0]}

    def tutorial(index: int) -> object:
        result = tutorial_step(frames[index], previous["value"], beach)
        previous["value"] = frames[index]
        return result

    out = np.empty_like(frames[0])
    methods["tutorial loop (reference)"] = tutorial
    blur_background = BlurBackground(60, size)
    for label, segmenter, refine, background in CONFIGURATIONS:
        settings = Settings(
            camera=CameraSettings(size=size),
            segmenter=dataclasses.replace(segmenter, threads=threads),
            matte=MatteSettings(refine=refine),
        )
        try:  # through the recipe the daemon uses, so the bench times what a user runs
            compositor = compositor_for(
                settings, beach_background if background == "image" else blur_background
            )
        except ModelError as exc:
            print(f"skipped {label}: {exc}", file=sys.stderr)
            continue
        methods[label] = functools.partial(_compose_step, compositor, frames, out)
    timings: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(rounds):
        for name, step in methods.items():
            for index in range(frame_count):
                start = time.perf_counter()
                step(index)
                timings[name].append((time.perf_counter() - start) * 1e3)
    reference = statistics.median(timings["tutorial loop (reference)"])
    return [
        Row(
            size=f"{size[0]}x{size[1]}",
            frames="demo + sensor noise" if noisy else "demo",
            method=name,
            median_ms=statistics.median(values),
            p99_ms=p99(values),
            speedup_vs_tutorial=reference / statistics.median(values),
        )
        for name, values in timings.items()
    ]


@dataclass(frozen=True)
class PacedRow:
    size: str
    method: str
    cpu_ms_per_frame: float  # whole process, median of the measured halves
    percent_of_core: float


# Settings on top of the defaults, for the paced CPU table; the first row is what
# ``vbgcam run`` uses with an image background.
PACED: tuple[tuple[str, dict[str, str]], ...] = (
    ("default: auto + image (rvm where it keeps up)", {}),
    ("rvm + image", {"segmenter.name": "rvm"}),
    ("selfie (auto model) + refine + image", {"segmenter.name": "selfie"}),
    ("selfie general + refine + image", {"segmenter.name": "selfie", "segmenter.model": "general"}),
    (
        "selfie landscape + refine + image",
        {"segmenter.name": "selfie", "segmenter.model": "landscape"},
    ),
    ("diff + refine + image", {"segmenter.name": "diff"}),
)


def measure_paced_cpu(
    size: tuple[int, int], seconds: float, fps: float = 30.0, halves: int = 2, threads: int = 1
) -> list[PacedRow]:
    """Whole-process CPU per frame of each compositor paced at ``fps`` on camera-like frames,
    one after the other, each for ``halves`` turns of ``seconds / halves``."""
    frames = _demo_frames(size, 90, noisy=True)
    background = ImageBackground.from_image(make_beach(1920, 1080), size)
    out = np.empty_like(frames[0])
    compositors: dict[str, Compositor] = {}
    for label, overrides in PACED:
        settings = build_settings(
            {"camera.size": f"{size[0]}x{size[1]}", "segmenter.threads": threads, **overrides}
        )
        try:
            compositors[label] = compositor_for(settings, background)
        except ModelError as exc:
            print(f"skipped {label}: {exc}", file=sys.stderr)
            continue
        compositors[label].compose(frames[0], 0.0, out)  # loads the model: start-up, not a frame
    per_frame: dict[str, list[float]] = {label: [] for label in compositors}
    shares: dict[str, list[float]] = {label: [] for label in compositors}
    count = max(1, round(seconds / halves * fps))
    for _ in range(halves):
        for label, compositor in compositors.items():
            with measure() as window:
                deadline = time.monotonic()
                for index in range(count):
                    compositor.compose(frames[index % len(frames)], index / fps, out)
                    deadline += 1 / fps
                    time.sleep(max(0.0, deadline - time.monotonic()))
                window.frames = count
            per_frame[label].append(window.ms_per_frame)
            shares[label].append(window.percent_of_core)
    return [
        PacedRow(
            size=f"{size[0]}x{size[1]}",
            method=label,
            cpu_ms_per_frame=statistics.median(per_frame[label]),
            percent_of_core=statistics.median(shares[label]),
        )
        for label in compositors
    ]


class _CountingSink:
    """Stands in for the virtual camera: takes frames and counts them."""

    def __init__(self) -> None:
        self.frames = 0

    def send(self, frame_bgr: np.ndarray) -> None:
        self.frames += 1

    def close(self) -> None:
        pass


def measure_idle_cpu(size: tuple[int, int], seconds: float, threads: int = 1) -> dict[str, float]:
    """Whole-process CPU of the live pipeline on the demo camera with the default
    compositor and an image background, first with an app watching, then with none
    (on-demand idle: camera released, one frame a second out)."""
    from vbgcam.pipeline.live import LiveController
    from vbgcam.pipeline.wiring import Pipeline
    from vbgcam.sources import DemoSource

    settings = build_settings({"camera.size": f"{size[0]}x{size[1]}", "segmenter.threads": threads})
    background = ImageBackground.from_image(make_beach(1920, 1080), size)
    sink = _CountingSink()
    pipeline = Pipeline(
        DemoSource(size, 30.0),
        compositor_for(settings, background),
        [sink],
        size,
        30.0,
        reopen=lambda: DemoSource(size, 30.0),
    )
    live = LiveController(pipeline, settings)
    result: dict[str, float] = {}

    def sample(label: str) -> None:
        frames = sink.frames
        with measure() as window:
            time.sleep(seconds)
        window.frames = sink.frames - frames
        result[f"{label}_cpu_percent"] = window.percent_of_core
        result[f"{label}_cpu_ms_per_frame"] = window.ms_per_frame
        result[f"{label}_fps_out"] = window.frames / window.wall_s

    with pipeline.in_background("bench-pipeline"):
        time.sleep(1.0)
        sample("watched")
        live.set_watched(False)
        time.sleep(1.5)
        sample("idle")
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="640x360,1280x720,1920x1080")
    parser.add_argument("--frames", type=int, default=60, help="distinct frames per size")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the frames")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--idle", action="store_true", help="only measure live CPU with and without a viewer"
    )
    parser.add_argument(
        "--paced-seconds",
        type=float,
        default=8.0,
        help="seconds of each paced CPU measurement (default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=SegmenterSettings().threads,
        help="OpenCV threads, as [segmenter] threads (0: one per core; default: %(default)s)",
    )
    return parser.parse_args(argv)


def measure_extras(size: tuple[int, int], frames: int = 200) -> list[dict[str, Any]]:
    """What auto-framing and ``people = "main"`` add to a frame, flat out (median ms): the
    framing stage choosing its crop and scaling the frame under it back up (after it
    settled on a person in the left third; its alpha is made for the crop by the matte at
    no extra cost), and the main-person filter on a 320 px mask with two people in it."""
    from vbgcam.framing import FramingStage
    from vbgcam.segmenters.people import MainPerson
    from vbgcam.sources.demo_scene import DemoScene

    width, height = size
    scene = DemoScene(width, height)
    frame = np.empty((height, width, 3), np.uint8)
    scene.render(0.0, frame)
    alpha = np.zeros((height, width), np.uint8)
    cv2.ellipse(
        alpha, (width * 27 // 100, height // 2), (width // 14, height // 6), 0, 0, 360, 255, -1
    )
    alpha[height // 2 :, width * 18 // 100 : width * 36 // 100] = 255
    small = cv2.resize(alpha, (320, 180), interpolation=cv2.INTER_AREA)
    stage = FramingStage(2.0, 30.0)
    for _ in range(120):  # settle
        stage.decide(small, size)
    framing_ms = []
    for _ in range(frames):
        start = time.perf_counter()
        crop = stage.decide(small, size)
        if crop is not None:
            stage.frame(frame, crop)
        framing_ms.append((time.perf_counter() - start) * 1e3)
    mask = np.zeros((180, 320), np.uint8)
    cv2.rectangle(mask, (100, 40), (200, 180), 255, -1)
    cv2.rectangle(mask, (250, 60), (300, 180), 255, -1)
    people = MainPerson(10.0, 30.0)
    people_ms = []
    for _ in range(frames):
        start = time.perf_counter()
        people.keep(mask)
        people_ms.append((time.perf_counter() - start) * 1e3)
    zoom = height / stage.crop.h if stage.crop is not None else 1.0
    return [
        {
            "size": f"{width}x{height}",
            "stage": f"framing ({zoom:.1f}x zoom)",
            "median_ms": statistics.median(framing_ms),
            "p99_ms": p99(framing_ms),
        },
        {
            "size": "320x180 mask",
            "stage": "people = main (two people)",
            "median_ms": statistics.median(people_ms),
            "p99_ms": p99(people_ms),
        },
    ]


def collect(args: argparse.Namespace) -> dict[str, Any]:
    """Measure as ``args`` ask and return what ``--json`` prints: with ``--idle`` the idle
    dict, else ``{"meta": ..., "paced_cpu": [PacedRow...], "rows": [Row...]}`` as dicts."""
    limit_loaded_pools()
    use_opencv_threads(args.threads)
    if args.idle:
        return measure_idle_cpu((1280, 720), args.paced_seconds, args.threads)
    sizes = [tuple(int(part) for part in text.lower().split("x")) for text in args.sizes.split(",")]
    paced: list[PacedRow] = []
    for width, height in sizes:
        paced.extend(measure_paced_cpu((width, height), args.paced_seconds, threads=args.threads))
    rows: list[Row] = []
    for width, height in sizes:
        for noisy in (False, True):
            rows.extend(bench_size((width, height), args.frames, args.rounds, noisy, args.threads))
    meta = {  # after measuring: the thread count as the compositors left it
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "cpu_threads": cv2.getNumThreads(),
    }
    extras = [row for width, height in sizes for row in measure_extras((width, height))]
    return {
        "meta": meta,
        "paced_cpu": [asdict(r) for r in paced],
        "rows": [asdict(r) for r in rows],
        "extras": extras,
    }


def print_table(data: dict[str, Any], args: argparse.Namespace) -> None:
    """The human-readable form of ``collect``'s data."""
    if args.idle:
        print(
            "live pipeline, demo camera 1280x720, default compositor + image, whole process: "
            f"{data['watched_cpu_percent']:.1f} % of a core "
            f"({data['watched_cpu_ms_per_frame']:.2f} ms a frame) at "
            f"{data['watched_fps_out']:.1f} fps with an app watching; "
            f"{data['idle_cpu_percent']:.2f} % at {data['idle_fps_out']:.1f} fps with none "
            "(camera released)"
        )
        return
    print(
        "compositor paced at 30 fps on camera-like frames: whole-process CPU per frame "
        f"(median of 2 turns of {args.paced_seconds / 2:g} s each)"
    )
    print("| size | method | CPU ms/frame | % of one core |")
    print("|---|---|---:|---:|")
    for paced_row in data["paced_cpu"]:
        print(
            f"| {paced_row['size']} | {paced_row['method']} | "
            f"{paced_row['cpu_ms_per_frame']:.2f} | {paced_row['percent_of_core']:.1f} |"
        )
    print()
    meta = data["meta"]
    print(
        f"compositor ms per frame flat out, median of {args.frames} frames x {args.rounds} "
        f"rounds (OpenCV {meta['opencv']}, {meta['cpu_threads']} threads)"
    )
    print("| size | frames | method | median ms | p99 ms | speed-up vs tutorial |")
    print("|---|---|---|---:|---:|---:|")
    for row in data["rows"]:
        print(
            f"| {row['size']} | {row['frames']} | {row['method']} | {row['median_ms']:.2f} | "
            f"{row['p99_ms']:.2f} | {row['speedup_vs_tutorial']:.1f}x |"
        )
    print()
    print("what framing and people = main add to a frame, flat out")
    print("| size | stage | median ms | p99 ms |")
    print("|---|---|---:|---:|")
    for extra in data.get("extras", []):
        print(
            f"| {extra['size']} | {extra['stage']} | {extra['median_ms']:.2f} | "
            f"{extra['p99_ms']:.2f} |"
        )


def main(argv: list[str] | None = None) -> int:
    return report.run(parse_args, collect, print_table, argv)


if __name__ == "__main__":
    raise SystemExit(main())
