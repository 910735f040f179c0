"""`vbgcam bench --json` gathers each benchmark's data into one document."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from vbgcam.devtools import (
    bench,
    bench_all,
    bench_networks,
    bench_pipeline,
    bench_pipewire,
    bench_run,
)

DATA: dict[str, Any] = {
    "compositor": {"meta": {"python": "3"}, "paced_cpu": [], "rows": [{"size": "320x180"}]},
    "networks": {"fps": 30.0, "runs": 90, "rows": [{"network": "rvm 160 px"}], "skipped": []},
    "pipeline": [{"input": "demo", "size": "320x180", "latency_ms": [1.5, 2.5]}],
    "run": [{"input": "demo", "segmenter": "auto"}],
    "pipewire": {"skipped": "PipeWire benchmark skipped: this machine lacks pipewire"},
}
MODULES = {
    "compositor": bench,
    "networks": bench_networks,
    "pipeline": bench_pipeline,
    "run": bench_run,
    "pipewire": bench_pipewire,
}


@pytest.fixture
def collected(monkeypatch: pytest.MonkeyPatch) -> dict[str, argparse.Namespace]:
    """Each benchmark's ``collect`` returns its entry of DATA; the arguments it got are kept."""
    calls: dict[str, argparse.Namespace] = {}
    for key, module in MODULES.items():

        def collect(args: argparse.Namespace, key: str = key) -> Any:
            calls[key] = args
            return DATA[key]

        monkeypatch.setattr(module, "collect", collect)
    return calls


def test_one_document_holds_each_benchmarks_data_unchanged(
    collected: dict[str, argparse.Namespace], capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_all.main(["--json", "--sizes", "320x180"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document) == ["commit", "compositor", "networks", "pipeline", "run", "pipewire"]
    assert {key: document[key] for key in DATA} == DATA
    assert collected["compositor"].sizes == "320x180"
    assert collected["pipeline"].sizes == "320x180"


def test_no_pipewire_leaves_it_out(
    collected: dict[str, argparse.Namespace], capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_all.main(["--json", "--no-pipewire"]) == 0
    assert json.loads(capsys.readouterr().out)["pipewire"] is None
    assert "pipewire" not in collected


def test_a_benchmark_prints_its_collected_data_as_json(
    collected: dict[str, argparse.Namespace], capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_pipewire.main(["--json"]) == 0
    assert json.loads(capsys.readouterr().out) == DATA["pipewire"]


def test_a_skipped_benchmark_says_why_in_its_table(
    collected: dict[str, argparse.Namespace], capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_pipewire.main([]) == 0
    assert capsys.readouterr().out == DATA["pipewire"]["skipped"] + "\n"


def test_p99_stays_within_what_was_measured() -> None:
    assert bench.p99([]) == 0.0
    assert bench.p99([4.0]) == 4.0
    # Ten frames: between the two slowest, never past the slowest as extrapolating would be.
    assert bench.p99([float(v) for v in range(10)]) == pytest.approx(8.91)
    assert bench.p99([float(v) for v in range(1, 101)]) == pytest.approx(99.01)


def test_pipewire_without_its_parts_collects_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_pipewire, "missing_parts", lambda: ["pipewire", "gst-launch-1.0"])
    assert bench_pipewire.collect(bench_pipewire.parse_args([])) == {
        "skipped": "PipeWire benchmark skipped: this machine lacks pipewire, gst-launch-1.0"
    }
