"""Model cache: real HTTP on 127.0.0.1, real pip against PyPI, real zip files.

The real model bytes come once per session from the mediapipe wheel on PyPI (the same route
users fall back to); without PyPI the tests that need them are skipped. Every test has its own
``$XDG_CACHE_HOME``, so nothing reads or writes the developer's cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vbgcam import models
from vbgcam.cli.models import models_app
from vbgcam.errors import ModelError
from vbgcam.models import MEDIAPIPE_REQUIREMENT, MODELS, Pulled

LANDSCAPE = MODELS["selfie-landscape"]
GENERAL = MODELS["selfie-general"]
PYPI_ROUTE = f"the {MEDIAPIPE_REQUIREMENT} wheel on PyPI"


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``$XDG_CACHE_HOME`` for each test; returns the model folder inside it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path / "xdg-cache" / "vbgcam" / "models"


def files_in(folder: Path) -> list[str]:
    """Every name in ``folder``, hidden temporary files included; [] if it does not exist."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- the real models, once per session


@pytest.fixture(scope="session")
def mediapipe_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mediapipe wheel, fetched by plain pip; also tells whether PyPI can be reached."""
    folder = tmp_path_factory.mktemp("wheel")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("pip-cache"))}
    # Any platform's wheel holds the same models; asking for one fixed platform works on every
    # Python version.
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--platform", "manylinux_2_28_x86_64", "--python-version", "3.11"]
    command += [MEDIAPIPE_REQUIREMENT, "-d", str(folder)]
    finished = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    wheels = sorted(folder.glob("mediapipe-*.whl"))
    if finished.returncode != 0 or not wheels:
        pytest.skip(f"PyPI unreachable, so no real models: {finished.stderr.strip()[-300:]}")
    return wheels[0]


@pytest.fixture(scope="session")
def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/model.tflite"


@dataclasses.dataclass(frozen=True)
class PypiPull:
    cache: Path
    paths: list[Path]
    pulled: list[Pulled]


@pytest.fixture(scope="session")
def pypi_pull(
    tmp_path_factory: pytest.TempPathFactory, mediapipe_wheel: Path, closed_port_url: str
) -> PypiPull:
    """``pull`` of every model where every URL is refused, so they come from PyPI for real."""
    xdg = tmp_path_factory.mktemp("pypi-xdg-cache")
    pulled: list[Pulled] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(xdg))
        paths = models.pull(
            urls={name: [closed_port_url] for name in MODELS}, on_pulled=pulled.append
        )
    return PypiPull(xdg / "vbgcam" / "models", paths, pulled)


@pytest.fixture(scope="session")
def model_bytes(pypi_pull: PypiPull) -> dict[str, bytes]:
    return {p.name: p.path.read_bytes() for p in pypi_pull.pulled}


# --- a real HTTP server on 127.0.0.1


class ModelHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.pages[path] = (body, how)``; HTTP/1.0, so each connection closes after
    one response. ``how``: "whole", "half" (announces the full length, sends half) or
    "no-length" (no Content-Length, the end is the connection closing)."""

    server: ModelServer

    def do_GET(self) -> None:
        if self.path not in self.server.pages:
            self.send_error(404)
            return
        body, how = self.server.pages[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if how != "no-length":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if how == "half" else body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests assert on what the client saw."""


class ModelServer(http.server.ThreadingHTTPServer):
    pages: dict[str, tuple[bytes, str]]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture(scope="session")
def server(model_bytes: dict[str, bytes]) -> Iterator[ModelServer]:
    good = model_bytes[LANDSCAPE.name]
    wrong = hashlib.sha512(b"not a model").digest() * (len(good) // 64 + 1)
    httpd = ModelServer(("127.0.0.1", 0), ModelHandler)
    httpd.pages = {
        "/good/landscape.tflite": (good, "whole"),
        "/good/general.tflite": (model_bytes[GENERAL.name], "whole"),
        "/wrong/landscape.tflite": (wrong[: len(good)], "whole"),
        "/half/landscape.tflite": (good, "half"),
        "/no-length/landscape.tflite": (good, "no-length"),
    }
    thread = threading.Thread(target=httpd.serve_forever, name="model-server", daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) but never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/model.tflite"


# --- pull from URLs


def test_download_is_verified_and_lands_in_the_cache(server: ModelServer, cache: Path) -> None:
    url = server.url("/good/landscape.tflite")
    progress: list[tuple[str, int, int | None]] = []
    pulled: list[Pulled] = []
    paths = models.pull(
        ["selfie-landscape"],
        urls={"selfie-landscape": [url]},
        use_pypi=False,
        progress=lambda *call: progress.append(call),
        on_pulled=pulled.append,
    )
    size = 250145
    assert paths == [cache / LANDSCAPE.filename]
    assert models.verified_path("selfie-landscape") == paths[0]
    assert pulled == [Pulled("selfie-landscape", paths[0], url)]
    assert progress[0] == ("selfie-landscape", 0, size)
    assert progress[-1] == ("selfie-landscape", size, size)
    assert len(progress) > 2, "progress is reported while the bytes arrive"
    assert files_in(cache) == [LANDSCAPE.filename]


def test_download_without_content_length_is_judged_by_its_checksum(
    server: ModelServer, cache: Path
) -> None:
    url = server.url("/no-length/landscape.tflite")
    progress: list[tuple[str, int, int | None]] = []
    models.pull(
        ["selfie-landscape"],
        urls={"selfie-landscape": [url]},
        use_pypi=False,
        progress=lambda *call: progress.append(call),
    )
    assert models.verified_path("selfie-landscape") == cache / LANDSCAPE.filename
    assert progress[-1] == ("selfie-landscape", 250145, None)


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        pytest.param("/wrong/landscape.tflite", "checksum mismatch", id="wrong-bytes"),
        pytest.param(
            "/half/landscape.tflite", "truncated: got 125072 of 250145 bytes", id="closed-halfway"
        ),
        pytest.param("/missing.tflite", "HTTP 404", id="not-found"),
        pytest.param("refused", "connection refused", id="nothing-listening"),
        pytest.param("silent", "no answer within 0.5 s", id="never-answers"),
    ],
)
def test_failed_download_says_why_and_leaves_nothing_in_the_cache(
    route: str,
    reason: str,
    server: ModelServer,
    closed_port_url: str,
    silent_url: str,
    cache: Path,
) -> None:
    url = {"refused": closed_port_url, "silent": silent_url}.get(route) or server.url(route)
    with pytest.raises(ModelError) as caught:
        models.pull(
            ["selfie-landscape"],
            urls={"selfie-landscape": [url]},
            use_pypi=False,
            timeout_s=0.5,
        )
    message = str(caught.value)
    assert "could not get selfie-landscape" in message
    assert f"{url}: {reason}" in message
    assert "vbgcam models import PATH" in message
    assert files_in(cache) == []
    assert models.verified_path("selfie-landscape") is None


def test_every_route_tried_is_named_in_the_error(server: ModelServer, closed_port_url: str) -> None:
    wrong = server.url("/wrong/landscape.tflite")
    with pytest.raises(ModelError) as caught:
        models.pull(
            urls={"selfie-landscape": [wrong, closed_port_url], "selfie-general": []},
            use_pypi=False,
        )
    lines = str(caught.value).splitlines()
    assert lines[0] == f"could not get selfie-landscape ({LANDSCAPE.filename}):"
    assert lines[1].strip().startswith(f"{wrong}: checksum mismatch (sha256 ")
    assert lines[2].strip() == f"{closed_port_url}: connection refused"
    assert lines[3] == f"could not get selfie-general ({GENERAL.filename}):"
    assert lines[4].strip() == "no route to try"
    assert "'vbgcam models import PATH'" in lines[-1]


def test_next_url_is_tried_when_one_fails(server: ModelServer, closed_port_url: str) -> None:
    good = server.url("/good/landscape.tflite")
    pulled: list[Pulled] = []
    models.pull(
        ["selfie-landscape"],
        urls={"selfie-landscape": [closed_port_url, good]},
        use_pypi=False,
        on_pulled=pulled.append,
    )
    assert [p.route for p in pulled] == [good]


def test_models_fetched_before_a_failure_stay_cached(
    server: ModelServer, closed_port_url: str, cache: Path
) -> None:
    with pytest.raises(ModelError, match="could not get selfie-general"):
        models.pull(
            urls={
                "selfie-landscape": [server.url("/good/landscape.tflite")],
                "selfie-general": [closed_port_url],
            },
            use_pypi=False,
        )
    assert models.verified_path("selfie-landscape") == cache / LANDSCAPE.filename


def test_verified_model_is_not_downloaded_again(
    model_bytes: dict[str, bytes], closed_port_url: str, cache: Path
) -> None:
    cache.mkdir(parents=True)
    (cache / GENERAL.filename).write_bytes(model_bytes[GENERAL.name])
    pulled: list[Pulled] = []
    paths = models.pull(
        ["selfie-general"],
        urls={"selfie-general": [closed_port_url]},
        use_pypi=False,
        on_pulled=pulled.append,
    )
    assert paths == [cache / GENERAL.filename]
    assert pulled == [Pulled("selfie-general", paths[0], "cache")]


def test_pull_replaces_a_corrupt_cached_file(server: ModelServer, cache: Path) -> None:
    cache.mkdir(parents=True)
    (cache / LANDSCAPE.filename).write_bytes(b"half a model")
    models.pull(
        ["selfie-landscape"],
        urls={"selfie-landscape": [server.url("/good/landscape.tflite")]},
        use_pypi=False,
    )
    assert models.verified_path("selfie-landscape") == cache / LANDSCAPE.filename


def test_ctrl_c_during_a_download_leaves_the_old_file_and_no_temporary_file(
    server: ModelServer, cache: Path
) -> None:
    cache.mkdir(parents=True)
    (cache / LANDSCAPE.filename).write_bytes(b"old")

    def interrupt(name: str, done_bytes: int, total_bytes: int | None) -> None:
        if done_bytes > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        models.pull(
            ["selfie-landscape"],
            urls={"selfie-landscape": [server.url("/good/landscape.tflite")]},
            use_pypi=False,
            progress=interrupt,
        )
    assert files_in(cache) == [LANDSCAPE.filename]
    assert (cache / LANDSCAPE.filename).read_bytes() == b"old"


def test_unknown_model_name_suggests_the_closest() -> None:
    with pytest.raises(ModelError, match="did you mean 'selfie-general'"):
        models.pull(["selfie-genral"], use_pypi=False)


# --- pull from PyPI


def test_every_model_comes_from_the_pypi_wheel_when_no_url_works(pypi_pull: PypiPull) -> None:
    assert pypi_pull.paths == [
        pypi_pull.cache / LANDSCAPE.filename,
        pypi_pull.cache / GENERAL.filename,
    ]
    assert [(p.name, p.route) for p in pypi_pull.pulled] == [
        ("selfie-landscape", PYPI_ROUTE),
        ("selfie-general", PYPI_ROUTE),
    ]
    for spec, path in zip(MODELS.values(), pypi_pull.paths, strict=True):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == spec.sha256
    assert files_in(pypi_pull.cache) == sorted(spec.filename for spec in MODELS.values())


def test_pip_failure_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, closed_port_url: str, cache: Path
) -> None:
    # pip reads these from the environment: no index at all, and an empty local folder.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(ModelError) as caught:
        models.pull(["selfie-general"], urls={"selfie-general": [closed_port_url]})
    message = str(caught.value)
    assert f"{closed_port_url}: connection refused" in message
    pip_line = next(line for line in message.splitlines() if PYPI_ROUTE in line)
    assert pip_line.strip().startswith(f"{PYPI_ROUTE}: ERROR: "), "pip's own error, one line"
    assert MEDIAPIPE_REQUIREMENT in pip_line.removeprefix(f"  {PYPI_ROUTE}")
    assert files_in(cache) == []


# --- import


def test_tflite_is_recognised_by_its_checksum_whatever_its_name(
    model_bytes: dict[str, bytes], tmp_path: Path, cache: Path
) -> None:
    copied = tmp_path / "downloaded-on-a-laptop.bin"
    copied.write_bytes(model_bytes[GENERAL.name])
    assert models.import_model(copied) == [cache / GENERAL.filename]
    assert models.verified_path("selfie-general") == cache / GENERAL.filename


def test_unknown_file_is_refused_with_the_expected_files_named(tmp_path: Path, cache: Path) -> None:
    other = tmp_path / "selfie_segmentation.tflite"
    other.write_bytes(b"\x00" * 1000)
    with pytest.raises(ModelError) as caught:
        models.import_model(other)
    message = str(caught.value)
    assert "is not a model vbgcam knows" in message
    assert LANDSCAPE.filename in message
    assert GENERAL.filename in message
    assert "mediapipe wheel" in message
    assert files_in(cache) == []


def test_wheel_import_puts_both_models_in_the_cache(mediapipe_wheel: Path, cache: Path) -> None:
    paths = models.import_model(mediapipe_wheel)
    assert paths == [cache / LANDSCAPE.filename, cache / GENERAL.filename]
    assert [s.status for s in models.describe()] == ["verified", "verified"]


def test_wheel_missing_a_model_imports_nothing(
    model_bytes: dict[str, bytes], tmp_path: Path, cache: Path
) -> None:
    wheel = tmp_path / "mediapipe-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(LANDSCAPE.wheel_member, model_bytes[LANDSCAPE.name])
    with pytest.raises(ModelError, match=f"has no {GENERAL.wheel_member}"):
        models.import_model(wheel)
    assert files_in(cache) == []


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        pytest.param("broken.whl", b"not a zip", "is not a readable wheel", id="not-a-zip"),
        pytest.param("absent.tflite", None, "is not a file", id="missing"),
    ],
)
def test_unreadable_import_is_a_model_error(
    name: str, content: bytes | None, expected: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError, match=expected):
        models.import_model(path)


# --- what is cached


def test_cache_dir_follows_xdg_cache_home_and_ignores_a_relative_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.cache_dir() == tmp_path / "xdg" / "vbgcam" / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert models.cache_dir() == tmp_path / "home" / ".cache" / "vbgcam" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert models.cache_dir() == tmp_path / "home" / ".cache" / "vbgcam" / "models"


def test_corrupt_cached_file_is_reported_and_never_handed_out(
    model_bytes: dict[str, bytes], cache: Path
) -> None:
    cache.mkdir(parents=True)
    good = model_bytes[LANDSCAPE.name]
    (cache / LANDSCAPE.filename).write_bytes(good[: len(good) // 2])
    assert models.describe() == [
        ("selfie-landscape", "corrupt", cache / LANDSCAPE.filename),
        ("selfie-general", "missing", cache / GENERAL.filename),
    ]
    assert models.verified_path("selfie-landscape") is None
    assert models.verified_path("selfie-general") is None


# --- the `vbgcam models` commands


def test_list_shows_each_model_with_its_size_status_and_path(
    model_bytes: dict[str, bytes], cache: Path
) -> None:
    cache.mkdir(parents=True)
    (cache / LANDSCAPE.filename).write_bytes(model_bytes[LANDSCAPE.name])
    (cache / GENERAL.filename).write_bytes(b"damaged")
    result = CliRunner().invoke(models_app, ["list"])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows == [
        ["MODEL", "INPUT", "STATUS", "PATH"],
        ["selfie-landscape", "256x144", "verified", str(cache / LANDSCAPE.filename)],
        ["selfie-general", "256x256", "corrupt", str(cache / GENERAL.filename)],
        ["rvm", "any", "missing", str(cache / "rvm.json"), str(cache / "rvm.bin")],
    ]


def test_path_of_a_missing_model_is_one_line_and_exit_1(cache: Path) -> None:
    result = CliRunner().invoke(models_app, ["path", "selfie-general"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"ModelError: selfie-general is not in the cache ({cache / GENERAL.filename}); "
        "run 'vbgcam models pull selfie-general', or 'vbgcam models import PATH' without internet"
    ]


def test_path_prints_the_cache_folder_or_a_verified_model(
    model_bytes: dict[str, bytes], cache: Path
) -> None:
    assert CliRunner().invoke(models_app, ["path"]).stdout == f"{cache}\n"
    cache.mkdir(parents=True)
    (cache / GENERAL.filename).write_bytes(model_bytes[GENERAL.name])
    result = CliRunner().invoke(models_app, ["path", "selfie-general"])
    assert result.exit_code == 0
    assert result.stdout == f"{cache / GENERAL.filename}\n"


def test_path_of_a_corrupt_model_says_to_pull_again(cache: Path) -> None:
    cache.mkdir(parents=True)
    (cache / GENERAL.filename).write_bytes(b"damaged")
    result = CliRunner().invoke(models_app, ["path", "selfie-general"])
    assert result.exit_code == 1
    assert "fails its checksum" in result.stderr
    assert "vbgcam models pull selfie-general" in result.stderr


def test_pull_command_prints_one_line_per_model_with_its_route(
    server: ModelServer, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    for spec, page in ((LANDSCAPE, "/good/landscape.tflite"), (GENERAL, "/good/general.tflite")):
        monkeypatch.setitem(MODELS, spec.name, dataclasses.replace(spec, urls=(server.url(page),)))
    result = CliRunner().invoke(models_app, ["pull"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"selfie-landscape: saved {cache / LANDSCAPE.filename} "
        f"(from {server.url('/good/landscape.tflite')})",
        f"selfie-general: saved {cache / GENERAL.filename} "
        f"(from {server.url('/good/general.tflite')})",
    ]
    again = CliRunner().invoke(models_app, ["pull", "selfie-general"])
    assert again.stdout == f"selfie-general: already in the cache at {cache / GENERAL.filename}\n"


def test_pull_command_with_an_unknown_name_is_one_line_and_exit_1() -> None:
    result = CliRunner().invoke(models_app, ["pull", "selfie-portrait"])
    assert result.exit_code == 1
    assert result.stderr.startswith("ModelError: unknown model 'selfie-portrait'")
    assert "Traceback" not in result.output


def test_import_command_names_each_model_imported(mediapipe_wheel: Path, cache: Path) -> None:
    result = CliRunner().invoke(models_app, ["import", str(mediapipe_wheel)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"selfie-landscape: imported to {cache / LANDSCAPE.filename}",
        f"selfie-general: imported to {cache / GENERAL.filename}",
    ]


def test_import_command_refuses_an_unknown_file(tmp_path: Path) -> None:
    junk = tmp_path / "model.tflite"
    junk.write_bytes(b"junk")
    result = CliRunner().invoke(models_app, ["import", str(junk)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"ModelError: {junk} is not a model vbgcam knows")
