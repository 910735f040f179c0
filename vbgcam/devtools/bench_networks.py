"""Each network alone, one run a frame, as ``vbgcam run`` pays for it: back to back and paced.

A run that starts after the thread slept for the rest of a frame finds its caches cold and
its core clocked down or handed to someone else (a laptop saving power, a virtual machine):
paced at 30 fps the selfie network costs 4.65 ms a run here, back to back 3.4. The paced
figure is what a live camera pays, and it alone decides how much of a frame's budget is left
for decoding, the matte and the blend. Thread CPU per run, median; a network whose model is
not cached is reported as skipped, with the command that fetches it. Run ``python -m
vbgcam.devtools.bench_networks --help``.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vbgcam.devtools import report
from vbgcam.errors import ModelError

FPS = 30.0
# The picture the networks see: a 16:9 camera, as the compositor hands it to them.
FRAME = (1280, 720)


# What is timed: the network's name, its input (WIDTHxHEIGHT), its runtime, one run.
Timed = tuple[str, str, str, Callable[[], object]]


@dataclass(frozen=True)
class NetworkRow:
    network: str
    input: str  # WIDTHxHEIGHT
    runtime: str
    back_to_back_ms: float
    paced_ms: float


def cpu_per_run_ms(run: Callable[[], object], runs: int, fps: float | None) -> float:
    """Median thread CPU of ``run`` over ``runs`` calls after one that allocates; with
    ``fps``, each call starts on the next frame's tick, the thread asleep in between."""
    run()
    times = []
    tick = time.monotonic()
    for _ in range(runs):
        start = time.thread_time()
        run()
        times.append((time.thread_time() - start) * 1e3)
        if fps is not None:  # a run longer than a frame starts the next at once, then sleeps
            tick = max(tick + 1 / fps, time.monotonic())
            time.sleep(max(0.0, tick - time.monotonic()))
    return statistics.median(times)


def _selfie_runs(name: str) -> list[Timed]:
    from vbgcam.models import MODELS
    from vbgcam.segmenters.selfie import load_network

    network = load_network(name)
    width, height = MODELS[name].input_size
    rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3)).astype(np.float32)
    run = functools.partial(network.probability, rgb)
    return [(name, f"{width}x{height}", network.description, run)]


def _rvm_runs(sizes: tuple[int, ...]) -> list[Timed]:
    from vbgcam.segmenters.rvm import input_size, load_matting

    matting = load_matting(1)
    found: list[Timed] = []
    for size_px in sizes:
        width, height = input_size(FRAME, size_px)
        rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
        run = functools.partial(matting.step, rgb)
        found.append((f"rvm {size_px} px", f"{width}x{height}", matting.description, run))
    return found


def collect(args: argparse.Namespace) -> dict[str, Any]:
    """What ``--json`` prints: a row per network and input size, and why any was skipped."""
    from vbgcam.segmenters.rvm_choice import SIZES_PX

    runs: list[Timed] = []
    skipped = []
    finders: list[Callable[[], list[Timed]]] = [
        functools.partial(_selfie_runs, "selfie-general"),
        functools.partial(_selfie_runs, "selfie-landscape"),
        functools.partial(_rvm_runs, SIZES_PX[::-1]),
    ]
    for finder in finders:
        try:
            runs.extend(finder())
        except ModelError as exc:
            skipped.append(str(exc))
    rows = [
        NetworkRow(
            network=name,
            input=shape,
            runtime=runtime,
            back_to_back_ms=cpu_per_run_ms(run, args.runs, None),
            paced_ms=cpu_per_run_ms(run, args.runs, args.fps),
        )
        for name, shape, runtime, run in runs
    ]
    return {
        "fps": args.fps,
        "runs": args.runs,
        "rows": [asdict(r) for r in rows],
        "skipped": skipped,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=90, help="runs timed each way (default 90)")
    parser.add_argument("--fps", type=float, default=FPS, help="the pace (default 30)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.fps <= 0:
        parser.error("--runs must be at least 1 and --fps positive")
    return args


def print_table(data: dict[str, Any], args: argparse.Namespace) -> None:
    """The human-readable form of ``collect``'s data."""
    print(
        f"each network alone, one thread: thread CPU a run, median of {data['runs']}, "
        f"back to back and paced at {data['fps']:g} fps"
    )
    print("| network | input | runtime | back to back ms | paced ms |")
    print("|---|---|---|---:|---:|")
    for row in data["rows"]:
        print(
            f"| {row['network']} | {row['input']} | {row['runtime']} | "
            f"{row['back_to_back_ms']:.2f} | {row['paced_ms']:.2f} |"
        )
    for reason in data["skipped"]:
        print(f"skipped: {reason}")


def main(argv: list[str] | None = None) -> int:
    return report.run(parse_args, collect, print_table, argv)


if __name__ == "__main__":
    raise SystemExit(main())
