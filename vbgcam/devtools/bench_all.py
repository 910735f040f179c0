"""`vbgcam bench`: every benchmark in one command, as a table or one JSON document.

The parts stay separate modules because each answers its own question (the compositor
against the tutorial loop and its paced CPU; each network alone, back to back and paced; the
whole live path per stage; ``vbgcam run`` as a user starts it; the PipeWire camera); this
runs them
in turn, so results can be kept and compared between commits with ``--json``, which takes
each part's data from its ``collect`` (what that part's own ``--json`` prints).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence

from vbgcam.devtools import bench, bench_networks, bench_pipeline, bench_pipewire, bench_run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vbgcam bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="640x360,1280x720,1920x1080", help="WxH,WxH,...")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--no-pipewire", action="store_true", help="skip the PipeWire camera")
    args = parser.parse_args(argv)
    sizes = ["--sizes", args.sizes]
    if not args.json:
        bench.main(sizes)
        print()
        bench_networks.main([])
        print()
        bench_pipeline.main(sizes)
        print()
        bench_run.main([])
        if not args.no_pipewire:
            print()
            bench_pipewire.main([])
        return 0
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    result = {
        "commit": commit or None,
        "compositor": bench.collect(bench.parse_args(sizes)),
        "networks": bench_networks.collect(bench_networks.parse_args([])),
        "pipeline": bench_pipeline.collect(bench_pipeline.parse_args(sizes)),
        "run": bench_run.collect(bench_run.parse_args([])),
        "pipewire": None
        if args.no_pipewire
        else bench_pipewire.collect(bench_pipewire.parse_args([])),
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
