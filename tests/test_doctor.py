"""`vbgcam doctor`: each finding names the problem and the command that fixes it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vbgcam.cli.app import app
from vbgcam.doctor import FAIL, PASS, WARN, diagnose, video_devices
from vbgcam.outputs.pipewire.info import PipeWireStatus

NO_PIPEWIRE = PipeWireStatus(None, daemon=False, session_manager=None, gst_sink=False, node=False)
PIPEWIRE_READY = PipeWireStatus(
    (0, 3, 65), daemon=True, session_manager="WirePlumber", gst_sink=True, node=False
)


def fake_sysfs(root: Path, *, loaded: bool, exclusive_caps: str = "Y", devices: tuple = ()) -> Path:
    """A sysfs tree like the kernel's: /sys/class/video4linux/videoN -> the device's folder."""
    sys_root = root / "sys"
    classes = sys_root / "class" / "video4linux"
    classes.mkdir(parents=True)
    if loaded:
        parameters = sys_root / "module" / "v4l2loopback" / "parameters"
        parameters.mkdir(parents=True)
        (parameters / "exclusive_caps").write_text(exclusive_caps + "\n")
    for node, name, bus in devices:
        target = sys_root / "devices" / bus / "video4linux" / node
        target.mkdir(parents=True)
        (target / "name").write_text(name + "\n")
        os.symlink(target, classes / node)
    return sys_root


def statuses(findings: list) -> dict[str, str]:
    return {f.what: f.status for f in findings}


def test_no_loopback_module_fails_with_the_modprobe_line(tmp_path: Path) -> None:
    findings = diagnose(fake_sysfs(tmp_path, loaded=False), tmp_path / "dev", NO_PIPEWIRE)
    failing = [f for f in findings if f.status == FAIL]
    assert failing and "v4l2loopback is not loaded" in failing[0].what
    assert "modprobe v4l2loopback" in failing[0].fix and "exclusive_caps=1" in failing[0].fix
    pipewire = [f for f in findings if "PipeWire is not installed" in f.what]
    assert pipewire and "gstreamer1.0-pipewire" in pipewire[0].fix


def test_missing_loopback_is_only_a_warning_when_the_pipewire_camera_stands_in(
    tmp_path: Path,
) -> None:
    findings = diagnose(fake_sysfs(tmp_path, loaded=False), tmp_path / "dev", PIPEWIRE_READY)
    assert not [f for f in findings if f.status == FAIL]
    by_line = statuses(findings)
    assert by_line["PipeWire 0.3.65 installed"] == PASS
    assert by_line["session manager WirePlumber runs"] == PASS
    loopback = [f for f in findings if "v4l2loopback is not loaded" in f.what]
    assert loopback[0].status == WARN and "PipeWire camera is used instead" in loopback[0].what


@pytest.mark.parametrize(
    ("status", "warning", "fix"),
    [
        pytest.param(
            PipeWireStatus((1, 4, 2), False, None, True, False),
            "no PipeWire daemon runs for this user",
            "systemctl --user start pipewire wireplumber",
            id="no-daemon",
        ),
        pytest.param(
            PipeWireStatus((1, 4, 2), True, None, True, False),
            "no session manager",
            "systemctl --user start wireplumber",
            id="no-session-manager",
        ),
        pytest.param(
            PipeWireStatus((1, 4, 2), True, "WirePlumber", False, False),
            "pipewiresink is missing",
            "gstreamer1.0-pipewire",
            id="no-gstreamer-sink",
        ),
    ],
)
def test_each_missing_pipewire_part_is_named_with_its_fix(
    tmp_path: Path, status: PipeWireStatus, warning: str, fix: str
) -> None:
    findings = diagnose(fake_sysfs(tmp_path, loaded=False), tmp_path / "dev", status)
    found = [f for f in findings if warning in f.what]
    assert found and found[0].status == WARN and fix in found[0].fix
    # Without a working PipeWire camera, the missing kernel module stays a failure.
    assert any(f.status == FAIL and "v4l2loopback" in f.what for f in findings)


def test_loopback_without_exclusive_caps_warns_about_chrome(tmp_path: Path) -> None:
    sys_root = fake_sysfs(
        tmp_path, loaded=True, exclusive_caps="N", devices=(("video10", "VBG Camera", "virtual"),)
    )
    findings = diagnose(sys_root, tmp_path / "dev")
    warning = next(f for f in findings if "exclusive_caps" in f.what)
    assert warning.status == WARN and "Chrome" in warning.what


def test_cameras_and_virtual_cameras_are_told_apart(tmp_path: Path) -> None:
    sys_root = fake_sysfs(
        tmp_path,
        loaded=True,
        devices=(
            ("video0", "Integrated Webcam", "pci0000:00/usb1/1-5"),
            ("video10", "VBG Camera", "virtual"),
        ),
    )
    found = {d.path.name: d for d in video_devices(sys_root, tmp_path / "dev")}
    assert found["video0"].loopback is False and found["video0"].name == "Integrated Webcam"
    assert found["video10"].loopback is True
    by_line = statuses(diagnose(sys_root, tmp_path / "dev"))
    assert by_line[f"camera {tmp_path / 'dev' / 'video0'} (Integrated Webcam)"] == PASS
    assert by_line[f"virtual camera {tmp_path / 'dev' / 'video10'} (VBG Camera)"] == PASS


def test_a_missing_model_is_a_warning_with_the_pull_command() -> None:
    findings = diagnose()  # the test's model cache is empty
    model = [f for f in findings if f.what.startswith("model selfie")]
    assert model and all(f.status == WARN and f.fix == "vbgcam models pull" for f in model)
    rvm = [f for f in findings if f.what.startswith("model rvm")]
    assert len(rvm) == 1 and rvm[0].status == WARN and rvm[0].fix == "vbgcam models pull rvm"


def test_a_cached_rvm_model_is_reported_with_its_runtime_and_cost(with_all_models: Path) -> None:
    rvm = [f for f in diagnose() if f.what.startswith("model rvm")]
    assert len(rvm) == 1 and rvm[0].status == PASS
    assert "runs on onnxruntime" in rvm[0].what or "runs on OpenCV" in rvm[0].what
    assert "ms of CPU a run" in rvm[0].what


def test_doctor_exits_non_zero_when_something_fails_and_prints_fixes() -> None:
    if Path("/sys/module/v4l2loopback").is_dir():
        pytest.skip("this machine has v4l2loopback loaded")
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "[FAIL] v4l2loopback is not loaded" in result.output
    assert "fix: sudo modprobe v4l2loopback" in result.output


@pytest.mark.parametrize("system", ["Darwin", "Windows"])
def test_obs_virtual_camera_is_found_where_obs_installs_it(tmp_path: Path, system: str) -> None:
    from vbgcam.doctor import OBS_CAMERA_FILES, obs_virtual_camera_finding

    missing = obs_virtual_camera_finding(system, tmp_path)
    assert missing.status == FAIL and "obsproject.com" in missing.fix
    installed = tmp_path / OBS_CAMERA_FILES[system][0]
    installed.mkdir(parents=True)
    found = obs_virtual_camera_finding(system, tmp_path)
    assert found.status == PASS and str(installed) in found.what


def test_doctor_says_which_outputs_carry_the_camera_and_which_apps_see_each() -> None:
    from pathlib import Path

    from vbgcam.doctor import outputs_finding

    both = outputs_finding([Path("/dev/video10")], PIPEWIRE_READY)
    assert both.status == "pass" and "/dev/video10" in both.what
    assert "Zoom" in both.what and "OBS" in both.what
    pipewire_only = outputs_finding([], PIPEWIRE_READY)
    assert pipewire_only.status == "warn" and "Zoom" in pipewire_only.what
    assert pipewire_only.fix is not None and "modprobe v4l2loopback" in pipewire_only.fix
    kernel_only = outputs_finding([Path("/dev/video10")], NO_PIPEWIRE)
    assert kernel_only.status == "warn" and "one app at a time" in kernel_only.what
    assert kernel_only.fix is not None and "apt install" in kernel_only.fix
    neither = outputs_finding([], NO_PIPEWIRE)
    assert neither.status == "fail"
    assert neither.fix is not None and "modprobe" in neither.fix and "apt install" in neither.fix
