"""`vbgcam doctor` and `vbgcam devices`: what this machine has, and how to fix what it lacks.

Everything is read from places that exist without special rights (sysfs, /proc, /dev, the
model cache, OpenCV's build information), so a user can run it before filing a bug. Each
check is a ``Finding``: pass, warn or fail, a one-line explanation, and the command that
fixes it. The sysfs root is a parameter so tests can point it at a tree they build.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import cv2

from vbgcam import __version__, models
from vbgcam.errors import VbgcamError
from vbgcam.outputs import MODPROBE
from vbgcam.outputs.cameras import READERS
from vbgcam.outputs.pipewire import info as pipewire_info
from vbgcam.pipeline.on_demand import processes_holding
from vbgcam.sources.camera_modes import camera_modes, summary

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass(frozen=True)
class Finding:
    status: str
    what: str
    fix: str = ""


@dataclass(frozen=True)
class VideoDevice:
    """A /dev/videoN node as sysfs describes it."""

    path: Path
    name: str
    loopback: bool


def video_devices(
    sys_root: Path = Path("/sys"), dev_root: Path = Path("/dev")
) -> list[VideoDevice]:
    """Every video4linux node, with its card name and whether v4l2loopback made it."""
    found: list[VideoDevice] = []
    classes = sys_root / "class" / "video4linux"
    if not classes.is_dir():
        return found
    for entry in sorted(classes.iterdir(), key=lambda p: (len(p.name), p.name)):
        try:
            name = (entry / "name").read_text().strip()
        except OSError:
            name = "?"
        # v4l2loopback devices hang off the virtual bus; real cameras off USB or PCI.
        target = os.path.realpath(entry)
        loopback = "/virtual/" in target or "loopback" in name.lower()
        found.append(VideoDevice(dev_root / entry.name, name, loopback))
    return found


def _loopback_findings(sys_root: Path, dev_root: Path) -> list[Finding]:
    module = sys_root / "module" / "v4l2loopback"
    if not module.is_dir():
        return [Finding(FAIL, "v4l2loopback is not loaded: there is no virtual camera", MODPROBE)]
    findings = [Finding(PASS, "v4l2loopback is loaded")]
    caps_file = module / "parameters" / "exclusive_caps"
    try:
        caps = caps_file.read_text().strip()
    except OSError:
        caps = ""
    if caps and not any(c in caps for c in "1Y"):
        findings.append(
            Finding(
                WARN,
                "exclusive_caps is off: Chrome, Meet and Teams will not list the camera",
                "sudo modprobe -r v4l2loopback && " + MODPROBE,
            )
        )
    loopbacks = [d for d in video_devices(sys_root, dev_root) if d.loopback]
    if not loopbacks:
        findings.append(Finding(FAIL, "v4l2loopback made no device", MODPROBE))
    for device in loopbacks:
        line = f"virtual camera {device.path} ({device.name})"
        if device.path.exists() and not os.access(device.path, os.R_OK | os.W_OK):
            findings.append(
                Finding(
                    FAIL, f"{line}: no permission", "sudo usermod -aG video $USER (log in again)"
                )
            )
            continue
        holders = processes_holding(device.path, os.getpid()) if device.path.exists() else set()
        held = f", open in {len(holders)} other process(es)" if holders else ""
        findings.append(Finding(PASS, line + held))
    return findings


PACKAGES = (
    "opencv-python",
    "numpy",
    "pyvirtualcam",
    "typer",
    "rich",
    "simplejpeg",
    "threadpoolctl",
)


def _package_finding() -> Finding:
    """The versions a bug report needs; a missing one means a broken install."""
    versions, missing = [], []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        return Finding(
            FAIL, f"missing packages: {', '.join(missing)}", "pip install -e . (or make setup)"
        )
    return Finding(PASS, "packages: " + ", ".join(versions))


def _opencv_findings() -> list[Finding]:
    info = cv2.getBuildInformation()

    def built_with(name: str) -> bool:
        return any(line.strip().startswith(name) and "YES" in line for line in info.splitlines())

    findings = []
    for name, why in (("FFMPEG", "video files"), ("v4l/v4l2", "webcams on Linux")):
        if built_with(name):
            findings.append(Finding(PASS, f"OpenCV {cv2.__version__} reads {why} ({name})"))
        else:
            findings.append(
                Finding(
                    WARN, f"this OpenCV build lacks {name}: no {why}", "pip install opencv-python"
                )
            )
    return findings


def _runtime_finding(name: str) -> Finding:
    """Which runtime runs a verified model here, after the same check ``vbgcam run`` makes."""
    from vbgcam.segmenters.runtimes import LITERT_PACKAGE, litert_installed
    from vbgcam.segmenters.selfie import load_network

    try:
        runtime = load_network(name)
    except VbgcamError as exc:
        return Finding(
            FAIL,
            f"model {name} cannot run: {exc}",
            f"pip install --upgrade {LITERT_PACKAGE} opencv-python",
        )
    if runtime.description.startswith("LiteRT"):
        return Finding(PASS, f"model {name} runs on {runtime.description}")
    if litert_installed():
        return Finding(
            WARN,
            f"model {name} runs on {runtime.description}: LiteRT gave another answer than the "
            "model's reference (the log says how)",
            f"pip install --upgrade {LITERT_PACKAGE}",
        )
    return Finding(
        WARN,
        f"model {name} runs on {runtime.description}: {LITERT_PACKAGE} is not installed, "
        "which runs it at half the CPU",
        f"pip install {LITERT_PACKAGE} (wheels: Linux x86_64/aarch64, Windows x86_64, macOS arm64)",
    )


def _model_findings() -> list[Finding]:
    findings = []
    for found in models.describe():
        if found.status == "verified":
            findings.append(Finding(PASS, f"model {found.name} verified ({found.path})"))
            findings.append(_runtime_finding(found.name))
        else:
            findings.append(
                Finding(
                    WARN,
                    f"model {found.name} is {found.status}: 'auto' falls back to 'diff'",
                    "vbgcam models pull",
                )
            )
    findings.append(_rvm_finding())
    return findings


def _rvm_finding() -> Finding:
    """RVM, the quality segmenter: cached, converted, and who runs it at what cost."""
    found = models.npm_state(models.RVM)
    if found.status != "verified":
        return Finding(
            WARN,
            f"model rvm is {found.status}: 'auto' uses the selfie model (rougher edges, a "
            "still person or a held cup can be lost)",
            "vbgcam models pull rvm",
        )
    try:
        from vbgcam.segmenters.rvm import RvmSegmenter
        from vbgcam.segmenters.rvm_choice import step_ms

        segmenter = RvmSegmenter()
        cost_ms = step_ms(segmenter)
    except VbgcamError as exc:
        return Finding(
            FAIL, f"model rvm cannot run: {exc}", "pip install --upgrade onnxruntime onnx"
        )
    return Finding(
        PASS,
        f"model rvm runs on {segmenter.runtime}, {cost_ms:.0f} ms of CPU a run at "
        f"{segmenter.long_side_px} px",
    )


# Where OBS Studio puts the virtual camera that pyvirtualcam's ``obs`` backend feeds.
OBS_CAMERA_FILES = {
    "Darwin": (
        "Applications/OBS.app/Contents/Library/SystemExtensions/"
        "com.obsproject.obs-studio.mac-camera-extension.systemextension",  # OBS 30+, macOS 13+
        "Library/CoreMediaIO/Plug-Ins/DAL/obs-mac-virtualcam.plugin",  # OBS 26-29
    ),
    "Windows": (
        "Program Files/obs-studio/data/obs-plugins/win-dshow/obs-virtualcam-module64.dll",
        "Program Files (x86)/obs-studio/data/obs-plugins/win-dshow/obs-virtualcam-module64.dll",
    ),
}
OBS_FIX = "install OBS Studio 28+ (https://obsproject.com), start its Virtual Camera once"


def obs_virtual_camera_finding(system: str, root: Path | None = None) -> Finding:
    """Whether OBS Studio's virtual camera is installed (macOS and Windows); ``root`` is the
    system drive or '/' (tests give a folder they build)."""
    if root is None:
        root = (
            Path(os.environ.get("SYSTEMDRIVE", "C:") + "\\") if system == "Windows" else Path("/")
        )
    for relative in OBS_CAMERA_FILES.get(system, ()):
        if (root / relative).exists():
            return Finding(PASS, f"OBS Virtual Camera is installed ({root / relative})")
    return Finding(FAIL, "OBS Virtual Camera is not installed: there is no virtual camera", OBS_FIX)


def _pipewire_findings(found: pipewire_info.PipeWireStatus) -> list[Finding]:
    """The kernel-free camera: daemon, session manager, GStreamer's sink, our node."""
    version = pipewire_info.version_text(found.version)
    if found.version is None:
        return [
            Finding(
                WARN,
                "PipeWire is not installed: no camera without v4l2loopback",
                pipewire_info.INSTALL,
            )
        ]
    findings = [Finding(PASS, f"PipeWire {version} installed")]
    if found.daemon:
        findings.append(Finding(PASS, "a PipeWire daemon runs for this user"))
    else:
        findings.append(Finding(WARN, "no PipeWire daemon runs for this user", pipewire_info.START))
    if found.daemon and found.session_manager:
        findings.append(Finding(PASS, f"session manager {found.session_manager} runs"))
    elif found.daemon:
        findings.append(
            Finding(
                WARN,
                "no session manager: consumers would never be linked to the camera",
                pipewire_info.START_SESSION_MANAGER,
            )
        )
    if found.native:
        findings.append(
            Finding(
                PASS,
                f"libpipewire {version} feeds the camera itself (no GStreamer needed; "
                "a consumer that stalls or leaves never takes the camera from the others)",
            )
        )
    elif found.gst_sink:
        findings.append(Finding(PASS, "GStreamer's pipewiresink is available"))
    else:
        findings.append(
            Finding(
                WARN,
                "GStreamer's pipewiresink is missing",
                pipewire_info.INSTALL_GST_SINK,
            )
        )
    if found.node:
        findings.append(Finding(PASS, "the PipeWire camera 'VBG Camera' is up (vbgcam runs)"))
    elif found.usable:
        findings.append(
            Finding(PASS, "PipeWire camera ready: 'vbgcam run' publishes 'VBG Camera' there")
        )
    return findings


def _either_camera(findings: list[Finding], pipewire: pipewire_info.PipeWireStatus) -> None:
    """A missing v4l2loopback is only a failure when no PipeWire camera can stand in."""
    if not pipewire.usable:
        return
    for i, finding in enumerate(findings):
        if finding.status == FAIL and (
            "v4l2loopback is not loaded" in finding.what
            or "v4l2loopback made no device" in finding.what
        ):
            findings[i] = Finding(
                WARN,
                f"{finding.what.split(':')[0]}: the PipeWire camera is used instead "
                "(Chromium needs --enable-features=WebRtcPipeWireCamera)",
                finding.fix,
            )


def outputs_finding(loopbacks: list[Path], pipewire: pipewire_info.PipeWireStatus) -> Finding:
    """Which outputs `vbgcam run` will publish 'VBG Camera' on, and which apps see each."""
    kernel = READERS["v4l2loopback"]
    shared = READERS["pipewire"]
    if loopbacks and pipewire.usable:
        return Finding(
            PASS,
            f"'VBG Camera' goes out on both outputs: the kernel camera {loopbacks[0]} "
            f"({kernel}) and the PipeWire camera ({shared})",
        )
    if pipewire.usable:
        return Finding(
            WARN,
            f"'VBG Camera' goes out on PipeWire only ({shared}); {kernel} need the kernel camera",
            MODPROBE,
        )
    if loopbacks:
        return Finding(
            WARN,
            f"'VBG Camera' goes out on the kernel camera {loopbacks[0]} only ({kernel}); "
            "with exclusive_caps=1 one app at a time, and PipeWire apps see it only through "
            "PipeWire's V4L2 monitor",
            pipewire.problem() or pipewire_info.START,
        )
    return Finding(
        FAIL,
        "no output for 'VBG Camera': neither the kernel camera nor the PipeWire camera",
        f"{MODPROBE}; or, for the PipeWire camera: {pipewire.problem() or pipewire_info.START}",
    )


def diagnose(
    sys_root: Path = Path("/sys"),
    dev_root: Path = Path("/dev"),
    pipewire: pipewire_info.PipeWireStatus | None = None,
) -> list[Finding]:
    """Every check, in the order a user would fix things. ``pipewire`` is asked of the
    running system when not given (tests give it)."""
    findings = [
        Finding(
            PASS,
            f"vbgcam {__version__} on Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}",
        )
    ]
    findings.append(_package_finding())
    findings.extend(_opencv_findings())
    if platform.system() == "Linux":
        findings.extend(_loopback_findings(sys_root, dev_root))
        found = pipewire if pipewire is not None else pipewire_info.status()
        findings.extend(_pipewire_findings(found))
        _either_camera(findings, found)
        devices = video_devices(sys_root, dev_root)
        loopbacks = [d.path for d in devices if d.loopback]
        findings.append(outputs_finding(loopbacks, found))
        cameras = [d for d in devices if not d.loopback]
        if cameras:
            for camera in cameras:
                modes = camera_modes(camera.path) if camera.path.exists() else None
                offers = f": {summary(modes)}" if modes else ""
                findings.append(Finding(PASS, f"camera {camera.path} ({camera.name}){offers}"))
        else:
            findings.append(
                Finding(WARN, "no webcam found", "plug one in, or try: vbgcam run --camera demo")
            )
    else:
        findings.append(obs_virtual_camera_finding(platform.system()))
    findings.extend(_model_findings())
    return findings
