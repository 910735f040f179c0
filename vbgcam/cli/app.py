"""The ``vbgcam`` command: parses flags, loads settings, builds the stages, reports errors.

No pixel is touched here. Expected failures (``VbgcamError``) become one line on stderr and a
non-zero exit code; ``--debug`` shows their traceback too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import cv2
import numpy as np
import typer

from vbgcam import __version__
from vbgcam.backgrounds import Background, make_background
from vbgcam.cli import exits
from vbgcam.cli.exits import reports_errors
from vbgcam.cli.models import models_app, offer_pull
from vbgcam.compose import Compositor
from vbgcam.config import paths
from vbgcam.config.settings import Settings, flag_help, load_settings
from vbgcam.config.watch import ConfigWatcher
from vbgcam.control.client import ctl_app
from vbgcam.control.server import ControlServer
from vbgcam.control.token import make_token, remove_token_file, write_token_file
from vbgcam.errors import ConfigError, SourceError
from vbgcam.outputs import FrameSink, open_sinks
from vbgcam.outputs.cameras import READERS, CameraOutput
from vbgcam.outputs.still import check_picture_path, write_picture
from vbgcam.pipeline.build import capture_size, compositor_for
from vbgcam.pipeline.live import LiveController
from vbgcam.pipeline.on_demand import ConsumerWatch
from vbgcam.pipeline.wiring import Pipeline
from vbgcam.shrink import working_copy
from vbgcam.sources import DEMO_SCENES, DemoSource, VideoFileSource, open_source

log = logging.getLogger("vbgcam")

app = typer.Typer(
    name="vbgcam",
    help="Turn a webcam into a virtual camera with the background replaced.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(models_app, name="models")
app.add_typer(ctl_app, name="ctl")


class JsonLines(logging.Formatter):
    """One JSON object per line, for journald and log collectors (``--log-json``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _setup_logging(level: str, as_json: bool = False) -> None:
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise typer.BadParameter(f"'{level}' is not one of debug, info, warning, error")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if as_json else logging.Formatter("vbgcam: %(message)s"))
    logging.basicConfig(level=numeric, handlers=[handler], force=True)
    if numeric > logging.DEBUG:
        # OpenCV and FFmpeg print their own warnings beside our one-line errors; the errors
        # we raise already say what went wrong.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def _default_config() -> Path | None:
    """``$XDG_CONFIG_HOME/vbgcam/config.toml`` when it exists, so flags are optional."""
    path = paths.config_file()
    return path if path.is_file() else None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vbgcam {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option(help="Show tracebacks for expected errors too.")] = False,
    log_level: Annotated[
        str, typer.Option(help="How much to log: debug, info, warning or error.")
    ] = "info",
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log JSON lines (for systemd/journald).")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    exits.debug = debug
    _setup_logging(log_level, log_json)


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML settings file (see config.example.toml). "
        "Default: $XDG_CONFIG_HOME/vbgcam/config.toml if it exists.",
    ),
]
CameraOpt = Annotated[str | None, typer.Option("--camera", help=flag_help("camera.source"))]
SizeOpt = Annotated[str | None, typer.Option(help=flag_help("camera.size"))]
FpsOpt = Annotated[float | None, typer.Option(help=flag_help("camera.fps"))]
BgOpt = Annotated[
    str | None,
    typer.Option("--bg", help=flag_help("background.path", "the camera picture, blurred")),
]
FitOpt = Annotated[str | None, typer.Option(help=flag_help("background.fit"))]
ColorOpt = Annotated[str | None, typer.Option(help=flag_help("background.color", ""))]
MirrorOpt = Annotated[
    bool | None,
    typer.Option("--mirror/--no-mirror", help=flag_help("background.mirror", "no-mirror")),
]
OverlayOpt = Annotated[str | None, typer.Option(help=flag_help("background.overlay", "none"))]
BgModeOpt = Annotated[str | None, typer.Option(help=flag_help("background.mode"))]
IntervalOpt = Annotated[float | None, typer.Option(help=flag_help("background.interval_s"))]
OverlayPositionOpt = Annotated[
    str | None, typer.Option(help=flag_help("background.overlay_position"))
]
BlurOpt = Annotated[int | None, typer.Option(help=flag_help("background.blur"))]
SegmenterOpt = Annotated[str | None, typer.Option(help=flag_help("segmenter.name"))]
ThresholdOpt = Annotated[int | None, typer.Option(help=flag_help("segmenter.threshold"))]
HoldOpt = Annotated[float | None, typer.Option(help=flag_help("segmenter.hold_s"))]
CleanOpt = Annotated[
    bool | None,
    typer.Option("--clean/--no-clean", help=flag_help("segmenter.clean", "clean")),
]
ModelOpt = Annotated[str | None, typer.Option(help=flag_help("segmenter.model"))]
NetworkCpuOpt = Annotated[float | None, typer.Option(help=flag_help("segmenter.network_cpu"))]
PlateOpt = Annotated[str | None, typer.Option(help=flag_help("segmenter.plate", ""))]
RefineOpt = Annotated[
    bool | None,
    typer.Option("--refine/--no-refine", help=flag_help("matte.refine", "refine")),
]
PeopleOpt = Annotated[str | None, typer.Option(help=flag_help("segmenter.people"))]
FramingOpt = Annotated[str | None, typer.Option(help=flag_help("framing.mode"))]
MaxZoomOpt = Annotated[float | None, typer.Option(help=flag_help("framing.max_zoom"))]


FLAG_KEYS = {
    "camera": "camera.source",
    "size": "camera.size",
    "fps": "camera.fps",
    "fourcc": "camera.fourcc",
    "bg": "background.path",
    "blur": "background.blur",
    "segmenter": "segmenter.name",
    "threshold": "segmenter.threshold",
    "hold": "segmenter.hold_s",
    "clean": "segmenter.clean",
    "model": "segmenter.model",
    "network_cpu": "segmenter.network_cpu",
    "plate": "segmenter.plate",
    "refine": "matte.refine",
    "people": "segmenter.people",
    "framing": "framing.mode",
    "max_zoom": "framing.max_zoom",
    "device": "output.device",
    "backend": "output.backends",
    "record": "output.record",
    "fit": "background.fit",
    "color": "background.color",
    "mirror": "background.mirror",
    "overlay": "background.overlay",
    "overlay_position": "background.overlay_position",
    "bg_mode": "background.mode",
    "interval": "background.interval_s",
    "pause_image": "control.pause_image",
    "on_demand": "control.on_demand",
    "control": "control.enabled",
    "control_port": "control.port",
}


def _flag_values(**flags: Any) -> dict[str, Any]:
    """Command-line flags as ``section.key`` settings; unset (None) flags are left out."""
    values = {FLAG_KEYS[name]: value for name, value in flags.items() if value is not None}
    if "background.mode" not in values:
        if "background.color" in values:  # --color means "show that colour"
            values["background.mode"] = "color"
        elif "background.path" in values:  # --bg PATH means "show that"
            values["background.mode"] = "auto"
    return values


def _settings(config: Path | None, **flags: Any) -> Settings:
    return load_settings(config or _default_config(), _flag_values(**flags))


def _build_compositor(
    settings: Settings, background: Background, size: tuple[int, int]
) -> Compositor:
    """Built last, once files and devices are known good: it may warn about the model."""
    return compositor_for(settings, background)


@app.command()
@reports_errors
def run(
    config: ConfigOpt = None,
    camera: CameraOpt = None,
    size: SizeOpt = None,
    fps: FpsOpt = None,
    fourcc: Annotated[str | None, typer.Option(help=flag_help("camera.fourcc"))] = None,
    bg: BgOpt = None,
    blur: BlurOpt = None,
    fit: FitOpt = None,
    color: ColorOpt = None,
    mirror: MirrorOpt = None,
    overlay: OverlayOpt = None,
    overlay_position: OverlayPositionOpt = None,
    bg_mode: BgModeOpt = None,
    interval: IntervalOpt = None,
    segmenter: SegmenterOpt = None,
    threshold: ThresholdOpt = None,
    hold: HoldOpt = None,
    clean: CleanOpt = None,
    model: ModelOpt = None,
    network_cpu: NetworkCpuOpt = None,
    plate: PlateOpt = None,
    refine: RefineOpt = None,
    people: PeopleOpt = None,
    framing: FramingOpt = None,
    max_zoom: MaxZoomOpt = None,
    device: Annotated[
        str | None,
        typer.Option(
            help=flag_help(
                "output.device", "the first v4l2loopback device, and 'VBG Camera' on PipeWire"
            )
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            help=flag_help("output.backends", "every one available, each kept trying on its own")
        ),
    ] = None,
    record: Annotated[str | None, typer.Option(help=flag_help("output.record", ""))] = None,
    control: Annotated[
        bool | None,
        typer.Option("--control/--no-control", help=flag_help("control.enabled", "control")),
    ] = None,
    control_port: Annotated[int | None, typer.Option(help=flag_help("control.port"))] = None,
    pause_image: Annotated[str | None, typer.Option(help=flag_help("control.pause_image"))] = None,
    on_demand: Annotated[
        bool | None,
        typer.Option("--on-demand/--always-on", help=flag_help("control.on_demand", "on-demand")),
    ] = None,
    frames: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many output frames.")
    ] = None,
) -> None:
    """Run the virtual camera until Ctrl-C: camera in, person over the new background out."""
    stop_requested = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        log.info("%s received, stopping", signal.Signals(signum).name)
        stop_requested.set()

    def dispatch(signum: int, _frame: object) -> None:
        action = SIGNAL_ACTIONS.get(signum)
        if action is None:
            log.info("%s ignored: vbgcam is still starting", signal.Signals(signum).name)
        else:
            action()

    # Handlers first, so a signal while the camera opens still ends in a clean stop (and a
    # SIGHUP sent too early does not kill the process, as its default action would).
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous.update({sig: signal.signal(sig, dispatch) for sig in (signal.SIGHUP, signal.SIGUSR1)})
    SIGNAL_ACTIONS.clear()
    try:
        _run(
            stop_requested,
            config,
            frames,
            camera=camera,
            size=size,
            fps=fps,
            fourcc=fourcc,
            bg=bg,
            blur=blur,
            fit=fit,
            color=color,
            mirror=mirror,
            overlay=overlay,
            overlay_position=overlay_position,
            bg_mode=bg_mode,
            interval=interval,
            segmenter=segmenter,
            threshold=threshold,
            hold=hold,
            clean=clean,
            model=model,
            network_cpu=network_cpu,
            plate=plate,
            refine=refine,
            people=people,
            framing=framing,
            max_zoom=max_zoom,
            device=device,
            backend=backend,
            record=record,
            control=control,
            control_port=control_port,
            pause_image=pause_image,
            on_demand=on_demand,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(
    stop_requested: threading.Event, config: Path | None, frames: int | None, **flags: Any
) -> None:
    config_path = config or _default_config()
    flag_values = _flag_values(**flags)
    settings = load_settings(config_path, flag_values)
    cam = settings.camera
    out = settings.output
    background = make_background(settings.background, cam.size)
    if settings.segmenter.name in ("auto", "rvm"):
        with _ctrl_c_answers(stop_requested):
            offer_pull()  # before the webcam is open: its light stays off while we ask
        if stop_requested.is_set():
            return
    # The virtual camera first: it is the most likely thing to be missing, and cheap to try.
    camera_size = capture_size(settings)  # larger than the output when framing asks it
    sinks = open_sinks(cam.size, cam.fps, out.device, out.backends, out.record)
    try:
        source = open_source(cam.source, camera_size, cam.fps, cam.fourcc)
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    try:
        compositor = _build_compositor(settings, background, cam.size)
    except BaseException:
        source.close()
        for sink in sinks:
            sink.close()
        raise
    log.info("source: %s", source.description)
    if not sinks:
        log.info("no virtual camera (--device none) and no recording: frames go nowhere")
    pipeline = Pipeline(
        source,
        compositor,
        sinks,
        cam.size,
        cam.fps,
        max_frames=frames,
        stop=stop_requested,
        reopen=lambda: open_source(cam.source, camera_size, cam.fps, cam.fourcc),
        capture_size=camera_size,
    )
    live = LiveController(pipeline, settings)
    with contextlib.ExitStack() as running:
        running.callback(pipeline.close)  # also when a helper below fails to start
        _serve_control(running, live, settings)
        _watch_config(running, live, config_path, flag_values)
        _watch_consumers(running, live, sinks, settings)
        log.info("running; Ctrl-C stops")
        stats = pipeline.run()
    log.info(
        "stopped: %d frames sent (%d repeats), %d captured, %d dropped, "
        "latency median %.1f ms, p99 %.1f ms",
        stats.sent,
        stats.repeated,
        stats.captured,
        stats.dropped,
        stats.latency_ms_median,
        stats.latency_ms_p99,
    )


@contextlib.contextmanager
def _ctrl_c_answers(stop_requested: threading.Event) -> Iterator[None]:
    """While vbgcam asks a question, Ctrl-C answers it: no download, and the run stops. (The
    run's own handler only sets ``stop_requested``, which a waiting prompt never sees: a later
    Enter still downloaded.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    except KeyboardInterrupt:
        typer.echo("", err=True)  # the prompt's line stays unfinished otherwise
        stop_requested.set()
    finally:
        signal.signal(signal.SIGINT, previous)


def _serve_control(running: contextlib.ExitStack, live: LiveController, settings: Settings) -> None:
    """The control page and API on 127.0.0.1, with a fresh token in a private file."""
    if not settings.control.enabled:
        return
    token = make_token()
    server = ControlServer(live, settings.control.port, token)
    try:
        server.start()  # bind first: a second vbgcam fails here, before touching the token file
    except ConfigError as exc:
        # The camera matters more than the page: keep running without it.
        log.warning("no control page: %s", exc)
        return
    try:
        write_token_file(token, server.port)
    except ConfigError as exc:  # same as a busy port: the camera matters more
        server.close()
        log.warning("no control page: %s", exc)
        return
    running.callback(server.close)
    running.callback(remove_token_file, token)
    log.info("control page: %s", server.url)


# What SIGHUP and SIGUSR1 do once vbgcam runs; filled by _watch_config.
SIGNAL_ACTIONS: dict[int, Callable[[], None]] = {}


def _watch_config(
    running: contextlib.ExitStack,
    live: LiveController,
    config_path: Path | None,
    flag_values: dict[str, Any],
) -> None:
    """Apply config file edits live; SIGHUP reloads it, SIGUSR1 toggles pause."""
    watcher = ConfigWatcher(config_path, flag_values, live.apply) if config_path else None
    if watcher is not None:
        watcher.start()
        running.callback(watcher.close)

    def on_hangup() -> None:
        if watcher is None:
            log.warning("SIGHUP: no config file to reload (start with --config FILE)")
        else:
            watcher.request_reload("reloaded on SIGHUP")

    def on_user1() -> None:
        # Not in the handler itself: pausing takes a lock the interrupted code may hold.
        threading.Thread(target=live.toggle_pause, name="vbgcam-signal", daemon=True).start()

    SIGNAL_ACTIONS.update({signal.SIGHUP: on_hangup, signal.SIGUSR1: on_user1})
    running.callback(SIGNAL_ACTIONS.clear)


def _watch_consumers(
    running: contextlib.ExitStack,
    live: LiveController,
    sinks: list[FrameSink],
    settings: Settings,
) -> None:
    """On-demand: release the webcam while no app reads any virtual camera output (Linux: who
    holds the loopback device open, and whether the PipeWire camera has a consumer linked)."""
    if not settings.control.on_demand or sys.platform != "linux":
        return
    if settings.output.record:
        log.info("on-demand capture is off while recording: the recording is a viewer too")
        return
    outputs = [sink for sink in sinks if isinstance(sink, CameraOutput)]
    if not outputs:
        return

    def any_output_watched() -> bool:
        # Every output is asked each time: the webcam stays on while any app on either reads.
        return any([output.consumer_seen() for output in outputs])

    watch = ConsumerWatch(None, live.set_watched, probe=any_output_watched)
    watch.start()
    running.callback(watch.close)


@app.command()
@reports_errors
def render(
    input: Annotated[
        str,
        typer.Argument(
            help="Video file to process, or 'demo' (or 'demo-offcentre') for a generated scene."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Video file to write (.mp4/.avi).")
    ],
    config: ConfigOpt = None,
    bg: BgOpt = None,
    blur: BlurOpt = None,
    fit: FitOpt = None,
    color: ColorOpt = None,
    mirror: MirrorOpt = None,
    overlay: OverlayOpt = None,
    overlay_position: OverlayPositionOpt = None,
    bg_mode: BgModeOpt = None,
    interval: IntervalOpt = None,
    segmenter: SegmenterOpt = None,
    threshold: ThresholdOpt = None,
    hold: HoldOpt = None,
    clean: CleanOpt = None,
    model: ModelOpt = None,
    plate: PlateOpt = None,
    refine: RefineOpt = None,
    people: PeopleOpt = None,
    framing: FramingOpt = None,
    max_zoom: MaxZoomOpt = None,
    size: Annotated[
        str | None,
        typer.Option(help="Output size WIDTHxHEIGHT. (default: the input's size; demo 1280x720)"),
    ] = None,
    fps: Annotated[float | None, typer.Option(help="demo only: frame rate. (default: 30)")] = None,
    frames: Annotated[
        int | None,
        typer.Option(min=1, help="Stop after this many frames. (default: all; demo 150)"),
    ] = None,
    mask_out: Annotated[
        Path | None,
        typer.Option(help="Write each frame's mask here as 000000.png, ... (255 = person)."),
    ] = None,
    compare: Annotated[
        Path | None,
        typer.Option(help="Write a before/after PNG of the middle frame here."),
    ] = None,
) -> None:
    """Replace the background of a video file as fast as possible, with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from vbgcam.pipeline import render as rendering

    mask_flags = dict(
        fit=fit,
        color=color,
        mirror=mirror,
        overlay=overlay,
        overlay_position=overlay_position,
        bg_mode=bg_mode,
        interval=interval,
        segmenter=segmenter,
        threshold=threshold,
        hold=hold,
        clean=clean,
        model=model,
        plate=plate,
        refine=refine,
        people=people,
        framing=framing,
        max_zoom=max_zoom,
    )
    source: DemoSource | VideoFileSource
    if input in DEMO_SCENES:
        settings = _settings(config, bg=bg, blur=blur, size=size, fps=fps, **mask_flags)
        out_size = settings.camera.size
        source = DemoSource(out_size, settings.camera.fps, input)
        total = frames or 150
    else:
        try:
            input_path = Path(input).expanduser()
        except RuntimeError as exc:  # "~user" of no such user
            raise SourceError(f"cannot open video file {input}: {exc}") from exc
        source = VideoFileSource(input_path, loop=False)
        even_size = f"{source.size[0] + source.size[0] % 2}x{source.size[1] + source.size[1] % 2}"
        settings = _settings(
            config, bg=bg, blur=blur, size=size or even_size, fps=source.fps, **mask_flags
        )
        out_size = settings.camera.size
        total = (
            min(frames, source.frame_count)
            if frames and source.frame_count
            else (frames or source.frame_count)
        )
    rendering.check_output(output)
    if compare is not None:
        check_picture_path(compare)
    compositor = _build_compositor(
        settings, make_background(settings.background, out_size), out_size
    )
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        disable=not sys.stderr.isatty(),
    )
    try:
        with progress:
            task = progress.add_task(f"rendering {output.name}", total=total or None)
            result = rendering.render(
                source,
                compositor,
                output,
                out_size,
                total or 10**9,
                mask_dir=mask_out,
                compare_png=compare,
                on_frame=lambda done: progress.update(task, completed=done),
            )
    finally:
        source.close()
    typer.echo(
        f"wrote {output} ({result.frames} frames, compositor median "
        f"{result.compose_ms_median:.2f} ms/frame)"
    )


@app.command()
@reports_errors
def calibrate(
    camera: CameraOpt = None,
    size: SizeOpt = None,
    fps: FpsOpt = None,
    config: ConfigOpt = None,
    seconds: Annotated[float, typer.Option(min=0.5, max=60, help="How long to watch.")] = 3.0,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Where to save it. (default: $XDG_DATA_HOME/vbgcam/plate.png)"
        ),
    ] = None,
) -> None:
    """Learn the empty scene for the 'plate' segmenter: step out of view, then run this."""
    from vbgcam.segmenters.plate import default_plate_path

    settings = _settings(config, camera=camera, size=size, fps=fps)
    cam = settings.camera
    target = output or default_plate_path()
    check_picture_path(target, create_folder=True)  # before the webcam's light goes on
    source = open_source(cam.source, cam.size, cam.fps, cam.fourcc)
    frames: list[np.ndarray] = []
    try:
        frame = np.empty((cam.size[1], cam.size[0], 3), np.uint8)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(frames) < 240:
            if source.read_into(frame):
                # Kept at the size the plate segmenter works at (it shrinks the plate to its
                # working copy anyway): 240 frames of 720p took 660 MB, at 320 px 41 MB.
                frames.append(working_copy(frame).copy())
            if not source.paces_itself:
                time.sleep(1 / source.fps)
    finally:
        source.close()
    if not frames:
        raise SourceError(f"{source.description} gave no frames to learn from")
    # The median of each pixel over time ignores a passer-by and averages out sensor noise.
    plate = np.median(np.stack(frames), axis=0).astype(np.uint8)
    write_picture(target, plate)
    typer.echo(f"saved the empty scene ({len(frames)} frames) to {target}")


@app.command()
def doctor() -> None:
    """Check this machine for vbgcam: OpenCV, virtual camera, webcams, model; with fixes."""
    from vbgcam.doctor import FAIL, diagnose

    findings = diagnose()
    marks = {"pass": "ok  ", "warn": "warn", "fail": "FAIL"}
    for finding in findings:
        typer.echo(f"[{marks[finding.status]}] {finding.what}")
        if finding.fix:
            typer.echo(f"       fix: {finding.fix}")
    if any(finding.status == FAIL for finding in findings):
        raise typer.Exit(1)


@app.command()
def devices() -> None:
    """List webcams and virtual cameras (Linux): video devices, then the PipeWire camera."""
    from vbgcam.doctor import video_devices
    from vbgcam.outputs.pipewire import info as pipewire_info

    found = video_devices()
    if not found:
        typer.echo("no video devices (no webcam, no v4l2loopback device)")
    for device in found:
        kind = "virtual camera" if device.loopback else "camera"
        seen_by = f"  (seen by {READERS['v4l2loopback']})" if device.loopback else ""
        typer.echo(f"{device.path}  {kind:14}  {device.name}{seen_by}")
    pipewire = pipewire_info.status()
    version = pipewire_info.version_text(pipewire.version)
    if pipewire.node:
        state = "up: 'VBG Camera' is published"
    elif pipewire.usable:
        state = "ready: 'vbgcam run' publishes 'VBG Camera'"
    else:
        state = f"unavailable: {pipewire.problem()}"
    typer.echo(f"PipeWire {version}  camera {state}  (seen by {READERS['pipewire']})")


@app.command(
    "bench",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def benchmark(ctx: typer.Context) -> None:
    """Measure speed: compositor, each network, live path, PipeWire camera (--help)."""
    from vbgcam.devtools.bench_all import main as run_benchmarks

    raise typer.Exit(run_benchmarks(list(ctx.args)))


@app.command(
    "eval",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def evaluate(ctx: typer.Context) -> None:
    """Measure mask quality on ../shared/data (see 'vbgcam eval --help')."""
    from vbgcam.evaluation.runner import main as run_evaluation

    raise typer.Exit(run_evaluation(list(ctx.args)))


if __name__ == "__main__":
    app()
