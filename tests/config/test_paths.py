"""Where vbgcam keeps its files: one rule for every XDG variable (``vbgcam.config.paths``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from vbgcam.config import paths
from vbgcam.control.token import token_path
from vbgcam.evaluation.clips import default_clips_dir
from vbgcam.models import cache_dir as models_dir
from vbgcam.pipeline.live import uploads_dir
from vbgcam.segmenters.plate import default_plate_path


def test_every_file_follows_the_xdg_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))
    assert paths.config_file() == tmp_path / "xdg_config_home/vbgcam/config.toml"
    assert default_plate_path() == tmp_path / "xdg_data_home/vbgcam/plate.png"
    assert uploads_dir() == tmp_path / "xdg_data_home/vbgcam/backgrounds"
    assert models_dir() == tmp_path / "xdg_cache_home/vbgcam/models"
    assert default_clips_dir() == tmp_path / "xdg_cache_home/vbgcam/eval-clips"
    assert token_path() == tmp_path / "xdg_runtime_dir/vbgcam/token"


@pytest.mark.parametrize("value", ["", "relative/folder"])
def test_an_empty_or_relative_value_is_ignored_as_the_spec_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"):
        monkeypatch.setenv(variable, value)
    assert paths.config_dir() == tmp_path / ".config/vbgcam"
    assert paths.data_dir() == tmp_path / ".local/share/vbgcam"
    assert paths.cache_dir() == tmp_path / ".cache/vbgcam"
    assert paths.runtime_dir() is None
    assert token_path().parent.parent == Path(tempfile.gettempdir())
