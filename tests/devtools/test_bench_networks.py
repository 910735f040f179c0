"""`bench_networks` times each network alone, back to back and paced, and says what it skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from vbgcam.devtools import bench_networks


def test_a_network_whose_model_is_not_cached_is_skipped_with_the_way_to_get_it() -> None:
    data = bench_networks.collect(bench_networks.parse_args(["--runs", "1"]))
    assert data["rows"] == []
    assert len(data["skipped"]) == 3  # the two selfie models, and rvm
    assert all("vbgcam models pull" in reason for reason in data["skipped"])


def test_each_selfie_model_is_timed_both_ways(with_models: Path) -> None:
    data = bench_networks.collect(bench_networks.parse_args(["--runs", "3", "--fps", "200"]))
    rows = {row["network"]: row for row in data["rows"]}
    assert set(rows) == {"selfie-general", "selfie-landscape"}
    assert rows["selfie-general"]["input"] == "256x256"
    assert rows["selfie-landscape"]["input"] == "256x144"
    for row in rows.values():
        assert row["back_to_back_ms"] > 0 and row["paced_ms"] > 0
        assert row["runtime"]  # which runtime ran it: LiteRT or OpenCV
    assert any("rvm" in reason for reason in data["skipped"])  # its model is not in this cache


def test_every_timed_run_comes_after_one_that_allocates() -> None:
    calls = []
    bench_networks.cpu_per_run_ms(lambda: calls.append(1), runs=4, fps=None)
    assert len(calls) == 5


@pytest.mark.parametrize("argv", [["--runs", "0"], ["--fps", "0"]])
def test_nonsense_arguments_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        bench_networks.parse_args(argv)
    assert exited.value.code == 2
    assert "--runs must be at least 1" in capsys.readouterr().err
