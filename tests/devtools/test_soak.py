"""The soak tool (``make soak``): its verdict, and a few seconds of it end to end, so the
tool itself does not rot between the long runs that are not part of CI."""

from __future__ import annotations

import json

import pytest

from vbgcam.devtools.soak import RSS_GROWTH_LIMIT_MIB, SoakReport, main

pytestmark = pytest.mark.slow


def report(**changes: object) -> SoakReport:
    values: dict[str, object] = {
        "size": "320x240",
        "fps": 30.0,
        "segmenter": "diff (DiffSegmenter)",
        "output": "in-process virtual camera",
        "measured_s": 60.0,
        "rss_start_mib": 100.0,
        "rss_end_mib": 100.0,
        "rss_peak_mib": 100.0,
        "output_fps": 30.0,
        "cpu_ms_per_frame": 5.0,
        "cpu_percent": 15.0,
        "frames_sent": 1800,
        "repeated": 0,
        "skipped": 0,
        "camera_frames_dropped": 0,
        "warnings_and_errors": 0,
    }
    values.update(changes)
    return SoakReport(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "failure"),
    [
        pytest.param({}, None, id="steady"),
        pytest.param({"rss_end_mib": 104.9}, None, id="growth-under-the-limit"),
        pytest.param({"rss_end_mib": 100 + RSS_GROWTH_LIMIT_MIB}, "RSS grew", id="growth"),
        pytest.param({"warnings_and_errors": 1}, "1 warnings or errors", id="a-warning"),
        pytest.param({"stopped_early": "interrupted"}, "interrupted", id="interrupted"),
        pytest.param({"repeated": 40, "skipped": 3}, None, id="drops-are-reported-not-fatal"),
    ],
)
def test_the_soak_fails_on_rss_growth_or_anything_logged(
    changes: dict[str, object], failure: str | None
) -> None:
    failures = report(**changes).failures()
    if failure is None:
        assert failures == []
    else:
        assert len(failures) == 1 and failure in failures[0]


def test_a_short_soak_reports_rate_memory_and_log_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    arguments = "--minutes 0.1 --warmup-seconds 1 --size 320x240 --segmenter diff --json"
    code = main(arguments.split())
    result = json.loads(capsys.readouterr().out)
    # A healthy pipeline passes its own soak: no growth, nothing logged, exit code 0.
    assert result["failures"] == [] and code == 0, result["failures"]
    assert result["measured_s"] == pytest.approx(5.0, abs=0.5)
    assert result["output_fps"] == pytest.approx(30.0, rel=0.15)
    assert result["frames_sent"] >= 0.85 * 30 * 5
    assert result["warnings_and_errors"] == 0
    assert result["rss_start_mib"] > 0 and result["rss_end_mib"] > 0
    assert result["dropped"] == result["repeated"] + result["skipped"]


def test_a_soak_shorter_than_its_warm_up_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--minutes", "0.1", "--warmup-seconds", "10"]) == 2
    assert "longer than the 10 s warm-up" in capsys.readouterr().err
