"""Shared inputs: generated files with known content, made once per session."""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests import fakes
from vbgcam import models
from vbgcam.errors import VbgcamError
from vbgcam.models.rvm_onnx import ensure_converted, ensure_quantized
from vbgcam.sources.demo_scene import DemoScene

CLIP_SIZE = (320, 240)
CLIP_FPS = 30.0
CLIP_FRAMES = 64


def v4l2loopback_present() -> bool:
    """Whether this machine has v4l2loopback loaded (its devices are virtual video4linux)."""
    return Path("/sys/module/v4l2loopback").exists() or bool(
        glob.glob("/sys/devices/virtual/video4linux/video*")
    )


@pytest.fixture(autouse=True)
def no_user_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point ``$XDG_CONFIG_HOME`` at an empty folder, so a developer's config never leaks in
    (subprocesses inherit it too)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))


@pytest.fixture(autouse=True)
def no_user_pipewire(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty ``$XDG_RUNTIME_DIR``: a developer's own PipeWire never answers a test (the
    PipeWire tests start a private one and point the test at it)."""
    runtime_dir = tmp_path_factory.mktemp("xdg-runtime")
    runtime_dir.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir))
    for key in ("PIPEWIRE_RUNTIME_DIR", "PIPEWIRE_REMOTE"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding both verified selfie models, shared by the session.

    Copied from the developer's cache when it has them (``make setup`` puts them there),
    else pulled once through the real PyPI route; skipped politely when neither works.
    """
    from vbgcam import models

    cache_home = tmp_path_factory.mktemp("xdg-cache")
    target = cache_home / "vbgcam" / "models"
    target.mkdir(parents=True)
    for name, spec in models.MODELS.items():
        found = models.verified_path(name)
        if found is not None:
            shutil.copy2(found, target / spec.filename)
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache_home)
    try:
        if any(models.verified_path(name) is None for name in models.MODELS):
            try:
                models.pull()
            except VbgcamError as exc:
                pytest.skip(f"the selfie models are not available here: {exc}")
    finally:
        if previous is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = previous
    return cache_home


@pytest.fixture(autouse=True)
def isolated_model_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An empty model cache for every test: tests that want the models ask for
    ``with_models``, so the developer's cache never decides what a test sees."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache-empty")))


@pytest.fixture
def with_models(model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Both selfie models verified in ``$XDG_CACHE_HOME`` for this test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(model_cache))
    return model_cache


@pytest.fixture(scope="session")
def background_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1920x1080 JPEG: a horizontal blue ramp over a vertical red ramp, green constant."""
    width, height = 1920, 1080
    image = np.empty((height, width, 3), np.uint8)
    image[:, :, 0] = np.linspace(0, 255, width, dtype=np.float32).astype(np.uint8)[None, :]
    image[:, :, 1] = 90
    image[:, :, 2] = np.linspace(255, 0, height, dtype=np.float32).astype(np.uint8)[:, None]
    path = tmp_path_factory.mktemp("background") / "gradient.jpg"
    assert cv2.imwrite(str(path), image)
    return path


@pytest.fixture(scope="session")
def demo_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 frames of the demo scene, 320x240 MJPG in AVI at 30 fps (frame i is t = i / 30)."""
    path = tmp_path_factory.mktemp("clip") / "demo.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), CLIP_FPS, CLIP_SIZE)
    assert writer.isOpened()
    scene = DemoScene(*CLIP_SIZE)
    frame = np.empty((CLIP_SIZE[1], CLIP_SIZE[0], 3), np.uint8)
    for index in range(CLIP_FRAMES):
        scene.render(index / CLIP_FPS, frame)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def recording_backend() -> Iterator[type[fakes.RecordingBackend]]:
    """pyvirtualcam with the ``recording`` and ``unplugged`` backends registered, for one
    test; the class gives access to every camera opened."""
    fakes.RecordingBackend.instances.clear()
    fakes.register()
    yield fakes.RecordingBackend
    fakes.unregister()
    fakes.RecordingBackend.instances.clear()


def decode_all(path: Path) -> list[np.ndarray]:
    """Every frame of an MJPG video file as a source delivers it: its JPEGs read as a camera
    hands them over, decoded by ``MjpegDecoder`` (which ``test_mjpeg`` holds to OpenCV's
    ``cv2.imdecode``), so a test can tell exactly which frame it was given."""
    from vbgcam.sources.mjpeg import MjpegDecoder

    capture = cv2.VideoCapture(str(path))
    assert capture.set(cv2.CAP_PROP_FORMAT, -1)  # FFmpeg's raw mode: the packets
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    decoder = MjpegDecoder()
    frames = []
    while True:
        ok, packet = capture.read()
        if not ok:
            break
        frame = np.empty((height, width, 3), np.uint8)
        assert decoder.decode_into(packet, frame)
        frames.append(frame)
    capture.release()
    return frames


def require_pipewire_parts(missing: list[str], needs: str, hint: str) -> None:
    """Skip when the PipeWire/desktop parts a test starts are not installed; fail instead
    where CI installed them (VBGCAM_REQUIRE_PIPEWIRE), so a broken install is not a skip."""
    if not missing:
        return
    message = f"{needs}: {', '.join(missing)} ({hint})"
    if os.environ.get("VBGCAM_REQUIRE_PIPEWIRE"):
        pytest.fail(message)
    pytest.skip(message)


# --- the rvm model (see tests/segmenters/test_rvm.py)

PULL_HINT = "vbgcam models pull rvm"
# The developer's cache as it was before any test moved $XDG_CACHE_HOME: where
# 'vbgcam models pull rvm' put the model.
DEVELOPER_CACHE_HOME = os.environ.get("XDG_CACHE_HOME", "")


@contextmanager
def cache_home(path: Path) -> Iterator[None]:
    """``$XDG_CACHE_HOME`` set to ``path`` for a session fixture (monkeypatch is per test)."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(path)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = previous


def models_folder(home: Path) -> Path:
    folder = home / "vbgcam" / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def rvm_sources() -> tuple[Path, Path]:
    """The developer's verified ``rvm.json`` and ``rvm.bin``."""
    with cache_home(Path(DEVELOPER_CACHE_HOME or Path.home() / ".cache")):
        found = models.rvm_sources()
    if found is None:
        pytest.skip(f"the rvm model is not in the cache here (run '{PULL_HINT}')")
    return found


@pytest.fixture(scope="session")
def rvm_cache(tmp_path_factory: pytest.TempPathFactory, rvm_sources: tuple[Path, Path]) -> Path:
    """A cache home with the rvm sources, their ONNX model and its 8-bit-decoder model,
    made once per session (the quantization takes about 15 s)."""
    home = tmp_path_factory.mktemp("rvm-cache")
    for path in rvm_sources:
        shutil.copy2(path, models_folder(home) / path.name)
    with cache_home(home):
        ensure_converted()
        ensure_quantized()
    return home


@pytest.fixture(scope="session")
def rvm_and_selfie_cache(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path, rvm_cache: Path
) -> Path:
    """A cache home with every model: what ``auto`` chooses from on a full machine."""
    home = tmp_path_factory.mktemp("all-models")
    for source in (model_cache, rvm_cache):
        for path in models_folder(source).iterdir():
            shutil.copy2(path, models_folder(home) / path.name)
    return home


@pytest.fixture
def with_all_models(rvm_and_selfie_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every model (both selfie models and rvm, converted) in ``$XDG_CACHE_HOME`` for this test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(rvm_and_selfie_cache))
    return rvm_and_selfie_cache


# The fixture whose models may come from PyPI when the developer's cache lacks them (the
# tests that use it, directly or through another fixture, have it in their fixture names).
MODEL_FIXTURES = {"model_cache"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that may fetch a model are marked ``network``, so ``-m "not network"`` runs the
    rest offline (the markers are listed in pyproject.toml)."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.network)
