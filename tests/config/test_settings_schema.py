"""The settings schema is written once (the section dataclasses); the config file's keys,
the example file and the flags' help all follow it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import typer

from vbgcam.cli.app import FLAG_KEYS, app
from vbgcam.config.settings import (
    ALIASES,
    DEFAULTS,
    KEYS,
    Settings,
    build_settings,
    read_config_file,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_the_example_config_lists_every_key_with_its_default() -> None:
    listed = read_config_file(EXAMPLE)
    assert sorted(listed) == sorted(KEYS), "config.example.toml and the schema differ"
    assert build_settings(listed) == Settings(), "the example shows a value that is no default"


def test_every_key_has_a_help_text_and_a_default() -> None:
    """(That each default passes its own parser is the example file's test above.)"""
    for name, key in KEYS.items():
        assert key.help.endswith("."), f"{name}: no help text"
        assert name in DEFAULTS


def test_keys_in_seconds_or_pixels_say_so_and_their_old_names_are_still_read() -> None:
    for name, key in KEYS.items():
        if key.unit == " s":
            assert name.endswith("_s"), name
        if key.unit == " px":
            assert name.endswith("_px"), name
    settings = build_settings({"segmenter.hold": 5, "background.interval": 7, "matte.feather": 3})
    assert settings.segmenter.hold_s == 5
    assert settings.background.interval_s == 7
    assert settings.matte.feather_px == 3
    assert all(new in KEYS for new in ALIASES.values())


def test_an_old_name_in_a_config_file_is_read(tmp_path: Path) -> None:
    config = tmp_path / "old.toml"
    config.write_text("[segmenter]\nhold = 12\n")
    assert build_settings(read_config_file(config)).segmenter.hold_s == 12


def test_every_flag_sets_a_key_and_its_help_is_the_schemas() -> None:
    command = typer.main.get_command(app)
    assert isinstance(command, typer.core.TyperGroup)
    run = command.commands["run"]
    helps = {param.name: getattr(param, "help", "") or "" for param in run.params}
    for flag, name in FLAG_KEYS.items():
        assert name in KEYS, f"--{flag} sets {name}, which is no key"
        assert helps[flag].startswith(KEYS[name].help), f"--{flag}: help is not the schema's"


@pytest.mark.parametrize(
    ("name", "shown"), [("segmenter.hold_s", "30 s"), ("camera.size", "1280x720")]
)
def test_flag_help_shows_the_default_with_its_unit(name: str, shown: str) -> None:
    from vbgcam.config.settings import flag_help

    assert flag_help(name).endswith(f"(default: {shown})")


def test_sections_are_dataclasses_of_keys_only() -> None:
    for section in dataclasses.fields(Settings):
        for item in dataclasses.fields(getattr(Settings(), section.name)):
            assert "key" in item.metadata, f"{section.name}.{item.name} is not a setting()"
