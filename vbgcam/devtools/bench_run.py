"""`vbgcam run` as a user starts it, measured the way their system monitor shows it.

Each round starts ``vbgcam run --camera INPUT --bg beach.jpg --device none --no-control
--frames N`` (or, for the ``blur`` background, ``--bg-mode blur`` instead of ``--bg``: the
blurred camera picture a plain ``vbgcam run`` shows; for ``none``, ``--bg-mode none``: the
camera picture as it is, no mask made, which measures capture, decoding and the pipeline
alone, the floor under every segmenter) in a process of its own and reads that
process's CPU (every thread and every child, ``devtools/cpu.py``) from a few seconds after
start, once the model is loaded, to the end of the steady stretch; the run then ends by
itself and its last log line gives the capture-to-output latency (median and p99 over the
last 300 frames). Also reported: user plus system over wall for the whole run, start-up
included, which is what ``/usr/bin/time`` shows. Inputs: the webcam-like 720p MJPG clip
built from ../shared/data when present, and the generated demo camera. ``collect`` returns
the rows ``--json`` prints, for ``bench_all``. Run ``python -m vbgcam.devtools.bench_run --help``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vbgcam import EXAMPLES_DIR
from vbgcam.devtools import report
from vbgcam.devtools.cpu import process_cpu_s

FPS = 30.0
LATENCY = re.compile(r"latency median ([\d.]+) ms, p99 ([\d.]+) ms")


# What ``--backgrounds`` names: the picture behind the person, as ``vbgcam run`` options.
BACKGROUNDS = ("beach", "blur", "none")
# The segmenter column of the ``none`` rows: no mask is made, whichever is named; measured
# once per input with ``diff``, which loads no model.
NO_MASK = "(none)"


@dataclass(frozen=True)
class RunRow:
    input: str
    segmenter: str
    background: str
    steady_percent_of_core: float  # median over rounds
    steady_cpu_ms_per_frame: float
    whole_run_percent_of_core: float  # start-up included, as /usr/bin/time shows it
    latency_ms: tuple[float, float]  # median, p99 of the last round


def _beach() -> Path:
    path = EXAMPLES_DIR / "beach.jpg"
    if not path.is_file():  # an installed copy without the examples folder
        import cv2

        from vbgcam.sources.demo_scene import make_beach

        path = Path(sys.prefix) / "vbgcam-beach.jpg"
        cv2.imwrite(str(path), make_beach(1920, 1080))
    return path


def _background_options(background: str) -> list[str]:
    """``vbgcam run`` options for one of ``BACKGROUNDS``; blur is what a plain run shows."""
    if background == "beach":
        return ["--bg", str(_beach())]
    if background in ("blur", "none"):  # said, so that a background in a config is not used
        return ["--bg-mode", background]
    raise ValueError(f"unknown background {background!r}; expected one of {', '.join(BACKGROUNDS)}")


def run_once(
    camera: str,
    segmenter: str,
    warmup_s: float,
    steady_s: float,
    extra: tuple[str, ...] = (),
    background: str = "beach",
) -> tuple[float, float, float, tuple[float, float]]:
    """(steady % of a core, steady CPU ms per frame, whole-run % of a core, latency)."""
    frames = round((warmup_s + steady_s + 1.5) * FPS)
    command = [
        sys.executable,
        "-c",
        "from vbgcam.cli.app import app; app()",
        "run",
        "--camera",
        camera,
        *_background_options(background),
        "--segmenter",
        "diff" if segmenter == NO_MASK else segmenter,
        "--device",
        "none",
        "--no-control",
        "--frames",
        str(frames),
        *extra,
    ]
    started = time.monotonic()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    time.sleep(warmup_s)
    cpu_before, wall_before = process_cpu_s(process.pid), time.monotonic()
    time.sleep(steady_s)
    steady_cpu_s = process_cpu_s(process.pid) - cpu_before
    steady_wall_s = time.monotonic() - wall_before
    assert process.stderr is not None
    log = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    whole_wall_s = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"vbgcam run failed ({process.returncode}): {log.strip()[-500:]}")
    found = LATENCY.search(log)
    latency = (float(found[1]), float(found[2])) if found else (float("nan"), float("nan"))
    return (
        100 * steady_cpu_s / steady_wall_s,
        1000 * steady_cpu_s / (steady_wall_s * FPS),
        100 * (usage.ru_utime + usage.ru_stime) / whole_wall_s,
        latency,
    )


def bench_input(
    name: str,
    camera: str,
    segmenter: str,
    rounds: int,
    warmup_s: float,
    steady_s: float,
    background: str = "beach",
) -> RunRow:
    results = [
        run_once(camera, segmenter, warmup_s, steady_s, background=background)
        for _ in range(rounds)
    ]
    return RunRow(
        input=name,
        segmenter=segmenter,
        background=background,
        steady_percent_of_core=statistics.median(r[0] for r in results),
        steady_cpu_ms_per_frame=statistics.median(r[1] for r in results),
        whole_run_percent_of_core=statistics.median(r[2] for r in results),
        latency_ms=results[-1][3],
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segmenters", default="auto", help="comma list (default: auto)")
    parser.add_argument(
        "--backgrounds",
        default="beach",
        help=f"comma list of {', '.join(BACKGROUNDS)} (default: beach; blur is a plain run's; "
        "none: no mask made, the floor under every segmenter)",
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup-seconds", type=float, default=3.0)
    parser.add_argument("--steady-seconds", type=float, default=8.0)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.backgrounds.split(",")) - set(BACKGROUNDS))
    if unknown:  # said now, not after minutes of measuring
        parser.error(f"unknown background {', '.join(unknown)}; expected {', '.join(BACKGROUNDS)}")
    return args


def collect(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Measure as ``args`` ask and return what ``--json`` prints: one ``RunRow`` as a dict per
    segmenter and input."""
    from vbgcam.devtools.bench_pipeline import _clips

    inputs = {name: str(path) for name, path in _clips().items() if name == "clip"}
    inputs["demo"] = "demo"
    # (segmenter, background); "none" makes no mask, so it is measured once, not per segmenter.
    pairs: list[tuple[str, str]] = []
    for segmenter in args.segmenters.split(","):
        for background in args.backgrounds.split(","):
            pair = (NO_MASK, background) if background == "none" else (segmenter, background)
            if pair not in pairs:
                pairs.append(pair)
    rows = [
        bench_input(
            name,
            camera,
            segmenter,
            args.rounds,
            args.warmup_seconds,
            args.steady_seconds,
            background,
        )
        for segmenter, background in pairs
        for name, camera in inputs.items()
    ]
    return [asdict(r) for r in rows]


def print_table(data: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """The human-readable form of ``collect``'s rows."""
    print(
        f"vbgcam run, 1280x720 at {FPS:g} fps, --device none, whole process (threads and "
        f"children), median of {args.rounds} runs"
    )
    print(
        "| input | segmenter | background | steady: % of one core | CPU ms/frame "
        "| whole run incl. start-up | latency median / p99 ms |"
    )
    print("|---|---|---|---:|---:|---:|---:|")
    for row in data:
        latency_ms = row["latency_ms"]
        print(
            f"| {row['input']} | {row['segmenter']} | {row['background']} | "
            f"{row['steady_percent_of_core']:.1f} | "
            f"{row['steady_cpu_ms_per_frame']:.2f} | {row['whole_run_percent_of_core']:.1f} % | "
            f"{latency_ms[0]:.1f} / {latency_ms[1]:.1f} |"
        )


def main(argv: list[str] | None = None) -> int:
    return report.run(parse_args, collect, print_table, argv)


if __name__ == "__main__":
    raise SystemExit(main())
