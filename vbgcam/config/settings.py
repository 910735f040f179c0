"""Settings: one immutable snapshot, built from the TOML file and command-line flags.

The schema is written once, here: each field of the section dataclasses carries its parser,
its help text and its unit (``setting``), and everything else is derived from it: ``KEYS``
(what the config file and ``build_settings`` accept), the command-line flags' help with its
default (``flag_help``), and the check that ``config.example.toml`` lists every key with its
default (tests/config/test_settings_schema.py). An unknown key or a bad value is a
``ConfigError`` that names the key and what is allowed, never a silent default. Keys that
hold seconds or pixels end in ``_s`` or ``_px``; their old names are still read (``ALIASES``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vbgcam.errors import ConfigError

SEGMENTER_NAMES = ("auto", "rvm", "selfie", "diff", "plate", "mog2", "knn")
MODEL_CHOICES = ("auto", "crop", "general", "landscape")


BACKGROUND_MODES = ("auto", "image", "folder", "video", "blur", "color", "none")
FIT_MODES = ("cover", "contain", "stretch", "tile")
OVERLAY_POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right", "full")
PAUSE_IMAGES = ("card", "background", "last")
FRAMING_MODES = ("off", "auto")
PEOPLE_CHOICES = ("all", "main")
COLOR_NAMES = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "red": (220, 50, 47),
    "green": (0, 177, 64),
    "blue": (38, 139, 210),
    "navy": (0, 31, 63),
    "teal": (42, 161, 152),
    "beige": (232, 220, 196),
}


# --- value parsers: each takes a raw TOML or command-line value, returns the typed value or
# raises ValueError with the text "allowed: ..." that ends up in the user's message.


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("expected a string")
    return str(value).strip()


def _name_list(value: Any) -> tuple[str, ...]:
    """A TOML list of names, or one string of them separated by commas: "a,b" -> ("a", "b").
    Empty means the default."""
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ValueError("expected a list of names, such as v4l2loopback,pipewire")
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError("expected a list of names, such as v4l2loopback,pipewire")
        name = item.strip().lower()
        if name and not re.fullmatch(r"[a-z0-9_-]+", name):
            raise ValueError(f"{item!r} is not a backend name (letters, digits, - and _)")
        if name and name not in names:
            names.append(name)
    return tuple(names)


def _path(value: Any) -> str:
    """A file's path as text. Every stage expands "~" in it, which raises RuntimeError for a
    "~user" this computer does not have: so that is refused here, as a bad value."""
    text = _text(value)
    try:
        Path(text).expanduser()
    except RuntimeError:
        raise ValueError(f"'{text.split('/')[0]}' is no user of this computer") from None
    return text


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"expected a whole number from {low} to {high}")
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):  # int(inf) overflows
            raise ValueError(f"expected a whole number from {low} to {high}") from None
        if isinstance(value, float) and number != value:
            raise ValueError(f"expected a whole number from {low} to {high}")
        if not low <= number <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return number

    return parse


def _size_or_auto(low: int, high: int) -> Callable[[Any], int]:
    """0 (chosen at run time) or a whole number from ``low`` to ``high``."""
    whole = _integer(0, high)

    def parse(value: Any) -> int:
        number = whole(value)
        if 0 < number < low:
            raise ValueError(f"expected 0 (auto) or a whole number from {low} to {high}")
        return number

    return parse


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError("expected true or false")


def _number(low: float, high: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        allowed = f"expected a number from {low:g} to {high:g}"
        if isinstance(value, bool):
            raise ValueError(allowed)
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):  # float(10**400) overflows
            raise ValueError(allowed) from None
        if not math.isfinite(number) or not low <= number <= high:
            raise ValueError(allowed)
        return number

    return parse


def parse_size(value: Any) -> tuple[int, int]:
    """'1280x720' -> (1280, 720); even sides, since YUV 4:2:0 devices need them."""
    allowed = "expected WIDTHxHEIGHT with even sides from 16 to 7680, such as 1280x720"
    if not isinstance(value, str):
        raise ValueError(allowed)
    parts = value.lower().replace(" ", "").split("x")
    # isdecimal, not isdigit: int() refuses digits such as '²' that isdigit accepts.
    if len(parts) != 2 or not all(p.isdecimal() for p in parts):
        raise ValueError(allowed)
    width, height = int(parts[0]), int(parts[1])
    if not (16 <= width <= 7680 and 16 <= height <= 7680) or width % 2 or height % 2:
        raise ValueError(allowed)
    return width, height


def _size_auto_or_empty(value: Any) -> str:
    """'', 'auto' or a size as ``parse_size`` takes it, written back as 'WIDTHxHEIGHT'."""
    if isinstance(value, str) and value.strip().lower() in ("", "auto"):
        return value.strip().lower()
    width, height = parse_size(value)
    return f"{width}x{height}"


def _fourcc(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 4 or not value.isascii():
        raise ValueError("expected four ASCII characters, such as MJPG or YUYV")
    return value.upper()


def parse_color(value: Any) -> tuple[int, int, int]:
    """'#RRGGBB' or a colour name -> (r, g, b)."""
    allowed = f"expected #RRGGBB or one of: {', '.join(COLOR_NAMES)}"
    if not isinstance(value, str):
        raise ValueError(allowed)
    text = value.strip().lower()
    if text in COLOR_NAMES:
        return COLOR_NAMES[text]
    # Hex digits only: int(..., 16) also takes signs and spaces, so "#-1-1-1" got through.
    if len(text) == 7 and text[0] == "#" and all(c in "0123456789abcdef" for c in text[1:]):
        return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)
    raise ValueError(allowed)


def _color(value: Any) -> str:
    parse_color(value)
    return str(value).strip().lower()


def _choice(names: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if value not in names:
            raise ValueError(f"expected one of: {', '.join(names)}")
        return str(value)

    return parse


# --- the schema


@dataclass(frozen=True)
class Key:
    """One settable key: how to parse it, what it means, and whether it names a file."""

    parse: Callable[[Any], Any]
    help: str = ""
    unit: str = ""  # how the default is shown after its number: " s", " px"
    is_path: bool = False


def setting(
    default: Any, parse: Callable[[Any], Any], help: str, unit: str = "", is_path: bool = False
) -> Any:
    """A dataclass field that is also a key of the config file."""
    return field(default=default, metadata={"key": Key(parse, help, unit, is_path)})


@dataclass(frozen=True)
class CameraSettings:
    """What to capture and in which mode; the mode is also the output's size and rate."""

    source: str = setting(
        "0",
        _path,
        "Camera index (0), device (/dev/video0), a video file to use as the camera, or "
        "'demo' for a generated scene ('demo-offcentre': someone sitting in the left third).",
    )
    size: tuple[int, int] = setting(
        (1280, 720), parse_size, "Camera mode and output size, WIDTHxHEIGHT."
    )
    fps: float = setting(30.0, _number(1, 240), "Camera and output frame rate.")
    fourcc: str = setting("MJPG", _fourcc, "Pixel format asked of the camera.")


@dataclass(frozen=True)
class BackgroundSettings:
    """What replaces the background.

    ``mode = "auto"`` means: the picture, folder or video at ``path`` by what it is, or the
    camera picture blurred when ``path`` is empty.
    """

    mode: str = setting(
        "auto",
        _choice(BACKGROUND_MODES),
        "Background mode: auto (by what --bg is; blur without it), image, folder, video, "
        "blur, color, none.",
    )
    path: str = setting("", _path, "Background picture, folder or video.", is_path=True)
    fit: str = setting(
        "cover", _choice(FIT_MODES), "How a picture fills the frame: cover, contain, stretch, tile."
    )
    interval_s: float = setting(
        0.0, _number(0, 86400), "Folder background: seconds per picture; 0 = on command.", " s"
    )
    blur: int = setting(60, _integer(0, 100), "Blur strength 0-100 when no --bg is given.")
    color: str = setting(
        "#20242c", _color, "Replace the background with a solid colour: #RRGGBB or a name."
    )
    mirror: bool = setting(False, _boolean, "Mirror the output left-right.")
    overlay: str = setting(
        "",
        _path,
        "Picture with transparency drawn over the output (logo, name tag).",
        is_path=True,
    )
    overlay_position: str = setting(
        "bottom-right",
        _choice(OVERLAY_POSITIONS),
        "Overlay place: top-left, top-right, bottom-left, bottom-right, full.",
    )


@dataclass(frozen=True)
class ControlSettings:
    """Live control: the local web page and API, pausing, and on-demand capture."""

    enabled: bool = setting(True, _boolean, "Serve the control page and API on 127.0.0.1.")
    port: int = setting(8765, _integer(1024, 65535), "Port of the control page and API.")
    pause_image: str = setting(
        "card", _choice(PAUSE_IMAGES), "Shown while paused: card, background, last."
    )
    on_demand: bool = setting(
        True,
        _boolean,
        "Linux: release the webcam while no app has the virtual camera open.",
    )


@dataclass(frozen=True)
class SegmenterSettings:
    """Which method finds the person, and its tuning."""

    name: str = setting(
        "auto",
        _choice(SEGMENTER_NAMES),
        f"Person mask method: {', '.join(SEGMENTER_NAMES)}. 'auto' is 'rvm' (video matting, "
        "the best masks) when its model is downloaded and this machine affords it, else "
        "'selfie' (a lighter network) when its model is, else 'diff'.",
    )
    threshold: int = setting(
        3, _integer(0, 255), "diff: grey-level change (0-255) that counts as motion."
    )
    hold_s: float = setting(
        30.0,
        _number(0, 3600),
        "diff: seconds a person who stopped moving is kept; 0 = the original method, which "
        "forgets at once.",
        " s",
    )
    clean: bool = setting(
        True,
        _boolean,
        "diff: de-noise at low resolution and fill the silhouette; --no-clean --hold 0 "
        "--no-refine is the original method exactly.",
    )
    model: str = setting(
        "auto",
        _choice(MODEL_CHOICES),
        "selfie: auto (wide frames: the general model on a band around the person; others: "
        "general), crop (that band on any frame), general (whole frame), or landscape (whole "
        "frame, least CPU).",
    )
    flip: bool = setting(
        False, _boolean, "selfie: also run on the mirrored frame and average (twice the cost)."
    )
    every: int = setting(
        1,
        _integer(1, 10),
        "selfie and rvm: run the network on every Nth frame only, the mask carried.",
    )
    reuse: bool = setting(True, _boolean, "Skip the network while the picture has not changed.")
    skip_calm: bool = setting(
        True,
        _boolean,
        "selfie and rvm, with reuse: while the person barely moves, run the network on every "
        "other frame at most, the mask carried one frame.",
    )
    plate: str = setting(
        "", _path, "plate: picture of the empty scene (see 'vbgcam calibrate').", is_path=True
    )
    threads: int = setting(
        1, _integer(0, 64), "Threads for the network and OpenCV; 0 = one per core."
    )
    rvm_long_side_px: int = setting(
        0,
        _size_or_auto(64, 1280),
        "rvm: the network's input, long side; 0 = the largest that fits network_cpu here.",
        " px",
    )
    network_cpu: float = setting(
        0.25,
        _number(0.05, 8),
        "Share of one core the network (rvm, selfie) may use on average (0.25 = a quarter).",
    )
    people: str = setting(
        "all",
        _choice(PEOPLE_CHOICES),
        "Who stays in the picture: all (everyone the mask finds) or main (the person the "
        "call is about; anyone else goes to the background).",
    )
    admit_after_s: float = setting(
        10.0,
        _number(0, 3600),
        "people = main: someone who stays this long beside you, at least half your size, is "
        "let in; 0 = never.",
        " s",
    )


@dataclass(frozen=True)
class MatteSettings:
    """Mask refinement shared by every segmenter (see vbgcam/matte.py)."""

    refine: bool = setting(
        True,
        _boolean,
        "Refine the mask: remove specks, steady it over time, snap its edge to the picture.",
    )
    smooth: float = setting(
        0.6, _number(0, 0.95), "Temporal smoothing where the picture is still (0 = none)."
    )
    feather_px: int = setting(
        2, _integer(0, 20), "Soft edge grown into the background, in working-copy pixels.", " px"
    )
    min_blob: float = setting(
        0.005, _number(0, 0.5), "Blobs and holes smaller than this share of the frame go."
    )


@dataclass(frozen=True)
class FramingSettings:
    """Auto-framing: a digital pan and zoom that keeps the people centred (vbgcam/framing.py)."""

    mode: str = setting(
        "off",
        _choice(FRAMING_MODES),
        "Auto-framing: auto (pan and zoom to keep you centred and well framed) or off.",
    )
    max_zoom: float = setting(2.0, _number(1, 4), "Auto-framing: the most it zooms in.")
    camera_size: str = setting(
        "auto",
        _size_auto_or_empty,
        "Auto-framing: the camera mode to ask for, larger than the output, so zooming in "
        "loses no sharpness: auto (the camera's smallest mode of the output's shape that "
        "reaches max_zoom, else its largest; the output size where the modes cannot be "
        "read), WIDTHxHEIGHT, or '' (the output size).",
    )


@dataclass(frozen=True)
class OutputSettings:
    """Where composited frames go. ``device = "none"`` runs without a virtual camera."""

    device: str = setting(
        "",
        _text,
        "Virtual camera: /dev/videoN (the kernel camera), a name for the PipeWire camera, or "
        "'none' for no virtual camera.",
    )
    # Virtual camera outputs, by pyvirtualcam backend name; empty: every one this platform
    # has (Linux: v4l2loopback and pipewire at once).
    backends: tuple[str, ...] = setting(
        (),
        _name_list,
        "Virtual camera outputs, comma-separated: v4l2loopback (Zoom, Teams, Discord, Slack), "
        "pipewire (OBS, Firefox, Flatpak apps; no kernel module), obs (macOS/Windows).",
    )
    record: str = setting(
        "", _path, "Also record what the virtual camera shows to this file.", is_path=True
    )


@dataclass(frozen=True)
class Settings:
    """The whole configuration; stages read it at frame boundaries and never mutate it."""

    camera: CameraSettings = field(default_factory=CameraSettings)
    background: BackgroundSettings = field(default_factory=BackgroundSettings)
    segmenter: SegmenterSettings = field(default_factory=SegmenterSettings)
    matte: MatteSettings = field(default_factory=MatteSettings)
    framing: FramingSettings = field(default_factory=FramingSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    control: ControlSettings = field(default_factory=ControlSettings)


def _schema() -> tuple[dict[str, Key], dict[str, Any]]:
    keys: dict[str, Key] = {}
    defaults: dict[str, Any] = {}
    for section in dataclasses.fields(Settings):
        for item in dataclasses.fields(getattr(Settings(), section.name)):
            name = f"{section.name}.{item.name}"
            keys[name] = item.metadata["key"]
            defaults[name] = item.default
    return keys, defaults


# Every key of the config file, with its parser; and its default, as the dataclasses say.
KEYS, DEFAULTS = _schema()

# Old key names, still read: they mean the key they point to.
ALIASES = {
    "output.backend": "output.backends",
    "segmenter.hold": "segmenter.hold_s",
    "background.interval": "background.interval_s",
    "matte.feather": "matte.feather_px",
}


def shown_default(name: str) -> str:
    """A key's default as the user writes it: 1280x720, 30 s, true."""
    value = DEFAULTS[name]
    if isinstance(value, bool):
        return "true" if value else "false"
    if name == "camera.size":
        return f"{value[0]}x{value[1]}"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value}{KEYS[name].unit}"


def flag_help(name: str, default: str | None = None) -> str:
    """The help of the flag that sets key ``name``: its text and its default, from the
    schema (``default`` when the flag shows it otherwise, such as --clean/--no-clean)."""
    key = KEYS[name]
    shown = default if default is not None else shown_default(name)
    return f"{key.help} (default: {shown})" if shown else key.help


def _unknown(name: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(sorted(known))}"
    return ConfigError(f"unknown setting {name!r}; {hint}")  # repr: a newline stays on one line


def _flatten(table: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """{'camera': {'fps': 30}} -> {'camera.fps': 30}, rejecting anything not in KEYS."""
    sections = sorted({k.split(".")[0] for k in KEYS})
    flat: dict[str, Any] = {}
    for section, body in table.items():
        if section not in sections:
            raise ConfigError(f"{origin}: {_unknown(section, sections)}")
        if not isinstance(body, Mapping):
            raise ConfigError(f"{origin}: '{section}' must be a table ([{section}])")
        for key, value in body.items():
            name = ALIASES.get(f"{section}.{key}", f"{section}.{key}")
            if name not in KEYS:
                known = [k for k in KEYS if k.startswith(section + ".")]
                raise ConfigError(f"{origin}: {_unknown(name, known)}")
            flat[name] = value
    return flat


def read_config_file(path: Path) -> dict[str, Any]:
    """Read and flatten a TOML file; relative paths in it are relative to the file."""
    try:
        with path.open("rb") as handle:
            table = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not valid TOML: it is not UTF-8 text") from None
    except ValueError as exc:  # tomllib's int() on a number of over 4300 digits
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    flat = _flatten(table, str(path))
    for name, value in flat.items():
        if KEYS[name].is_path and isinstance(value, str) and value.strip():
            try:
                candidate = Path(value).expanduser()
            except RuntimeError:  # "~user" of no such user: the key's parser says so
                continue
            if not candidate.is_absolute():
                flat[name] = str(path.parent / candidate)
    return flat


def _shown(raw: Any) -> str:
    """``raw`` as a message shows it; repr() refuses an int of over 4300 digits."""
    try:
        return repr(raw)
    except ValueError:
        return "(a number too long to show)"


def build_settings(values: Mapping[str, Any], origin: str = "settings") -> Settings:
    """Apply flat ``section.key`` values over the defaults, validating each one."""
    settings = Settings()
    for given, raw in values.items():
        name = ALIASES.get(given, given)
        if name not in KEYS:
            raise ConfigError(f"{origin}: {_unknown(name, list(KEYS))}")
        try:
            value = KEYS[name].parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{origin}: bad value {_shown(raw)} for '{name}': {exc}") from exc
        section, key = name.split(".")
        part = dataclasses.replace(getattr(settings, section), **{key: value})
        settings = dataclasses.replace(settings, **{section: part})
    return settings


def load_settings(config_path: Path | None, overrides: Mapping[str, Any]) -> Settings:
    """The config file (if any) with command-line ``overrides`` on top; None means unset.

    File and flags are validated apart first, so a message blames the place the bad value
    came from.
    """
    file_values = read_config_file(config_path) if config_path else {}
    flag_values = {k: v for k, v in overrides.items() if v is not None}
    build_settings(file_values, str(config_path))
    build_settings(flag_values, "command line")
    return build_settings({**file_values, **flag_values})
