"""`vbgcam bench`: every benchmark in one command, as a table or one JSON document.

The parts stay separate modules because each answers its own question (the compositor
against the tutorial loop and its paced CPU; the whole live path per stage; ``vbgcam run`` as
a user starts it; the PipeWire camera); this runs them
in turn, so results can be kept and compared between commits with ``--json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from vbgcam.devtools import bench, bench_pipeline, bench_pipewire, bench_run


def _json_of(main: Any, argv: list[str]) -> Any:
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        main(argv)
    text = captured.getvalue()
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    try:  # the document, past any line printed before it
        return json.JSONDecoder().raw_decode(text, min(starts))[0]
    except ValueError:
        return {"skipped": text.strip()}


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
        "compositor": _json_of(bench.main, [*sizes, "--json"]),
        "pipeline": _json_of(bench_pipeline.main, [*sizes, "--json"]),
        "run": _json_of(bench_run.main, ["--json"]),
        "pipewire": None if args.no_pipewire else _json_of(bench_pipewire.main, ["--json"]),
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
