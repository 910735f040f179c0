"""Model cache: real HTTP on 127.0.0.1, real pip against PyPI, real zip files.

The mechanics (downloads, failures, the cache, imports, the commands) run on generated models:
made-up bytes put in the registry for one test, so they need no network. Only the tests about
the real models fetch the mediapipe wheel from PyPI, once per session (the same route users
fall back to); they are marked ``network`` and skipped without PyPI. Every test has its own
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
from vbgcam.models import MEDIAPIPE_REQUIREMENT, MODELS, ModelSpec, Pulled

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


# --- generated models: made-up bytes in the registry for one test, so the mechanics of
# downloading, caching and importing are tested without PyPI


@dataclasses.dataclass(frozen=True)
class Generated:
    """A model made up for the tests: its registry entry and the bytes that match it."""

    spec: ModelSpec
    data: bytes

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def filename(self) -> str:
        return self.spec.filename


def generated(like: ModelSpec, name: str, size: int) -> Generated:
    """``size`` bytes of deterministic noise, described like the real model ``like`` (its input
    size) under ``name``. No URLs of its own, so only the routes a test names are tried."""
    data = hashlib.shake_256(name.encode()).digest(size)
    spec = dataclasses.replace(
        like,
        name=name,
        filename=f"{name.replace('-', '_')}.tflite",
        sha256=hashlib.sha256(data).hexdigest(),
        urls=(),
        wheel_member=f"mediapipe/modules/generated/{name}.tflite",
    )
    return Generated(spec, data)


# About the real models' 250 KB, so progress arrives in several chunks; odd sizes, so half of
# one is not a round number.
WIDE = generated(LANDSCAPE, "generated-wide", 250_001)
SQUARE = generated(GENERAL, "generated-square", 187_003)


@pytest.fixture
def generated_models(monkeypatch: pytest.MonkeyPatch) -> tuple[Generated, Generated]:
    """``MODELS`` holding only WIDE and SQUARE for one test, so ``pull()``, ``describe()`` and
    the commands with no name never reach for the real models.

    The dict is changed in place, since other modules import it by name, and only through
    monkeypatch, so a test's own ``setitem`` on it is undone first. The real entries are removed
    last to first, so that monkeypatch, undoing in reverse, puts them back in registry order.
    """
    for name in reversed(list(MODELS)):
        monkeypatch.delitem(MODELS, name)
    for made in (WIDE, SQUARE):
        monkeypatch.setitem(MODELS, made.name, made.spec)
    return WIDE, SQUARE


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


WRONG = hashlib.sha512(b"not a model").digest() * (len(WIDE.data) // 64 + 1)


@pytest.fixture(scope="module")
def server() -> Iterator[ModelServer]:
    """Serves the generated models whole, cut in half, without a length, and garbled."""
    httpd = ModelServer(("127.0.0.1", 0), ModelHandler)
    httpd.pages = {
        "/good/wide.tflite": (WIDE.data, "whole"),
        "/good/square.tflite": (SQUARE.data, "whole"),
        "/wrong/wide.tflite": (WRONG[: len(WIDE.data)], "whole"),
        "/half/wide.tflite": (WIDE.data, "half"),
        "/no-length/wide.tflite": (WIDE.data, "no-length"),
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


@pytest.mark.usefixtures("generated_models")
def test_download_is_verified_and_lands_in_the_cache(server: ModelServer, cache: Path) -> None:
    url = server.url("/good/wide.tflite")
    progress: list[tuple[str, int, int | None]] = []
    pulled: list[Pulled] = []
    paths = models.pull(
        [WIDE.name],
        urls={WIDE.name: [url]},
        use_pypi=False,
        progress=lambda *call: progress.append(call),
        on_pulled=pulled.append,
    )
    size = len(WIDE.data)
    assert paths == [cache / WIDE.filename]
    assert paths[0].read_bytes() == WIDE.data
    assert models.verified_path(WIDE.name) == paths[0]
    assert pulled == [Pulled(WIDE.name, paths[0], url)]
    assert progress[0] == (WIDE.name, 0, size)
    assert progress[-1] == (WIDE.name, size, size)
    assert len(progress) > 2, "progress is reported while the bytes arrive"
    assert files_in(cache) == [WIDE.filename]


@pytest.mark.usefixtures("generated_models")
def test_download_without_content_length_is_judged_by_its_checksum(
    server: ModelServer, cache: Path
) -> None:
    url = server.url("/no-length/wide.tflite")
    progress: list[tuple[str, int, int | None]] = []
    models.pull(
        [WIDE.name],
        urls={WIDE.name: [url]},
        use_pypi=False,
        progress=lambda *call: progress.append(call),
    )
    assert models.verified_path(WIDE.name) == cache / WIDE.filename
    assert progress[-1] == (WIDE.name, len(WIDE.data), None)


@pytest.mark.usefixtures("generated_models")
@pytest.mark.parametrize(
    ("route", "reason"),
    [
        pytest.param("/wrong/wide.tflite", "checksum mismatch", id="wrong-bytes"),
        pytest.param(
            "/half/wide.tflite",
            f"truncated: got {len(WIDE.data) // 2} of {len(WIDE.data)} bytes",
            id="closed-halfway",
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
        models.pull([WIDE.name], urls={WIDE.name: [url]}, use_pypi=False, timeout_s=0.5)
    message = str(caught.value)
    assert f"could not get {WIDE.name}" in message
    assert f"{url}: {reason}" in message
    assert "vbgcam models import PATH" in message
    assert files_in(cache) == []
    assert models.verified_path(WIDE.name) is None


@pytest.mark.usefixtures("generated_models")
def test_every_route_tried_is_named_in_the_error(server: ModelServer, closed_port_url: str) -> None:
    wrong = server.url("/wrong/wide.tflite")
    with pytest.raises(ModelError) as caught:
        models.pull(
            urls={WIDE.name: [wrong, closed_port_url], SQUARE.name: []},
            use_pypi=False,
        )
    lines = str(caught.value).splitlines()
    assert lines[0] == f"could not get {WIDE.name} ({WIDE.filename}):"
    assert lines[1].strip().startswith(f"{wrong}: checksum mismatch (sha256 ")
    assert lines[2].strip() == f"{closed_port_url}: connection refused"
    assert lines[3] == f"could not get {SQUARE.name} ({SQUARE.filename}):"
    assert lines[4].strip() == "no route to try"
    assert "'vbgcam models import PATH'" in lines[-1]


@pytest.mark.usefixtures("generated_models")
def test_next_url_is_tried_when_one_fails(
    server: ModelServer, closed_port_url: str, cache: Path
) -> None:
    good = server.url("/good/wide.tflite")
    pulled: list[Pulled] = []
    models.pull(
        [WIDE.name],
        urls={WIDE.name: [closed_port_url, good]},
        use_pypi=False,
        on_pulled=pulled.append,
    )
    assert [p.route for p in pulled] == [good]
    assert models.verified_path(WIDE.name) == cache / WIDE.filename


@pytest.mark.usefixtures("generated_models")
def test_models_fetched_before_a_failure_stay_cached(
    server: ModelServer, closed_port_url: str, cache: Path
) -> None:
    with pytest.raises(ModelError, match=f"could not get {SQUARE.name}"):
        models.pull(
            urls={WIDE.name: [server.url("/good/wide.tflite")], SQUARE.name: [closed_port_url]},
            use_pypi=False,
        )
    assert models.verified_path(WIDE.name) == cache / WIDE.filename
    assert files_in(cache) == [WIDE.filename]


@pytest.mark.usefixtures("generated_models")
def test_verified_model_is_not_downloaded_again(closed_port_url: str, cache: Path) -> None:
    cache.mkdir(parents=True)
    (cache / SQUARE.filename).write_bytes(SQUARE.data)
    pulled: list[Pulled] = []
    paths = models.pull(
        [SQUARE.name],
        urls={SQUARE.name: [closed_port_url]},
        use_pypi=False,
        on_pulled=pulled.append,
    )
    assert paths == [cache / SQUARE.filename]
    assert pulled == [Pulled(SQUARE.name, paths[0], "cache")]


@pytest.mark.usefixtures("generated_models")
def test_pull_replaces_a_corrupt_cached_file(server: ModelServer, cache: Path) -> None:
    cache.mkdir(parents=True)
    (cache / WIDE.filename).write_bytes(WIDE.data[: len(WIDE.data) // 2])
    assert models.verified_path(WIDE.name) is None
    models.pull([WIDE.name], urls={WIDE.name: [server.url("/good/wide.tflite")]}, use_pypi=False)
    assert models.verified_path(WIDE.name) == cache / WIDE.filename
    assert files_in(cache) == [WIDE.filename]


@pytest.mark.usefixtures("generated_models")
def test_ctrl_c_during_a_download_leaves_the_old_file_and_no_temporary_file(
    server: ModelServer, cache: Path
) -> None:
    cache.mkdir(parents=True)
    (cache / WIDE.filename).write_bytes(b"old")
    seen: list[int] = []

    def interrupt(name: str, done_bytes: int, total_bytes: int | None) -> None:
        seen.append(done_bytes)
        if done_bytes > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        models.pull(
            [WIDE.name],
            urls={WIDE.name: [server.url("/good/wide.tflite")]},
            use_pypi=False,
            progress=interrupt,
        )
    assert 0 < seen[-1] < len(WIDE.data), "interrupted halfway, with a temporary file open"
    assert files_in(cache) == [WIDE.filename]
    assert (cache / WIDE.filename).read_bytes() == b"old"


def test_unknown_model_name_suggests_the_closest() -> None:
    with pytest.raises(ModelError, match="did you mean 'selfie-general'"):
        models.pull(["selfie-genral"], use_pypi=False)


# --- pull from PyPI


@pytest.mark.network  # the real wheel, from PyPI
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


@pytest.mark.usefixtures("generated_models")
def test_tflite_is_recognised_by_its_checksum_whatever_its_name(
    tmp_path: Path, cache: Path
) -> None:
    copied = tmp_path / "downloaded-on-a-laptop.bin"
    copied.write_bytes(SQUARE.data)
    assert models.import_model(copied) == [cache / SQUARE.filename]
    assert models.verified_path(SQUARE.name) == cache / SQUARE.filename
    assert files_in(cache) == [SQUARE.filename]


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


@pytest.mark.network  # the real wheel, from PyPI
def test_wheel_import_puts_both_models_in_the_cache(mediapipe_wheel: Path, cache: Path) -> None:
    paths = models.import_model(mediapipe_wheel)
    assert paths == [cache / LANDSCAPE.filename, cache / GENERAL.filename]
    assert [s.status for s in models.describe()] == ["verified", "verified"]


def wheel_of(folder: Path, members: dict[str, bytes]) -> Path:
    """A zip file named like a wheel, holding ``members`` (path inside: bytes)."""
    wheel = folder / "mediapipe-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return wheel


@pytest.mark.usefixtures("generated_models")
def test_wheel_holding_every_model_imports_them_all(tmp_path: Path, cache: Path) -> None:
    wheel = wheel_of(tmp_path, {m.spec.wheel_member: m.data for m in (WIDE, SQUARE)})
    assert models.import_model(wheel) == [cache / WIDE.filename, cache / SQUARE.filename]
    assert [s.status for s in models.describe()] == ["verified", "verified"]


@pytest.mark.usefixtures("generated_models")
def test_wheel_missing_a_model_imports_nothing(tmp_path: Path, cache: Path) -> None:
    wheel = wheel_of(tmp_path, {WIDE.spec.wheel_member: WIDE.data})
    with pytest.raises(ModelError, match=f"has no {SQUARE.spec.wheel_member}"):
        models.import_model(wheel)
    assert files_in(cache) == []


@pytest.mark.usefixtures("generated_models")
def test_wheel_with_a_wrong_model_imports_nothing(tmp_path: Path, cache: Path) -> None:
    garbled = WRONG[: len(SQUARE.data)]
    wheel = wheel_of(
        tmp_path, {WIDE.spec.wheel_member: WIDE.data, SQUARE.spec.wheel_member: garbled}
    )
    with pytest.raises(ModelError, match="checksum mismatch"):
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


@pytest.mark.usefixtures("generated_models")
def test_corrupt_cached_file_is_reported_and_never_handed_out(cache: Path) -> None:
    cache.mkdir(parents=True)
    (cache / WIDE.filename).write_bytes(WIDE.data[: len(WIDE.data) // 2])
    assert models.describe() == [
        (WIDE.name, "corrupt", cache / WIDE.filename),
        (SQUARE.name, "missing", cache / SQUARE.filename),
    ]
    assert models.verified_path(WIDE.name) is None
    assert models.verified_path(SQUARE.name) is None


# --- the `vbgcam models` commands


@pytest.mark.usefixtures("generated_models")
def test_list_shows_each_model_with_its_size_status_and_path(cache: Path) -> None:
    cache.mkdir(parents=True)
    (cache / WIDE.filename).write_bytes(WIDE.data)
    (cache / SQUARE.filename).write_bytes(b"damaged")
    result = CliRunner().invoke(models_app, ["list"])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows == [
        ["MODEL", "INPUT", "STATUS", "PATH"],
        [WIDE.name, "256x144", "verified", str(cache / WIDE.filename)],
        [SQUARE.name, "256x256", "corrupt", str(cache / SQUARE.filename)],
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


@pytest.mark.usefixtures("generated_models")
def test_path_prints_the_cache_folder_or_a_verified_model(cache: Path) -> None:
    assert CliRunner().invoke(models_app, ["path"]).stdout == f"{cache}\n"
    cache.mkdir(parents=True)
    (cache / SQUARE.filename).write_bytes(SQUARE.data)
    result = CliRunner().invoke(models_app, ["path", SQUARE.name])
    assert result.exit_code == 0
    assert result.stdout == f"{cache / SQUARE.filename}\n"


def test_path_of_a_corrupt_model_says_to_pull_again(cache: Path) -> None:
    cache.mkdir(parents=True)
    (cache / GENERAL.filename).write_bytes(b"damaged")
    result = CliRunner().invoke(models_app, ["path", "selfie-general"])
    assert result.exit_code == 1
    assert "fails its checksum" in result.stderr
    assert "vbgcam models pull selfie-general" in result.stderr


@pytest.mark.usefixtures("generated_models")
def test_pull_command_prints_one_line_per_model_with_its_route(
    server: ModelServer, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    for made, page in ((WIDE, "/good/wide.tflite"), (SQUARE, "/good/square.tflite")):
        with_url = dataclasses.replace(made.spec, urls=(server.url(page),))
        monkeypatch.setitem(MODELS, made.name, with_url)
    result = CliRunner().invoke(models_app, ["pull"])
    assert result.exit_code == 0, result.output
    # rvm is skipped (no terminal to ask for consent on), with a notice on stderr.
    assert result.stdout.splitlines() == [
        f"{WIDE.name}: saved {cache / WIDE.filename} (from {server.url('/good/wide.tflite')})",
        f"{SQUARE.name}: saved {cache / SQUARE.filename} "
        f"(from {server.url('/good/square.tflite')})",
    ]
    again = CliRunner().invoke(models_app, ["pull", SQUARE.name])
    assert again.stdout == f"{SQUARE.name}: already in the cache at {cache / SQUARE.filename}\n"


def test_pull_command_with_an_unknown_name_is_one_line_and_exit_1() -> None:
    result = CliRunner().invoke(models_app, ["pull", "selfie-portrait"])
    assert result.exit_code == 1
    assert result.stderr.startswith("ModelError: unknown model 'selfie-portrait'")
    assert "Traceback" not in result.output


@pytest.mark.network  # the real wheel, from PyPI
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
