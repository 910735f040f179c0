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
