"""Settings from a TOML file and flags: a typo or a bad value is an error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vbgcam.config.settings import Settings, load_settings
from vbgcam.errors import ConfigError


def write_config(folder: Path, text: str, name: str = "config.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("toml", "expected_in_message"),
    [
        pytest.param(
            '[camera]\nsise = "640x480"\n',
            ["'camera.sise'", "did you mean 'camera.size'?"],
            id="unknown-key",
        ),
        pytest.param(
            "[segmenter]\ntreshold = 5\n",
            ["'segmenter.treshold'", "did you mean 'segmenter.threshold'?"],
            id="unknown-key-other-section",
        ),
        pytest.param(
            "[camra]\nfps = 30\n",
            ["'camra'", "did you mean 'camera'?"],
            id="unknown-section",
        ),
        pytest.param(
            "fps = 30\n",
            ["'fps'", "known: background, camera, control, framing, matte, output, segmenter"],
            id="key-outside-any-section",
        ),
        pytest.param(
            'camera = "demo"\n',
            ["'camera' must be a table"],
            id="section-that-is-not-a-table",
        ),
        pytest.param(
            '[camera]\nsize = "1280"\n', ["'camera.size'", "WIDTHxHEIGHT"], id="size-one-number"
        ),
        pytest.param('[camera]\nsize = "1281x720"\n', ["'camera.size'", "even"], id="size-odd"),
        pytest.param('[camera]\nsize = "8x8"\n', ["'camera.size'", "from 16"], id="size-tiny"),
        pytest.param("[camera]\nsize = 1280\n", ["'camera.size'"], id="size-not-a-string"),
        pytest.param("[camera]\nfps = 0\n", ["'camera.fps'", "from 1 to 240"], id="fps-zero"),
        pytest.param("[camera]\nfps = 1000\n", ["'camera.fps'", "from 1 to 240"], id="fps-huge"),
        pytest.param("[background]\nblur = inf\n", ["'background.blur'"], id="int-infinite"),
        pytest.param("[segmenter]\nhold = nan\n", ["'segmenter.hold_s'"], id="float-nan"),
        pytest.param("[camera]\nfps = true\n", ["'camera.fps'"], id="fps-bool"),
        pytest.param('[camera]\nfourcc = "MJPEG"\n', ["'camera.fourcc'", "four"], id="fourcc-long"),
        pytest.param("[camera]\nsource = true\n", ["'camera.source'", "string"], id="source-bool"),
        pytest.param(
            "[segmenter]\nthreshold = 300\n",
            ["'segmenter.threshold'", "from 0 to 255"],
            id="threshold-out-of-range",
        ),
        pytest.param(
            "[segmenter]\nthreshold = 2.5\n", ["'segmenter.threshold'"], id="threshold-fraction"
        ),
        pytest.param(
            "[background]\nblur = true\n",
            ["'background.blur'", "whole number"],
            id="bool-for-int",
        ),
        pytest.param(
            '[segmenter]\nname = "u2net"\n',
            ["'segmenter.name'", "expected one of: auto, rvm, selfie, diff, plate, mog2, knn"],
            id="unknown-segmenter",
        ),
    ],
)
def test_bad_config_file_is_an_error_naming_the_key(
    tmp_path: Path, toml: str, expected_in_message: list[str]
) -> None:
    path = write_config(tmp_path, toml)
    with pytest.raises(ConfigError) as info:
        load_settings(path, {})
    message = str(info.value)
    assert str(path) in message, "the message should say which file is wrong"
    for fragment in expected_in_message:
        assert fragment in message


@pytest.mark.parametrize(
    ("flags", "expected_in_message"),
    [
        pytest.param({"camera.size": "1280"}, ["'camera.size'", "WIDTHxHEIGHT"], id="size"),
        pytest.param({"camera.fps": 0.0}, ["'camera.fps'"], id="fps-zero"),
        pytest.param({"segmenter.threshold": 300}, ["'segmenter.threshold'"], id="threshold"),
        pytest.param({"camera.fourcc": "MJ"}, ["'camera.fourcc'"], id="fourcc"),
        pytest.param({"segmenter.name": "u2net"}, ["'segmenter.name'"], id="segmenter"),
        pytest.param(
            {"camera.sorce": "demo"}, ["'camera.sorce'", "did you mean 'camera.source'?"], id="typo"
        ),
    ],
)
def test_bad_flag_is_an_error_blaming_the_command_line(
    flags: dict[str, object], expected_in_message: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, flags)
    message = str(info.value)
    assert message.startswith("command line: ")
    for fragment in expected_in_message:
        assert fragment in message


def test_invalid_toml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[camera\nfps = 30\n")
    with pytest.raises(ConfigError, match="is not valid TOML") as info:
        load_settings(path, {})
    assert str(path) in str(info.value)


def test_config_file_that_is_not_text_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "photo.toml"
    path.write_bytes(b"\xff\xd8\xff\xe0 not text at all \x80\x81")
    with pytest.raises(ConfigError) as info:
        load_settings(path, {})
    assert str(path) in str(info.value)


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_settings(path, {})
    assert str(path) in str(info.value)


def test_no_file_and_no_flags_gives_the_defaults() -> None:
    assert load_settings(None, {}) == Settings()


def test_file_values_are_parsed_to_typed_settings(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[camera]\nsource = 2\nsize = "640X480"\nfps = 25\nfourcc = "yuyv"\n'
        "[segmenter]\nthreshold = 12\n[background]\nblur = 0\n",
    )
    settings = load_settings(path, {})
    assert settings.camera.source == "2"
    assert settings.camera.size == (640, 480)
    assert settings.camera.fps == 25.0
    assert settings.camera.fourcc == "YUYV"
    assert settings.segmenter.threshold == 12
    assert settings.background.blur == 0


def test_flags_override_the_file_and_unset_flags_do_not(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, '[camera]\nsize = "640x480"\nfps = 25\n[segmenter]\nthreshold = 9\n'
    )
    settings = load_settings(
        path, {"camera.size": "320x240", "segmenter.threshold": None, "camera.fps": None}
    )
    assert settings.camera.size == (320, 240)
    assert settings.camera.fps == 25.0
    assert settings.segmenter.threshold == 9


def test_a_bad_file_value_is_blamed_on_the_file_even_when_a_flag_overrides_it(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path, "[camera]\nfps = 0\n")
    with pytest.raises(ConfigError, match=r"'camera\.fps'") as info:
        load_settings(path, {"camera.fps": 30.0})
    assert str(info.value).startswith(str(path))


def test_relative_paths_in_a_config_file_are_relative_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "conf"
    config_dir.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write_config(
        config_dir,
        '[background]\npath = "pictures/beach.jpg"\n[output]\nrecord = "out.mp4"\n'
        '[camera]\nsource = "clip.mp4"\n',
    )
    settings = load_settings(path, {})
    assert Path(settings.background.path) == config_dir / "pictures" / "beach.jpg"
    assert Path(settings.output.record) == config_dir / "out.mp4"
    # camera.source is not a path key: "0" or "demo" must stay as written.
    assert settings.camera.source == "clip.mp4"


def test_absolute_and_home_paths_in_a_config_file_are_kept(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, '[background]\npath = "/srv/beach.jpg"\n[output]\nrecord = "~/out.mp4"\n'
    )
    settings = load_settings(path, {})
    assert settings.background.path == "/srv/beach.jpg"
    assert settings.output.record == "~/out.mp4"


def test_paths_given_as_flags_are_kept_as_typed(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[background]\npath = "beach.jpg"\n')
    settings = load_settings(path, {"background.path": "mine.jpg"})
    assert settings.background.path == "mine.jpg"


def test_settings_are_immutable() -> None:
    settings = load_settings(None, {})
    with pytest.raises(AttributeError):
        settings.camera.fps = 60.0  # type: ignore[misc]
