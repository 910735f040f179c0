"""`bench_run` measures `vbgcam run` as a user starts it: with a picture, or plain (blur)."""

from __future__ import annotations

import pytest

from vbgcam.devtools import bench_run


def test_the_blur_background_is_asked_for_whatever_the_users_config_says() -> None:
    assert bench_run._background_options("blur") == ["--bg-mode", "blur"]
    # None: the camera picture as it is (no mask made), the floor under every segmenter.
    assert bench_run._background_options("none") == ["--bg-mode", "none"]
    option, path = bench_run._background_options("beach")
    assert option == "--bg" and path.endswith(".jpg")


def test_an_unknown_background_is_refused_before_anything_is_measured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        bench_run.parse_args(["--backgrounds", "beach,sky"])
    assert exited.value.code == 2
    assert "unknown background sky; expected beach, blur, none" in capsys.readouterr().err


def test_both_backgrounds_are_asked_for_in_one_list() -> None:
    assert bench_run.parse_args(["--backgrounds", "blur,beach"]).backgrounds == "blur,beach"
    assert bench_run.parse_args([]).backgrounds == "beach"


def test_no_mask_is_measured_once_per_input_whatever_the_segmenters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vbgcam.devtools import bench_pipeline

    measured: list[tuple[str, str, str]] = []

    def bench_input(name: str, camera: str, segmenter: str, *rest: object) -> bench_run.RunRow:
        background = str(rest[-1])
        measured.append((name, segmenter, background))
        return bench_run.RunRow(name, segmenter, background, 1.0, 1.0, 1.0, (1.0, 1.0))

    monkeypatch.setattr(bench_run, "bench_input", bench_input)
    monkeypatch.setattr(bench_pipeline, "_clips", lambda: {})  # the demo camera only
    args = bench_run.parse_args(["--segmenters", "auto,selfie", "--backgrounds", "none,beach"])
    rows = bench_run.collect(args)
    assert measured == [
        ("demo", bench_run.NO_MASK, "none"),
        ("demo", "auto", "beach"),
        ("demo", "selfie", "beach"),
    ]
    assert [row["segmenter"] for row in rows] == [bench_run.NO_MASK, "auto", "selfie"]
