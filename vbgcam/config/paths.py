"""Where vbgcam keeps its files: the one place that reads the XDG base-directory variables.

Read at each call, so a test or a user can move them. The XDG spec's rules for all four: an
unset, empty or relative value is ignored and the default under the home folder is used.
Standard library only: ``vbgcam ctl`` imports this without numpy or OpenCV.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "vbgcam"


def _base(variable: str, default_under_home: str) -> Path:
    value = os.environ.get(variable, "")
    return Path(value) if os.path.isabs(value) else Path.home() / default_under_home


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/vbgcam`` (``~/.config/vbgcam``): the config file."""
    return _base("XDG_CONFIG_HOME", ".config") / APP


def data_dir() -> Path:
    """``$XDG_DATA_HOME/vbgcam`` (``~/.local/share/vbgcam``): the plate, uploaded backgrounds."""
    return _base("XDG_DATA_HOME", ".local/share") / APP


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/vbgcam`` (``~/.cache/vbgcam``): models, evaluation clips; all of it can
    be made again."""
    return _base("XDG_CACHE_HOME", ".cache") / APP


def runtime_dir() -> Path | None:
    """``$XDG_RUNTIME_DIR/vbgcam``: files that live as long as the login (the control token);
    None where the variable is unset, and the caller picks a private folder of its own."""
    value = os.environ.get("XDG_RUNTIME_DIR", "")
    return Path(value) / APP if os.path.isabs(value) else None


def config_file() -> Path:
    return config_dir() / "config.toml"
